"""Named keys in the coordination store: the kill switch, rate-limit windows, approvals, execution.

Every key opsbot writes is spelled here, once, so Redis and SQLite hold the same layout.
"""

from __future__ import annotations

import json
from typing import Any

from runtime.store import CoordinationStore

PAUSED = "control:paused"
HOUR = 3600


def paused_state(store: CoordinationStore) -> dict[str, Any] | None:
    raw = store.get(PAUSED)
    return json.loads(raw) if raw else None


def set_paused(store: CoordinationStore, by: str, at: float, reason: str = "") -> None:
    store.put(PAUSED, json.dumps({"by": by, "at": at, "reason": reason}))


def clear_paused(store: CoordinationStore) -> None:
    store.delete(PAUSED)


def rate_key(action: str, now: float) -> str:
    return f"rate:{action}:{int(now // HOUR)}"


def rate_used(store: CoordinationStore, action: str, now: float) -> int:
    return store.peek_count(rate_key(action, now))


def consume_rate(store: CoordinationStore, action: str, now: float) -> int:
    return store.incr_window(rate_key(action, now), HOUR)


def run_scope(thread_id: str, run_id: str) -> str:
    """Votes, the resume claim and step execution belong to one run, never to a whole thread."""
    return f"{thread_id}/{run_id}" if run_id else thread_id


def pending_key(thread_id: str) -> str:
    return f"pending:{thread_id}"


def votes_key(scope: str) -> str:
    return f"votes:{scope}"


def resume_claim_key(scope: str) -> str:
    return f"resume:{scope}"


def step_lock_key(scope: str, index: int) -> str:
    return f"exec:{scope}:{index}"


def step_done_key(scope: str, index: int) -> str:
    return f"exec-done:{scope}:{index}"


def action_key(action_id: str) -> str:
    return f"action:{action_id}"


def undone_key(action_id: str) -> str:
    return f"undone:{action_id}"
