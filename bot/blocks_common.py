"""The pieces every opsbot message is built from: text objects, blocks, mentions, dates, lists, and the
size limit and notification text of a whole message.

Callers escape anything that came from a person or an alert before it reaches these builders; the
builders cut every text to Slack's limits.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from bot.slack_text import (
    BLOCKS_PER_MESSAGE_MAX,
    HEADER_TEXT_MAX,
    SECTION_FIELD_TEXT_MAX,
    SECTION_TEXT_MAX,
    TEXT_OBJECT_MAX,
    clip_blocks,
    escape,
    truncate,
)
from graph.render import ALERT_KIND_LABELS

JsonDict = dict[str, Any]
Block = dict[str, Any]

TEXT_FALLBACK_LIMIT = 3000  # under Slack's 4,000 recommendation for a message's text
MAX_LIST_ITEMS = 10

SLACK_USER_RE = re.compile(r"[UW][A-Z0-9]{2,20}")

KIND_LABELS = ALERT_KIND_LABELS  # one table, in graph/render.py


# --- message size -------------------------------------------------------------------------------


def fit_message(blocks: list[Block]) -> list[Block]:
    """At most 50 blocks with every text inside Slack's limits. Messages here are built to fit; if one
    ever does not, the approval buttons are kept rather than cut off with the tail."""
    if len(blocks) > BLOCKS_PER_MESSAGE_MAX:
        actions = [block for block in blocks if block.get("type") == "actions"]
        others = [block for block in blocks if block.get("type") != "actions"]
        keep = BLOCKS_PER_MESSAGE_MAX - len(actions) - 1
        blocks = [*others[:keep], context_block(f"…{len(others) - keep} more blocks not shown"), *actions]
    return clip_blocks(blocks)


# --- text objects and blocks --------------------------------------------------------------------


def plain_text(text: str, limit: int) -> JsonDict:
    return {"type": "plain_text", "text": truncate(text, limit) or "—", "emoji": True}


def mrkdwn_text(text: str, limit: int) -> JsonDict:
    return {"type": "mrkdwn", "text": truncate(text, limit) or "—"}


def header_block(text: str) -> Block:
    return {"type": "header", "text": plain_text(text, HEADER_TEXT_MAX)}


def section_block(text: str) -> Block:
    return {"type": "section", "text": mrkdwn_text(text, SECTION_TEXT_MAX)}


def fields_block(*texts: str) -> Block:
    return {"type": "section", "fields": [mrkdwn_text(text, SECTION_FIELD_TEXT_MAX) for text in texts[:10]]}


def context_block(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn_text(text, TEXT_OBJECT_MAX) for text in texts[:10]]}


def divider_block() -> Block:
    return {"type": "divider"}


# --- mrkdwn pieces ------------------------------------------------------------------------------


def user(user_id: Any) -> str:
    """A Slack mention for a real user id; anything else (``cli:alice``, ``opsbot``) escaped as text."""
    text = str(user_id)
    return f"<@{text}>" if SLACK_USER_RE.fullmatch(text) else escape(text)


def users(user_ids: Any) -> str:
    items = [user_ids] if isinstance(user_ids, str) else list(user_ids or [])
    return ", ".join(user(item) for item in items) or "nobody"


def slack_date(epoch: Any) -> str:
    """A Slack date token shown in the reader's time zone, with a UTC ISO fallback."""
    try:
        seconds = int(float(epoch))
        iso = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return escape(str(epoch))
    return f"<!date^{seconds}^{{date_short_pretty}} {{time}}|{iso}>"


def code_span(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`" if text else ""


def bullet_list(items: list[str], limit: int = MAX_LIST_ITEMS) -> str:
    lines = [f"• {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"…and {len(items) - limit} more")
    return "\n".join(lines)


def times_text(count: int) -> str:
    return f"{count} time" if count == 1 else f"{count} times"


def thread_text(pending: JsonDict) -> str:
    """The pending approval's thread id, escaped."""
    return escape(str(pending.get("thread_id", "")))


# --- notification text --------------------------------------------------------------------------


def _texts(block: Block) -> list[str]:
    if block.get("type") not in ("header", "section", "context"):
        return []
    objects = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
    return [
        obj["text"] if obj.get("type") == "mrkdwn" else escape(obj["text"])
        for obj in objects
        if isinstance(obj, dict) and isinstance(obj.get("text"), str)
    ]


def text_fallback(blocks: list[Block]) -> str:
    """The ``text`` of chat.postMessage for these blocks: notifications and screen readers read it.

    It is parsed as mrkdwn, so plain_text parts (headers) are escaped here; mrkdwn parts already are.
    """
    lines = [text for block in blocks for text in _texts(block)]
    return truncate("\n".join(lines), TEXT_FALLBACK_LIMIT) or "opsbot"
