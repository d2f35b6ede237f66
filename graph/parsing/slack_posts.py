"""Alert posts in Slack (messages that alert integrations post in a channel) become ``AlertFacts``.

A post is read into its texts, titled fields and links first (attachments and Block Kit alike), then
readers are tried in order:

1. embedded JSON: an EventBridge or SNS event in the text, in a ``` block, in attachment text, or
   spread over the fields of terraform-aws-notify-slack's default attachment; the AWS event parsers
   read it;
2. terraform-aws-notify-slack attachments: CloudWatch alarm, GuardDuty finding, AWS Health event and
   Security Hub (or Inspector) finding;
3. AWS Chatbot (Amazon Q Developer) posts titled ``CloudWatch Alarm | <name> | <region> | Account: <id>``
   or ``GuardDuty Finding | <region> | Account: <id>``.

Only named fields (and the fixed positions of the Chatbot title) name resources.  Other text is
untrusted: it is kept in ``description`` for the injection screen and never picks a target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from graph.models import AlertFacts
from graph.parsing.alert_resources import ResourceNames
from graph.parsing.aws_state_events import HEALTH_SEVERITY
from graph.parsing.cloudwatch import AlarmReport, alarm_facts
from graph.parsing.event_fields import (
    EventFormatError,
    JsonObject,
    ParsedEvent,
    pick_region,
    read_list,
    read_obj,
    read_str,
)
from graph.parsing.guardduty import guardduty_finding
from graph.parsing.securityhub import security_hub_finding

NOT_FROM_INTEGRATION = "this Slack message is not from an alert integration"
NO_READABLE_ALERT = (
    "the Slack post carries no alert opsbot can read (it reads AWS event JSON, terraform-aws-notify-slack "
    "attachments, and AWS Chatbot CloudWatch Alarm and GuardDuty Finding posts)"
)
MAX_TEXT = 100_000  # characters of one text read from a post
ALERT_SUBTYPES = frozenset({"", "bot_message"})
GUARDDUTY_LEVELS = {"low": 2.0, "medium": 5.0, "high": 8.0, "critical": 9.0}
COLOR_STATES = {"danger": "ALARM", "good": "OK", "warning": "INSUFFICIENT_DATA"}
STATE_MARKS = (
    ("OK", (":white_check_mark:", "\u2705", ":large_green_circle:", "\U0001f7e2")),
    ("INSUFFICIENT_DATA", (":warning:", "\u26a0", ":grey_question:", "\u2754")),
    ("ALARM", (":rotating_light:", "\U0001f6a8", ":x:", "\u274c", ":red_circle:", "\U0001f534")),
)
EVENT_FIELD_SETS = (frozenset({"source", "detail-type", "detail"}), frozenset({"AlarmName", "NewStateValue"}))
UNKNOWN_VALUES = frozenset(  # what integrations print for a missing value
    {"", "n/a", "<unknown>", "unknown", "unknown account", "unknown date", "unknown resource",
     "unknown generator", "no id provided", "no title provided", "no description provided"}
)  # fmt: skip

_LINK_RE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_URL_RE = re.compile(r"https?://[^\s<>|`]+")
_FENCE_RE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_BLOCK_FIELD_RE = re.compile(r"^\*(?P<title>[^*<\n]+?):?\*:?[ \t]*\n?(?P<value>.+)$", re.DOTALL)
_CHATBOT_RE = re.compile(
    r"(?P<service>CloudWatch Alarm|GuardDuty Finding)\s*\|(?P<middle>.*)\|\s*Account:\s*(?P<account>\d{12})\b"
)
_CHATBOT_OTHER_RE = re.compile(r"(?P<service>[A-Z][A-Za-z0-9 ]{2,40}?)\s*\|.*\|\s*Account:\s*\d{12}\b")
_STATE_WORD_RE = re.compile(r"\b(INSUFFICIENT_DATA|ALARM|OK)\b")
_SEVERITY_RE = re.compile(r"\b(low|medium|high|critical)\b|(\d+(?:\.\d+)?)", re.IGNORECASE)


# --- Which Slack events are alert posts ------------------------------------------------------------


def message_event(payload: JsonObject) -> JsonObject:
    """The message event itself: the inner ``event`` of an Events API body (or Socket Mode envelope)."""
    if read_str(payload, "type") == "events_api" and isinstance(payload.get("payload"), dict):
        payload = payload["payload"]
    inner = payload.get("event")
    if read_str(payload, "type") == "event_callback" and isinstance(inner, dict):
        return inner
    return payload


def is_slack_event(payload: JsonObject) -> bool:
    """Shaped like a Slack Events API body or a bare Slack message event (no AWS event looks like it)."""
    return read_str(payload, "type") in {"event_callback", "events_api", "message", "app_mention"}


def _is_thread_reply(message: JsonObject) -> bool:
    thread_ts = read_str(message, "thread_ts")
    return bool(thread_ts) and thread_ts != read_str(message, "ts")


def _bot_ids(message: JsonObject) -> set[str]:
    return {read_str(message, "bot_id"), read_str(read_obj(message, "bot_profile"), "id")} - {""}


def is_alert_post(event: JsonObject, own_bot_id: str | None = None) -> bool:
    """A channel message posted by an integration (not a person, not ``own_bot_id``, not an edit,
    deletion or thread reply).  ``event`` is the Events API body or its inner ``event``."""
    message = message_event(event)
    if read_str(message, "type") != "message" or read_str(message, "subtype") not in ALERT_SUBTYPES:
        return False
    if _is_thread_reply(message):
        return False
    bot_ids = _bot_ids(message)
    subtype = read_str(message, "subtype")
    from_integration = subtype == "bot_message" or bool(bot_ids) or "bot_profile" in message
    return from_integration and not (own_bot_id and own_bot_id in bot_ids)


def _not_alert_reason(message: JsonObject) -> str:
    kind = read_str(message, "type")
    if kind != "message":
        return f"this Slack event ({kind or 'no type'}) is not a message from an alert integration"
    subtype = read_str(message, "subtype")
    if subtype not in ALERT_SUBTYPES:
        return f"{NOT_FROM_INTEGRATION} (its subtype is {subtype})"
    if _is_thread_reply(message):
        return f"{NOT_FROM_INTEGRATION} (it is a thread reply)"
    return f"{NOT_FROM_INTEGRATION} (a person posted it)"


# --- Reading a post: texts, fields, links ----------------------------------------------------------


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


def _link_params(url: str) -> dict[str, str]:
    """Query parameters of ``url``, including those of a ``#/path?query`` fragment (AWS console links)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return {}
    params: dict[str, str] = {}
    for query in (parts.query, parts.fragment.partition("?")[2]):
        for key, values in parse_qs(query).items():
            params.setdefault(key, values[0])
    return params


