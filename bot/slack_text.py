"""Slack's size limits, and pure helpers that keep messages and Block Kit payloads inside them.

Every limit counts characters. Sources, checked against Slack's reference pages:
  * message text: api.slack.com/changelog/2018-04-truncating-really-long-messages ("we truncate
    messages containing more than 40,000 characters"; "previously, we asked you only to keep
    messages under 4,000") and docs.slack.dev/reference/methods/chat.postMessage.
  * blocks: docs.slack.dev/reference/block-kit/blocks ("up to 50 blocks in each message").
  * per block: docs.slack.dev/reference/block-kit/blocks/{section,header,context,actions,markdown}-block.
  * elements and objects: docs.slack.dev/reference/block-kit/block-elements/button-element and
    docs.slack.dev/reference/block-kit/composition-objects (text object, confirmation dialog).
"""

from __future__ import annotations

import copy
from typing import Any

# chat.postMessage `text`: longer text is truncated by Slack (with a `message_truncated` warning).
MESSAGE_TEXT_MAX = 40_000
# chat.postMessage: Slack's recommendation for a readable message (and older clients split beyond it).
MESSAGE_TEXT_RECOMMENDED = 4_000
# Our default chunk for split_text: under the recommendation, with room for a mention or prefix.
SPLIT_CHUNK_DEFAULT = 3_900

# Blocks per message (modals and Home tabs allow 100).
BLOCKS_PER_MESSAGE_MAX = 50
# Section block: `text` 3,000; `fields` at most 10 items of 2,000 each.
SECTION_TEXT_MAX = 3_000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2_000
# Header block: plain_text `text`, 150.
HEADER_TEXT_MAX = 150
# Context block: at most 10 elements (images and text objects).
CONTEXT_ELEMENTS_MAX = 10
# Text object (any `text` not limited more tightly above, e.g. a context element): 1 to 3,000.
TEXT_OBJECT_MAX = 3_000
# Markdown block: `text` up to 12,000.
MARKDOWN_BLOCK_TEXT_MAX = 12_000
# Actions block: at most 25 elements.
ACTIONS_ELEMENTS_MAX = 25
# Button element: `text` 75, `value` 2,000, `url` 3,000, `action_id` 255 (block_id is 255 too).
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2_000
BUTTON_URL_MAX = 3_000
ACTION_ID_MAX = 255
BLOCK_ID_MAX = 255
# Confirmation dialog object: `title` 100, `text` 300, `confirm` and `deny` 30.
CONFIRM_TITLE_MAX = 100
CONFIRM_TEXT_MAX = 300
CONFIRM_BUTTON_MAX = 30

ELLIPSIS = "…"
FENCE = "```"
_FENCE_OPEN = FENCE + "\n"
_FENCE_CLOSE = "\n" + FENCE
_MIN_SPLIT_LIMIT = 16


def escape(text: str) -> str:
    """Escape Slack's mrkdwn control characters, so untrusted text cannot form ``<!channel>``,
    ``<@U…>`` mentions or ``<url|label>`` links. Slack decodes only these three entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _entity_start(text: str, position: int) -> int | None:
    """Where the ``<…>`` entity (mention, link) that ``position`` falls strictly inside starts."""
    opener = text.rfind("<", 0, position)
    if opener == -1 or text.find(">", opener, position) != -1:
        return None
    close = text.find(">", position)
    if close == -1 or "\n" in text[opener:close]:
        return None
    return opener


def _safe_boundary(text: str, cut: int) -> int:
    """Move ``cut`` back so it does not split a ``<…>`` entity, an ``&…;`` escape or a backtick run.

    Returns ``cut`` unchanged when moving back would leave nothing.
    """
    position = cut
    opener = _entity_start(text, position)
    if opener:  # at 0 there is nothing to keep before it
        position = opener
    amp = text.rfind("&", 0, position)
    if amp > 0 and position - amp <= 6 and ";" not in text[amp:position]:
        semicolon = text.find(";", position)
        if semicolon != -1 and semicolon - amp <= 6:
            position = amp
    run_start = position
    while 0 < run_start < len(text) and text[run_start - 1] == "`" and text[run_start] == "`":
        run_start -= 1
    return run_start if run_start > 0 else position


def _ends_inside_code(body: str, started_inside: bool) -> bool:
    return started_inside != (body.count(FENCE) % 2 == 1)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending with "…" when cut.

    The cut never splits an entity such as ``<@U1>`` or ``&amp;``, and a code block left open by
    the cut is closed before the ellipsis (when the limit leaves room for it).
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    head = text[: _safe_boundary(text, limit - 1)].rstrip()
    if not _ends_inside_code(head, False):
        return head + ELLIPSIS
    closing = _FENCE_CLOSE + "\n" + ELLIPSIS
    if limit <= len(closing):
        return head + ELLIPSIS
    head = text[: _safe_boundary(text, limit - len(closing))].rstrip()
    if _ends_inside_code(head, False):
        return head + closing
    return head + ELLIPSIS


def _choose_cut(text: str, room: int) -> tuple[int, int]:
    """Where to end a chunk of at most ``room`` characters, and how many separator characters
    to drop after it. Prefers paragraph, then line, then word breaks in the second half of the
    window; then the latest break of any kind; then a hard cut."""
    window = text[: room + 1]
    found: list[tuple[int, int]] = []
    for separator in ("\n\n", "\n", " "):
        end = len(window)
        position = window.rfind(separator, 0, end)
        while position > 0 and _entity_start(text, position) is not None:
            end = position
            position = window.rfind(separator, 0, end)
        if position <= 0:
            continue
        skip = len(separator)
        if separator == "\n\n":
            while position + skip < len(text) and text[position + skip] == "\n":
                skip += 1
        if position >= room // 2:
            return position, skip
        found.append((position, skip))
    if found:
        return max(found)
    return _safe_boundary(text, room), 0


def split_text(text: str, limit: int = SPLIT_CHUNK_DEFAULT) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` characters for separate messages.

    Splits on paragraph, then line, then word boundaries (a hard cut only for a longer word).
    A chunk that ends inside a ``` code block closes it, and the next chunk reopens it.
    Whitespace-only text gives no chunks; text that fits is returned unchanged.
    """
    if limit < _MIN_SPLIT_LIMIT:
        raise ValueError(f"limit must be at least {_MIN_SPLIT_LIMIT} characters, got {limit}")
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    rest = text
    inside = False
    while rest.strip():
        if inside and rest.lstrip("\n").startswith(FENCE):
            # The previous chunk already closed this block; its own closing fence is redundant.
            rest = rest.lstrip("\n")[len(FENCE) :]
            inside = False
            continue
        opener = _FENCE_OPEN if inside else ""
        room = limit - len(opener)
        if len(rest) <= room:
            chunks.append(opener + rest.rstrip())
            break
        cut, skip = _choose_cut(rest, room)
        ends_inside = _ends_inside_code(rest[:cut], inside)
        if ends_inside:
            cut, skip = _choose_cut(rest, room - len(_FENCE_CLOSE))
            ends_inside = _ends_inside_code(rest[:cut], inside)
        body = rest[:cut].rstrip()
        if ends_inside and body.endswith(FENCE):
            # The block opens right at the cut: start it in the next chunk instead, or, when
            # nothing comes before it, cut inside the code rather than send an empty block.
            fence_at = body.rfind(FENCE)
            in_code_cut = _safe_boundary(rest, room - len(_FENCE_CLOSE))
            cut, skip = (fence_at if rest[:fence_at].strip() else in_code_cut), 0
            body = rest[:cut].rstrip()
            ends_inside = _ends_inside_code(rest[:cut], inside)
        if body:
            chunks.append(opener + body + (_FENCE_CLOSE if ends_inside else ""))
        rest = rest[cut + skip :]
        inside = ends_inside
    return chunks


