"""Alert posts in Slack (messages that alert integrations post in a channel) become ``AlertFacts``.

A post is read into its texts, titled fields and links first (attachments and Block Kit alike, in
``slack_post_reading``), then readers are tried in order:

1. embedded JSON: an EventBridge or SNS event in the text, in a ``` block, in attachment text, or
   spread over the fields of terraform-aws-notify-slack's default attachment; the AWS event parsers
   read it (here);
2. terraform-aws-notify-slack attachments: CloudWatch alarm, GuardDuty finding, AWS Health event and
   Security Hub (or Inspector) finding (``notify_slack``);
3. AWS Chatbot (Amazon Q Developer) posts titled ``CloudWatch Alarm | <name> | <region> | Account: <id>``
   or ``GuardDuty Finding | <region> | Account: <id>`` (``chatbot_posts``).

Only named fields (and the fixed positions of the Chatbot title) name resources.  Other text is
untrusted: it is kept in ``description`` for the injection screen and never picks a target.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graph.models import AlertFacts
from graph.parsing.chatbot_posts import chatbot_alert
from graph.parsing.event_fields import EventFormatError, JsonObject, ParsedEvent, read_obj, read_str
from graph.parsing.notify_slack import notify_slack_alert
from graph.parsing.slack_post_reading import SlackPost, read_post

NOT_FROM_INTEGRATION = "this Slack message is not from an alert integration"
NO_READABLE_ALERT = (
    "the Slack post carries no alert opsbot can read (it reads AWS event JSON, terraform-aws-notify-slack "
    "attachments, and AWS Chatbot CloudWatch Alarm and GuardDuty Finding posts)"
)
ALERT_SUBTYPES = frozenset({"", "bot_message"})
EVENT_FIELD_SETS = (frozenset({"source", "detail-type", "detail"}), frozenset({"AlarmName", "NewStateValue"}))


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


# --- Embedded JSON (an AWS event in the post) -----------------------------------------------------


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
    parsed = notify_slack_alert(post) or chatbot_alert(post)
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
