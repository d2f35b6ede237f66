"""An SNS HTTPS delivery on POST /events, from raw body to HTTP reply.

SNS cannot send custom headers, so it carries no ``X-Opsbot-Token``: the message signature is the
authentication, and nothing is read from the body before it verifies.  A ``Notification``'s signed
fields go to the same alert intake as EventBridge posts; confirmations are answered here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from bot.sns import (
    NOTIFICATION,
    SUBSCRIPTION_CONFIRMATION,
    SnsError,
    SnsMalformed,
    SnsRejected,
    SnsTopicNotAllowed,
    SnsUnavailable,
    SnsVerifier,
)

Reply = tuple[HTTPStatus, dict[str, Any]]
MAX_SNS_BODY = 1024 * 1024  # a 256 KB SNS message grows when JSON-escaped into the envelope
log = logging.getLogger("opsbot.sns")

_STATUS: dict[type[SnsError], HTTPStatus] = {
    SnsMalformed: HTTPStatus.BAD_REQUEST,
    SnsRejected: HTTPStatus.UNAUTHORIZED,
    SnsTopicNotAllowed: HTTPStatus.FORBIDDEN,
    SnsUnavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def status_for(error: SnsError) -> HTTPStatus:
    return _STATUS.get(type(error), HTTPStatus.BAD_REQUEST)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def handle_sns_delivery(
    verifier: SnsVerifier,
    header_type: str,
    body: bytes,
    admit: Callable[[dict[str, Any]], Reply],
) -> Reply:
    """Verify, then confirm a subscription, note an unsubscribe, or ``admit`` a notification's alert."""
    try:
        payload = json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"}
    if not isinstance(payload, dict):
        return HTTPStatus.BAD_REQUEST, {"error": "an SNS delivery must be a JSON object"}
    try:
        message = verifier.verify(payload, header_type)
        if message.kind == SUBSCRIPTION_CONFIRMATION:
            verifier.confirm_subscription(message)
    except SnsError as error:
        log.warning("SNS %r refused: %s", header_type[:40], error)
        return status_for(error), {"error": str(error)}
    if message.kind == NOTIFICATION:
        return admit(message.as_event())
    if message.kind == SUBSCRIPTION_CONFIRMATION:
        log.info("confirmed the SNS subscription to %s", message.topic_arn)
        return HTTPStatus.OK, {"confirmed": True, "topic_arn": message.topic_arn}
    log.info("SNS unsubscribed this endpoint from %s (message %s)", message.topic_arn, message.message_id)
    return HTTPStatus.OK, {"unsubscribed": True, "topic_arn": message.topic_arn}
