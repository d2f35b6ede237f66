"""Offline parsers: AWS events and chat text become an ``Intent``; untrusted text is screened."""

from graph.parsing.directives import find_directives
from graph.parsing.events import (
    EventFormatError,
    intent_from_alert,
    intent_from_event,
    parse_event,
    parse_events,
)
from graph.parsing.text import parse_request

__all__ = [
    "EventFormatError",
    "find_directives",
    "intent_from_alert",
    "intent_from_event",
    "parse_event",
    "parse_events",
    "parse_request",
]
