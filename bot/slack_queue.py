"""Slack requests as queued work: what the Bolt listeners call, and its queued implementation.

The listeners call a ``SlackHandlers``. In a worker that is the ``SlackBridge`` itself; behind
`opsbot serve` it is ``QueuedSlackHandlers``, which turns each call into a work item
``{"method": ..., "kwargs": ...}`` on the Redis Stream (about a millisecond) for a worker to run
(bot/work_handlers.py). When the item cannot be queued, the call raises ``StoreUnavailable``: Bolt
answers 5xx so Slack retries, and ``FailClosedNotice`` tells the person, once per request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.conversation import FAILING_CLOSED, slack_error
from bot.follow_ups import follow_up, vote_of
from graph.state import JsonDict
from runtime.work_queue import WorkQueue

log = logging.getLogger("opsbot.slack")
SLACK_WORK = "slack"
# The only bridge methods a work item may name.
SLACK_METHODS = frozenset(
    {
        "handle_mention",
        "handle_thread_reply",
        "handle_alert_post",
        "handle_click",
        "handle_command",
        "handle_reaction",
    }
)


class SlackHandlers(Protocol):
    """What the Bolt listeners (bot/listeners/) hand Slack requests to."""

    def handle_mention(self, event: JsonDict) -> None: ...

    def handle_thread_reply(self, event: JsonDict) -> bool: ...

    def handle_alert_post(self, event: JsonDict) -> None: ...

    def handle_click(self, body: JsonDict, thread_id: str, run_id: str, approve: bool) -> None: ...

    def handle_command(self, channel: str, user: str, text: str) -> None: ...

    def handle_reaction(self, event: JsonDict) -> None: ...


def click_body(body: JsonDict) -> JsonDict:
    """The parts of a block_actions payload a click needs (channel, message, user), not its blocks."""
    return {
        "channel": {"id": (body.get("channel") or {}).get("id", "")},
        "container": {"message_ts": (body.get("container") or {}).get("message_ts")},
        "message": {"ts": (body.get("message") or {}).get("ts")},
        "user": {"id": (body.get("user") or {}).get("id", "")},
    }


class QueuedSlackHandlers:
    """``SlackHandlers`` that only enqueue: a worker runs each call on the real bridge."""

    def __init__(self, queue: WorkQueue) -> None:
        self.queue = queue

    def _enqueue(self, method: str, **kwargs: Any) -> None:
        self.queue.enqueue(SLACK_WORK, {"method": method, "kwargs": kwargs})

    def handle_mention(self, event: JsonDict) -> None:
        self._enqueue("handle_mention", event=event)

    def handle_thread_reply(self, event: JsonDict) -> bool:
        """Queued only when it reads as a follow-up; whether the thread is opsbot's, the worker checks."""
        if not event.get("thread_ts") or follow_up(str(event.get("text", ""))) is None:
            return False
        self._enqueue("handle_thread_reply", event=event)
        return True

    def handle_alert_post(self, event: JsonDict) -> None:
        self._enqueue("handle_alert_post", event=event)

    def handle_click(self, body: JsonDict, thread_id: str, run_id: str, approve: bool) -> None:
        self._enqueue(
            "handle_click", body=click_body(body), thread_id=thread_id, run_id=run_id, approve=approve
        )

    def handle_command(self, channel: str, user: str, text: str) -> None:
        self._enqueue("handle_command", channel=channel, user=user, text=text)

    def handle_reaction(self, event: JsonDict) -> None:
        if (
            vote_of(str(event.get("reaction", ""))) is None
            or (event.get("item") or {}).get("type") != "message"
        ):
            return  # not feedback: nothing for a worker to do
        self._enqueue("handle_reaction", event=event)


class FailClosedNotice:
    """Tells the person behind a Slack request that opsbot could not take it, once per request per process
    (Slack retries an event up to three times): in the thread for a mention or alert post, in the channel
    for a command, privately for a click."""

    def __init__(self, client: WebClient, remember: int = 10_000) -> None:
        self.client = client
        self.remember = remember
        self._told: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._told:
                return False
            self._told[key] = None
            while len(self._told) > self.remember:
                self._told.popitem(last=False)
            return True

    def tell(self, body: JsonDict) -> None:
        try:
            self._tell(body)
        except (SlackApiError, OSError) as error:
            log.warning("could not tell Slack that opsbot is failing closed: %s", slack_error(error))

    def _tell(self, body: JsonDict) -> None:
        if body.get("type") == "block_actions":
            user = str((body.get("user") or {}).get("id", ""))
            channel = str((body.get("channel") or {}).get("id", ""))
            if (
                channel
                and user
                and self._first_time(f"click:{body.get('trigger_id') or body.get('actions')}")
            ):
                self.client.chat_postEphemeral(channel=channel, user=user, text=FAILING_CLOSED)
            return
        if body.get("command"):
            channel, user = str(body.get("channel_id", "")), str(body.get("user_id", ""))
            if channel and self._first_time(f"command:{body.get('trigger_id') or body.get('text')}"):
                self.client.chat_postMessage(channel=channel, text=f"<@{user}> {FAILING_CLOSED}")
            return
        event = body.get("event") or {}
        if event.get("type") not in ("app_mention", "message"):
            return
        channel, root = str(event.get("channel", "")), str(event.get("thread_ts") or event.get("ts") or "")
        if channel and root and self._first_time(f"event:{body.get('event_id') or channel + root}"):
            self.client.chat_postMessage(channel=channel, thread_ts=root, text=FAILING_CLOSED)
