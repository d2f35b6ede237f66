"""A Slack message read into what it says: texts, titled fields, links and attachment colours.

Text, Block Kit blocks and attachments are read alike, with Slack markup removed, so the alert readers
see one shape whatever the integration posted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from graph.parsing.event_fields import JsonObject, read_list, read_obj, read_str

MAX_TEXT = 100_000  # characters of one text read from a post
UNKNOWN_VALUES = frozenset(  # what integrations print for a missing value
    {"", "n/a", "<unknown>", "unknown", "unknown account", "unknown date", "unknown resource",
     "unknown generator", "no id provided", "no title provided", "no description provided"}
)  # fmt: skip

_LINK_RE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_URL_RE = re.compile(r"https?://[^\s<>|`]+")
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_BLOCK_FIELD_RE = re.compile(r"^\*(?P<title>[^*<\n]+?):?\*:?[ \t]*\n?(?P<value>.+)$", re.DOTALL)


def _plain(raw: str) -> str:
    """Slack markup undone: ``<url|label>`` becomes the label, ``<url>`` the url, entities unescaped."""

    def link_text(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if target[:1] in {"@", "#", "!"}:
            return match.group(0)  # mentions stay visible to the injection screen
        return label if label is not None else target

    text = _LINK_RE.sub(link_text, raw)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _field_key(title: str) -> str:
    return re.sub(r"\s+", " ", title.strip(" *_:\t\n")).lower()


def _unquote_code(value: str) -> str:
    """``Example`` for terraform-aws-notify-slack's `Example` (older versions post it bare)."""
    if len(value) >= 2 and value[0] == value[-1] == "`" and not value.startswith("```"):
        return value[1:-1].strip()
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


@dataclass
class SlackPost:
    """What a post says, with Slack markup removed: its texts in reading order and its titled fields."""

    ref: str  # slack:<channel>:<ts>, the post's own id
    texts: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    json_texts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)

    def add_text(self, value: Any) -> None:
        raw = _as_text(value)
        if not raw.strip():
            return
        self.links += [m.group(1) for m in _LINK_RE.finditer(raw) if m.group(1).startswith("http")]
        text = _plain(raw)
        self.texts.append(text)
        self.json_texts += _FENCE_RE.findall(text)
        if text.startswith("{") and text.endswith("}"):
            self.json_texts.append(text)

    def add_field(self, title: Any, value: Any) -> None:
        raw = _as_text(value)
        if not isinstance(title, str) or not title.strip():
            self.add_text(raw)
            return
        text = _unquote_code(_plain(raw))
        self.links += _URL_RE.findall(text)
        self.fields.append((title.strip(), text))

    def value(self, *titles: str) -> str:
        """The first field with one of ``titles`` (matched without case, stars or colons)."""
        wanted = {_field_key(title) for title in titles}
        return next((value for title, value in self.fields if _field_key(title) in wanted), "")

    def known(self, *titles: str) -> str:
        """``value`` without the placeholders integrations print for a missing value."""
        value = self.value(*titles)
        return "" if value.lower() in UNKNOWN_VALUES else value

    def has(self, *titles: str) -> bool:
        keys = {_field_key(title) for title, _value in self.fields}
        return all(_field_key(title) in keys for title in titles)


def _rich_text(element: Any, depth: int = 0) -> str:
    if not isinstance(element, dict) or depth > 8:
        return ""
    kind = read_str(element, "type")
    if kind == "text":
        return _as_text(element.get("text"))
    if kind == "link":
        return _as_text(element.get("text")) or _as_text(element.get("url"))
    if kind == "emoji":
        return f":{read_str(element, 'name')}:"
    if kind in {"user", "channel"}:
        return f"<{'@' if kind == 'user' else '#'}{read_str(element, kind + '_id')}>"
    separator = "\n" if kind == "rich_text_list" else ""
    return separator.join(_rich_text(child, depth + 1) for child in read_list(element, "elements"))


def _read_blocks(post: SlackPost, blocks: list[Any]) -> None:
    for block in blocks:
        kind = read_str(block, "type")
        if kind in {"section", "header"}:
            post.add_text(read_obj(block, "text").get("text"))
            for item in read_list(block, "fields"):
                text = _as_text(item.get("text")) if isinstance(item, dict) else ""
                match = _BLOCK_FIELD_RE.match(text.strip())
                if match:
                    post.add_field(match["title"], match["value"])
                else:
                    post.add_text(text)
        elif kind == "context":
            for element in read_list(block, "elements"):
                if read_str(element, "type") in {"mrkdwn", "plain_text"}:
                    post.add_text(element.get("text"))
        elif kind == "rich_text":
            for element in read_list(block, "elements"):
                text = _rich_text(element)
                preformatted = read_str(element, "type") == "rich_text_preformatted"
                post.add_text(f"```{text}```" if preformatted else text)


def read_post(message: JsonObject) -> SlackPost:
    """The texts, fields and links of a message's text, blocks and attachments."""
    post = SlackPost(ref=f"slack:{read_str(message, 'channel')}:{read_str(message, 'ts')}")
    post.add_text(message.get("text"))
    _read_blocks(post, read_list(message, "blocks"))
    for attachment in read_list(message, "attachments"):
        if not isinstance(attachment, dict):
            continue
        post.colors.append(read_str(attachment, "color").lower())
        for key in ("pretext", "author_name", "title", "text"):
            post.add_text(attachment.get(key))
        if read_str(attachment, "title_link").startswith("http"):
            post.links.append(read_str(attachment, "title_link"))
        for item in read_list(attachment, "fields"):
            if isinstance(item, dict):
                post.add_field(item.get("title"), item.get("value"))
        _read_blocks(post, read_list(attachment, "blocks"))
        post.add_text(attachment.get("fallback"))  # last: usually a copy of the title
    return post
