"""Where each graph thread lives in Slack, kept in the coordination store so every replica agrees.

A mention's graph thread is named after its Slack thread (``slack-<channel>-<thread_ts>``). An
incident's graph thread (``inc-…``) is bound to the root message opsbot posts for it. Approval
messages are remembered per run, so a click, an expiry or a result updates the right message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from runtime.redelivery import RECORD_SECONDS, work_record_key
from runtime.store import CoordinationStore

BINDING_SECONDS = 90 * 24 * 3600


@dataclass(frozen=True)
class SlackPlace:
    channel: str
    ts: str


def mention_thread_id(channel: str, thread_ts: str) -> str:
    return f"slack-{channel}-{thread_ts}"


class SlackThreads:
    def __init__(self, store: CoordinationStore) -> None:
        self.store = store

    def bind(self, thread_id: str, place: SlackPlace) -> None:
        """Record that ``thread_id`` is the Slack thread rooted at ``place`` (both directions)."""
        where = json.dumps({"channel": place.channel, "ts": place.ts})
        self.store.put(f"slack-place:{thread_id}", where, BINDING_SECONDS)
        self.store.put(f"slack-thread:{place.channel}:{place.ts}", thread_id, BINDING_SECONDS)

    def place(self, thread_id: str) -> SlackPlace | None:
        raw = self.store.get(f"slack-place:{thread_id}")
        if not raw:
            return None
        data = json.loads(raw)
        return SlackPlace(str(data["channel"]), str(data["ts"]))

    def thread_at(self, channel: str, thread_ts: str) -> str | None:
        """The graph thread a Slack thread belongs to, if opsbot has one there."""
        return self.store.get(f"slack-thread:{channel}:{thread_ts}")

    def remember_message(self, place: SlackPlace, thread_id: str) -> None:
        """A message opsbot posted in a thread, so a reaction on it finds the thread."""
        self.store.put(f"slack-message:{place.channel}:{place.ts}", thread_id, BINDING_SECONDS)

    def thread_of_message(self, channel: str, ts: str) -> str | None:
        """The graph thread of a thread root or of a message opsbot posted in a thread."""
        return self.thread_at(channel, ts) or self.store.get(f"slack-message:{channel}:{ts}")

    def remember_approval(self, thread_id: str, run_id: str, message: SlackPlace) -> None:
        key = f"slack-approval:{thread_id}/{run_id}"
        self.store.put(key, json.dumps({"channel": message.channel, "ts": message.ts}), BINDING_SECONDS)

    def approval_message(self, thread_id: str, run_id: str) -> SlackPlace | None:
        raw = self.store.get(f"slack-approval:{thread_id}/{run_id}")
        if not raw:
            return None
        data = json.loads(raw)
        return SlackPlace(str(data["channel"]), str(data["ts"]))

    def claim_event(self, event_id: str) -> bool:
        """True the first time an Events API ``event_id`` is seen: Slack retries are dropped."""
        return self.store.claim(f"slack-event:{event_id}", "seen", 3600)

    def release_event(self, event_id: str) -> None:
        """Forget an event that could not be queued, so Slack's retry of it is handled."""
        self.store.release(f"slack-event:{event_id}", "seen")

    def work_root(self, run_id: str) -> SlackPlace | None:
        """The thread root a queued work item posted on an earlier delivery (see runtime/redelivery.py)."""
        raw = self.store.get(work_record_key(run_id, "slack-root"))
        if not raw:
            return None
        data = json.loads(raw)
        return SlackPlace(str(data["channel"]), str(data["ts"]))

    def remember_work_root(self, run_id: str, place: SlackPlace) -> None:
        where = json.dumps({"channel": place.channel, "ts": place.ts})
        self.store.put(work_record_key(run_id, "slack-root"), where, RECORD_SECONDS)
