"""Offline parsers: AWS events, Slack alert posts and chat text become an ``Intent``.

Untrusted text is screened.
"""

from graph.parsing.directives import find_directives
from graph.parsing.events import (
    EventFormatError,
    intent_from_alert,
    intent_from_event,
    parse_event,
    parse_events,
)
from graph.parsing.slack_posts import alert_from_post, is_alert_post
from graph.parsing.text import parse_request

__all__ = [
    "EventFormatError",
    "alert_from_post",
    "find_directives",
    "intent_from_alert",
    "intent_from_event",
    "is_alert_post",
    "parse_event",
    "parse_events",
    "parse_request",
]
