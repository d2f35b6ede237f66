"""How alert integrations show state in Slack: an alarm's state as an attachment colour, a GuardDuty
finding's severity as a level word or a number."""

from __future__ import annotations

import re

from graph.parsing.event_fields import EventFormatError

COLOR_STATES = {"danger": "ALARM", "good": "OK", "warning": "INSUFFICIENT_DATA"}
GUARDDUTY_LEVELS = {"low": 2.0, "medium": 5.0, "high": 8.0, "critical": 9.0}

_SEVERITY_RE = re.compile(r"\b(low|medium|high|critical)\b|(\d+(?:\.\d+)?)", re.IGNORECASE)


def color_state(colors: list[str]) -> str:
    """The alarm state the first state-coloured attachment shows (``""`` when none does)."""
    return next((COLOR_STATES[color] for color in colors if color in COLOR_STATES), "")


def guardduty_severity(text: str) -> float:
    """GuardDuty's score for a posted severity: a level (``High``) or the number itself."""
    match = _SEVERITY_RE.search(text)
    if match is None:
        raise EventFormatError(f"the GuardDuty post's severity {text[:40]!r} is not a level or a number")
    return GUARDDUTY_LEVELS[match[1].lower()] if match[1] else float(match[2])
