"""The Bolt app: signature checks (Bolt's, with its 5-minute replay window), retry dedup, listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.conversation import SlackBridge
from bot.listeners import actions, commands, mentions, messages, reactions
from bot.threads import SlackThreads
from runtime.store import StoreUnavailable

log = logging.getLogger("opsbot.slack")


def drop_retries(threads: SlackThreads) -> Callable[..., BoltResponse | None]:
    """Slack redelivers an event it thinks we missed; each ``event_id`` is handled once, by any replica."""

    def middleware(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id")
        try:
            repeat = isinstance(event_id, str) and bool(event_id) and not threads.claim_event(event_id)
        except StoreUnavailable as error:  # the handler fails closed and says so in the thread
            log.error("cannot check %s for a repeat delivery: %s", event_id, error)
            repeat = False
        if repeat:
            log.info("dropped a repeat delivery of %s", event_id)
            return BoltResponse(status=200, body="")
        next()
        return None

    return middleware


def build_app(bridge: SlackBridge, client: WebClient, signing_secret: str, alert_channels: set[str]) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    app.middleware(drop_retries(bridge.threads))
    mentions.register(app, bridge)
    messages.register(app, bridge, alert_channels)
    actions.register(app, bridge)
    commands.register(app, bridge)
    reactions.register(app, bridge)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack request failed: %s (%s)", error, body.get("type", "unknown type"))

    return app


def dispatch(
    app: App, body: bytes, headers: dict[str, str], query: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """Hand one HTTP request to Bolt; used by `opsbot serve` for POST /slack/events."""
    request = BoltRequest(
        body=body.decode("utf-8", errors="replace"),
        query=query,
        headers={name.lower(): [value] for name, value in headers.items()},
    )
    response = app.dispatch(request)
    return response.status, response.first_headers_without_set_cookie(), response.body.encode("utf-8")
