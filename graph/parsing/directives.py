"""Spot instructions hidden in UNTRUSTED text (alert titles and descriptions, log lines).

Alert text is data: it is shown to people, never obeyed.  ``find_directives`` returns the snippets
that read like commands addressed to the bot or to an AI, so the audit can flag or veto a plan
whose only basis is such text.
"""

from __future__ import annotations

import re

from graph.parsing.text import WRITE_ACTIONS, parse_request

MAX_SNIPPET = 120
MAX_TEXT = 20_000  # untrusted text beyond this is not scanned (an alert body is far shorter)
DIRECTIVE_ACTIONS = WRITE_ACTIONS | {"pause", "resume", "rollback"}

_INJECTION_RES = [
    re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>"),
    re.compile(r"(?<![\w-])@?opsbot\b", re.IGNORECASE),
    re.compile(
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)?"
        r"(?:previous\s+|prior\s+|above\s+|earlier\s+|preceding\s+|existing\s+|safety\s+)?"
        r"(?:instructions?|prompts?|rules|directions|guidelines|guardrails|polic(?:y|ies)|approvals?)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\byou\s+are\s+now\b", re.IGNORECASE),
    re.compile(r"\bfrom\s+now\s+on,?\s+you\b", re.IGNORECASE),
    re.compile(r"\bnew\s+instructions?\s*:", re.IGNORECASE),
    re.compile(r"(?:^|[\s\[(<|\"'])(?:system|assistant)\s*:", re.IGNORECASE),
    re.compile(r"<\|?\s*(?:im_start|im_end|system|endoftext)\s*\|?>", re.IGNORECASE),
    re.compile(r"\b(?:bypass|skip)\s+(?:the\s+)?(?:policy|policies|approvals?|audit|guardrails)\b", re.I),
    re.compile(r"\bwithout\s+(?:asking\s+for\s+|waiting\s+for\s+)?(?:any\s+)?approval\b", re.IGNORECASE),
]
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+|\n+")


def _snippet(sentence: str, start: int = 0) -> str:
    """At most MAX_SNIPPET characters of ``sentence``, around ``start`` when it is long."""
    text = re.sub(r"\s+", " ", sentence).strip()
    if len(text) <= MAX_SNIPPET:
        return text
    begin = max(0, min(start - 30, len(text) - MAX_SNIPPET))
    return text[begin : begin + MAX_SNIPPET]


def _sentences(text: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_SPLIT_RE.split(text[:MAX_TEXT]) if part.strip()]


def find_directives(text: str) -> list[str]:
    """Snippets of ``text`` that look like instructions to the bot or an AI; ``[]`` for plain prose."""
    found: list[str] = []
    for sentence in _sentences(text):
        hit = next((m for pattern in _INJECTION_RES if (m := pattern.search(sentence))), None)
        if hit is not None:
            found.append(_snippet(sentence, hit.start()))
        elif parse_request(sentence).action in DIRECTIVE_ACTIONS:
            found.append(_snippet(sentence))
    return list(dict.fromkeys(found))


__all__ = ["DIRECTIVE_ACTIONS", "find_directives"]