def _clip_text_object(obj: Any, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = truncate(obj["text"], limit)


def _more_note(hidden: int) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": f"{ELLIPSIS} {hidden} more not shown"}


def _clip_element(element: Any) -> None:
    if not isinstance(element, dict):
        return
    kind = element.get("type")
    if kind == "button":
        _clip_text_object(element.get("text"), BUTTON_TEXT_MAX)
        value = element.get("value")
        if isinstance(value, str) and len(value) > BUTTON_VALUE_MAX:
            raise ValueError(
                f"a button value is {len(value)} characters and Slack allows {BUTTON_VALUE_MAX}: "
                "put a reference in it, not the data"
            )
    elif kind in ("mrkdwn", "plain_text"):
        _clip_text_object(element, TEXT_OBJECT_MAX)
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        _clip_text_object(confirm.get("title"), CONFIRM_TITLE_MAX)
        _clip_text_object(confirm.get("text"), CONFIRM_TEXT_MAX)
        _clip_text_object(confirm.get("confirm"), CONFIRM_BUTTON_MAX)
        _clip_text_object(confirm.get("deny"), CONFIRM_BUTTON_MAX)


def _clip_section(block: dict[str, Any]) -> None:
    _clip_text_object(block.get("text"), SECTION_TEXT_MAX)
    fields = block.get("fields")
    if isinstance(fields, list):
        if len(fields) > SECTION_FIELDS_MAX:
            hidden = len(fields) - (SECTION_FIELDS_MAX - 1)
            fields[:] = [*fields[: SECTION_FIELDS_MAX - 1], _more_note(hidden)]
        for item in fields:
            _clip_text_object(item, SECTION_FIELD_TEXT_MAX)
    _clip_element(block.get("accessory"))


def _clip_context(block: dict[str, Any]) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list):
        return
    if len(elements) > CONTEXT_ELEMENTS_MAX:
        hidden = len(elements) - (CONTEXT_ELEMENTS_MAX - 1)
        elements[:] = [*elements[: CONTEXT_ELEMENTS_MAX - 1], _more_note(hidden)]
    for element in elements:
        _clip_element(element)


def _clip_actions(block: dict[str, Any]) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list):
        return
    del elements[ACTIONS_ELEMENTS_MAX:]
    for element in elements:
        _clip_element(element)


def _clip_block(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "section":
        _clip_section(block)
    elif kind == "header":
        _clip_text_object(block.get("text"), HEADER_TEXT_MAX)
    elif kind == "context":
        _clip_context(block)
    elif kind == "actions":
        _clip_actions(block)
    elif kind == "markdown":
        if isinstance(block.get("text"), str):
            block["text"] = truncate(block["text"], MARKDOWN_BLOCK_TEXT_MAX)
    else:
        _clip_text_object(block.get("text"), TEXT_OBJECT_MAX)
    return block


def clip_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of ``blocks`` that fits Slack's limits: every text clipped (with "…") to its block
    type's limit, over-long element lists cut with a "… N more not shown" entry, and at most
    50 blocks, the last of which then says how many more were not shown.

    Button values and ids are data, not text: an over-long value raises ValueError.
    """
    clipped = [_clip_block(copy.deepcopy(block)) for block in blocks]
    if len(clipped) > BLOCKS_PER_MESSAGE_MAX:
        hidden = len(clipped) - (BLOCKS_PER_MESSAGE_MAX - 1)
        note = {"type": "context", "elements": [_more_note(hidden)]}
        clipped = [*clipped[: BLOCKS_PER_MESSAGE_MAX - 1], note]
    return clipped