# --- 1. Embedded JSON ------------------------------------------------------------------------------


def _json_value(text: str) -> Any:
    if text[:1] in {"{", "["}:
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return text
    return text


def _embedded_payloads(post: SlackPost) -> Iterator[JsonObject]:
    titles = {title for title, _value in post.fields}
    if any(keys <= titles for keys in EVENT_FIELD_SETS):
        yield {title: _json_value(value) for title, value in reversed(post.fields)}
    for text in post.json_texts:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict) and not is_slack_event(data):
            yield data


def _embedded_events(post: SlackPost) -> tuple[list[ParsedEvent], EventFormatError | None]:
    from graph.parsing.events import parse_events_detailed  # events.py imports this module

    first_error: EventFormatError | None = None
    for payload in _embedded_payloads(post):
        try:
            return parse_events_detailed(payload), None
        except EventFormatError as error:
            first_error = first_error or error
    return [], first_error


# --- 2. terraform-aws-notify-slack attachments -----------------------------------------------------


def _text_after(post: SlackPost, prefixes: tuple[str, ...]) -> str:
    for text in post.texts:
        for prefix in prefixes:
            if text.startswith(prefix):
                return text[len(prefix) :].strip()
    return ""


def _guardduty_severity(text: str) -> float:
    match = _SEVERITY_RE.search(text)
    if match is None:
        raise EventFormatError(f"the GuardDuty post's severity {text[:40]!r} is not a level or a number")
    return GUARDDUTY_LEVELS[match[1].lower()] if match[1] else float(match[2])


def _guardduty_finding_id(links: list[str]) -> str:
    for link in links:
        if "guardduty" not in link:
            continue
        params = _link_params(link)
        search = params.get("search", "")
        finding_id = params.get("fId", "") or (search[3:] if search.lower().startswith("id=") else "")
        if finding_id:
            return finding_id
    return ""


