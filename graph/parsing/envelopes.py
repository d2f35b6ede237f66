"""Envelopes removed: SNS HTTP delivery, SNS->Lambda and SQS ``Records``, and JSON strings.

What is left is a list of bare JSON objects (one per alert) for the source parsers to read.
"""

from __future__ import annotations

import json
from typing import Any

from graph.parsing.event_fields import EventFormatError, JsonObject

MAX_ENVELOPE_DEPTH = 6


def _load_json(raw: str | bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        preview = raw[:40] if isinstance(raw, str) else raw[:40].decode("utf-8", "replace")
        raise EventFormatError(f"the {where} is not JSON (starts {preview!r})") from None


def _unwrap_records(records: list[Any], depth: int) -> list[JsonObject]:
    if not records:
        raise EventFormatError("the Records envelope is empty")
    out: list[JsonObject] = []
    for record in records:
        if not isinstance(record, dict):
            raise EventFormatError("a Records entry is not a JSON object")
        if isinstance(record.get("Sns"), dict):
            if "Message" not in record["Sns"]:
                raise EventFormatError("an SNS record has no 'Message'")
            out += unwrap(record["Sns"]["Message"], "SNS message", depth + 1)
        elif "body" in record:
            out += unwrap(record["body"], "SQS message body", depth + 1)
        else:
            raise EventFormatError("a Records entry has neither an 'Sns' message nor an SQS 'body'")
    return out


def unwrap(payload: Any, where: str = "event", depth: int = 0) -> list[JsonObject]:
    """The innermost JSON objects, with every SNS/SQS/string envelope removed."""
    if depth > MAX_ENVELOPE_DEPTH:
        raise EventFormatError(f"the event is wrapped in more than {MAX_ENVELOPE_DEPTH} envelopes")
    if isinstance(payload, str | bytes):
        return unwrap(_load_json(payload, where), where, depth + 1)
    if not isinstance(payload, dict):
        raise EventFormatError(f"an event must be a JSON object, got {type(payload).__name__}")
    records = payload.get("Records")
    if isinstance(records, list):
        return _unwrap_records(records, depth)
    kind = payload.get("Type")
    if kind == "SubscriptionConfirmation":
        raise EventFormatError(
            "this is an SNS subscription confirmation, not an alert; confirm it at SubscribeURL"
        )
    if kind == "Notification" or ("Message" in payload and "TopicArn" in payload):
        if "Message" not in payload:
            raise EventFormatError("the SNS notification has no 'Message'")
        return unwrap(payload["Message"], "SNS message", depth + 1)
    return [payload]
