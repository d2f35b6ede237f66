"""The Bolt app: signature checks (Bolt's, with its 5-minute replay window), retry dedup, listeners.

Behind `opsbot serve` the listeners' handlers only enqueue (bot/slack_queue.py) and the app runs them
before answering (``process_before_response``), so a request that could not be queued gets a 5xx and
Slack retries it; the person is told once that opsbot is failing closed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient

from bot.listeners import actions, commands, mentions, messages, reactions
from bot.slack_queue import FailClosedNotice, SlackHandlers
from bot.threads import SlackThreads
from runtime.metrics import observe
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


def build_app(
    handlers: SlackHandlers,
    threads: SlackThreads,
    client: WebClient,
    signing_secret: str,
    alert_channels: set[str],
    process_before_response: bool = False,
    notice: FailClosedNotice | None = None,
) -> App:
    """The Bolt app over ``handlers``. With ``process_before_response`` a handler that raises makes the
    answer a 500; ``notice`` then tells the person when the reason is that Redis is unreachable."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=False,
    )
    app.middleware(drop_retries(threads))
    mentions.register(app, handlers)
    messages.register(app, handlers, alert_channels)
    actions.register(app, handlers)
    commands.register(app, handlers)
    reactions.register(app, handlers)

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack request failed: %s (%s)", error, body.get("type", "unknown type"))
        if not isinstance(error, StoreUnavailable):
            return
        event_id = body.get("event_id")
        if isinstance(event_id, str) and event_id:
            try:  # it was not queued: Slack's retry must not be dropped as a repeat
                threads.release_event(event_id)
            except StoreUnavailable as release_error:
                log.warning("could not release %s for Slack's retry: %s", event_id, release_error)
        if notice is not None:
            notice.tell(body)

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
    with observe("slack_ack"):  # the time to answer Slack: the ack (serve's handlers only enqueue)
        response = app.dispatch(request)
    return response.status, response.first_headers_without_set_cookie(), response.body.encode("utf-8")