def _notify_slack_alarm(post: SlackPost) -> ParsedEvent:
    if not post.value("Alarm Name"):
        raise EventFormatError("the CloudWatch alarm post has an empty 'Alarm Name'")
    colors = [COLOR_STATES[color] for color in post.colors if color in COLOR_STATES]
    state = post.known("Current State") or (colors[0] if colors else "")
    if not state:
        raise EventFormatError("the CloudWatch alarm post shows no 'Current State'")
    alarm = AlarmReport(
        name=post.value("Alarm Name"),
        state=state,
        account="",  # terraform-aws-notify-slack does not post the account
        region=pick_region(_link_params(post.value("Link to Alarm")).get("region", "")),
        arns=[],
        description=post.value("Alarm Description"),
        reason=post.value("Alarm reason"),
        metrics=[],
        raw_id=post.ref,
    )
    return alarm_facts(alarm)


def _notify_slack_guardduty(post: SlackPost) -> ParsedEvent:
    link = post.value("Link to Finding")
    finding_id = _guardduty_finding_id([link])
    if not finding_id:
        raise EventFormatError("the GuardDuty post's 'Link to Finding' names no finding id")
    finding = {
        "id": finding_id,
        "type": post.value("Finding Type"),
        "severity": _guardduty_severity(post.value("Severity")),
        "accountId": post.known("Account ID"),
        "region": _link_params(link).get("region", ""),
        "title": _text_after(post, ("GuardDuty Finding: ", "AWS GuardDuty Finding - ")),
        "description": post.value("Description"),
    }
    return guardduty_finding(finding, {})


def _notify_slack_health(post: SlackPost) -> ParsedEvent:
    code = post.value("Code")
    if not code:
        raise EventFormatError("the AWS Health post has an empty 'Code'")
    link_region = _link_params(post.value("Link to Event")).get("region", "")
    region = pick_region(post.known("Affected Region"), link_region)
    resources = [item.strip() for item in post.known("Affected Resources").split(",")]
    resources = sorted({item for item in resources if len(item) > 2 and item.lower() not in UNKNOWN_VALUES})
    names = ResourceNames.empty()
    for resource in resources:
        names.add(resource)
    start = post.known("Start Time")
    alert = AlertFacts(
        kind="health",
        fingerprint=f"health::{region}:{code}:{start}:{','.join(resources)}",
        title=f"AWS Health {post.known('Affected Service') or 'event'} {code}",
        description=post.value("Event Description"),
        severity=HEALTH_SEVERITY,
        finding_type=code,
        region=region,
        raw_id=post.ref,
        **names.fields(),
    )
    return ParsedEvent(alert)


def _security_hub_finding_id(url: str) -> str:
    search = unquote(_link_params(url).get("search", ""))
    _before, marker, finding_id = search.partition("EQUALS\\:")
    return finding_id.strip() if marker else search.removeprefix("Id=").strip()


def _notify_slack_security_hub(post: SlackPost) -> ParsedEvent:
    """Rebuilt as the ASFF fields the post shows, so the Security Hub parser decides as it always does."""
    url = post.value("Finding Url")
    finding_id = _security_hub_finding_id(url)
    if not finding_id:
        raise EventFormatError("the Security Hub post's 'Finding Url' names no finding id")
    resource = post.known("Affected Resource")
    finding = {
        "Id": finding_id,
        "Title": post.known("Title"),
        "Description": post.known("Description"),
        "Severity": {"Label": post.value("Severity")},
        "Compliance": {"Status": post.value("Compliance Status")},
        "ProductFields": {"ControlId": post.known("Control ID")},
        "GeneratorId": post.known("Generator"),
        "Resources": [{"Id": resource}] if resource else [],
        "Region": _link_params(url).get("region", ""),
        "AwsAccountId": post.known("Account ID"),
    }
    return security_hub_finding(finding, {})


def _notify_slack_alert(post: SlackPost) -> ParsedEvent | None:
    if post.has("Alarm Name") and (post.has("Current State") or post.has("Alarm reason")):
        return _notify_slack_alarm(post)
    if post.has("Finding Type", "Link to Finding"):
        return _notify_slack_guardduty(post)
    if post.has("Affected Service", "Code"):
        return _notify_slack_health(post)
    if post.has("Compliance Status", "Finding Url"):
        return _notify_slack_security_hub(post)
    return None


