"""Slack message text as people read it: mentions, link wrappers, markup and emoji codes removed."""

from __future__ import annotations

import html
import re

_SLACK_USER_RE = re.compile(r"<@[UWB][A-Z0-9]+(?:\|[^>]*)?>")
_SLACK_SPECIAL_RE = re.compile(r"<![^>]*>")
_SLACK_CHANNEL_RE = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_SLACK_LINK_RE = re.compile(r"<([^<>|\s]+)(?:\|([^<>]*))?>")
_EMOJI_RE = re.compile(r"(?<!\w):[a-z0-9_+\-]+:(?!\w)")
_ITALIC_RE = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")
_QUOTE_LINE_RE = re.compile(r"^>\s?", re.MULTILINE)
_UNICODE_FIXES = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2192": "->", "\u00a0": " "}


def clean_chat_text(text: str) -> str:
    """Slack markup removed: mentions, link wrappers, code/bold/strike markers, emoji codes."""
    out = html.unescape(text)
    for bad, good in _UNICODE_FIXES.items():
        out = out.replace(bad, good)
    out = _SLACK_USER_RE.sub(" ", out)
    out = _SLACK_SPECIAL_RE.sub(" ", out)
    out = _SLACK_CHANNEL_RE.sub(lambda m: m.group(1) or " ", out)
    out = _SLACK_LINK_RE.sub(lambda m: m.group(2) or m.group(1), out)
    out = _QUOTE_LINE_RE.sub("", out)
    out = out.replace("`", " ").replace("*", "").replace("~", "")
    out = _ITALIC_RE.sub(r"\1", out)
    out = _EMOJI_RE.sub(" ", out)
    out = re.sub(r"\s+", " ", out).strip()
    return re.sub(r"[\s.!?,;:]+$", "", out)