# --- 3. AWS Chatbot posts --------------------------------------------------------------------------


def _chatbot_state(prefix: str, colors: list[str]) -> str:
    for state, marks in STATE_MARKS:
        if any(mark in prefix for mark in marks):
            return state
    word = _STATE_WORD_RE.search(prefix.upper())
    if word:
        return word[1]
    return next((COLOR_STATES[color] for color in colors if color in COLOR_STATES), "")


def _chatbot_alarm(post: SlackPost, title: str, match: re.Match[str], body: list[str]) -> ParsedEvent:
    name, _bar, region = match["middle"].rpartition("|")
    if not name.strip():
        raise EventFormatError("the AWS Chatbot alarm post names no alarm")
    state = _chatbot_state(title[: match.start()], post.colors)
    if not state:
        raise EventFormatError("the AWS Chatbot alarm post does not show the alarm's state")
    alarm = AlarmReport(
        name=name.strip(),
        state=state,
        account=match["account"],
        region=pick_region(region.strip()),
        arns=[],
        description=post.value("Alarm Description"),
        reason="\n".join(body),
        metrics=[],
        raw_id=post.ref,
    )
    return alarm_facts(alarm)


def _chatbot_guardduty(post: SlackPost, match: re.Match[str], body: list[str]) -> ParsedEvent:
    finding_id = post.known("Finding ID") or _guardduty_finding_id(post.links)
    if not finding_id:
        raise EventFormatError("the AWS Chatbot GuardDuty post names no finding id")
    severity = post.value("Severity")
    if not severity:
        raise EventFormatError("the AWS Chatbot GuardDuty post shows no severity")
    finding = {
        "id": finding_id,
        "type": post.value("Finding Type", "Type"),
        "severity": _guardduty_severity(severity),
        "accountId": match["account"],
        "region": match["middle"].strip(),
        "title": body[0] if body else "",
        "description": "\n".join(body),
    }
    return guardduty_finding(finding, {})


def _chatbot_alert(post: SlackPost) -> ParsedEvent | None:
    for text in post.texts:
        match = _CHATBOT_RE.search(text)
        if match is None:
            continue
        body = [other for other in post.texts if not _CHATBOT_RE.search(other)]
        if match["service"] == "CloudWatch Alarm":
            return _chatbot_alarm(post, text, match, body)
        return _chatbot_guardduty(post, match, body)
    for text in post.texts:
        other = _CHATBOT_OTHER_RE.search(text)
        if other:
            raise EventFormatError(
                f"opsbot does not read AWS Chatbot '{other['service']}' posts "
                "(it reads CloudWatch Alarm and GuardDuty Finding posts)"
            )
    return None


# --- Entry points ----------------------------------------------------------------------------------


def post_events(payload: JsonObject) -> list[ParsedEvent]:
    """Every alert in a Slack alert post; ``EventFormatError`` for any other Slack event."""
    message = message_event(payload)
    if not is_alert_post(message):
        raise EventFormatError(_not_alert_reason(message))
    post = read_post(message)
    embedded, embedded_error = _embedded_events(post)
    if embedded:
        return embedded
    parsed = _notify_slack_alert(post) or _chatbot_alert(post)
    if parsed is not None:
        return [parsed]
    if embedded_error is not None:
        raise EventFormatError(f"the Slack post carries an event opsbot cannot read: {embedded_error}")
    raise EventFormatError(NO_READABLE_ALERT)


def alert_from_post(event: JsonObject) -> AlertFacts:
    """The (first) alert in a Slack alert post, given as the Events API body or its inner ``event``."""
    if not isinstance(event, dict):
        raise EventFormatError(f"a Slack event must be a JSON object, got {type(event).__name__}")
    try:
        return post_events(event)[0].alert
    except EventFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as error:
        raise EventFormatError(f"the Slack post is malformed ({type(error).__name__}: {error})") from None


__all__ = [
    "NOT_FROM_INTEGRATION",
    "SlackPost",
    "alert_from_post",
    "is_alert_post",
    "is_slack_event",
    "message_event",
    "post_events",
    "read_post",
]
