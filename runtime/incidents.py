"""One incident thread per distinct alert: repeats of the same fingerprint fold into it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from runtime.metrics import record_alert_deduplicated
from runtime.store import CoordinationStore

REPEAT_WINDOW_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class IncidentThread:
    thread_id: str
    is_new: bool
    repeats: int  # deliveries after the first
    run: bool  # whether this delivery runs the graph (the first one, and a resolution)


def thread_for(fingerprint: str) -> str:
    return "inc-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


def incident_id_of(thread_id: str) -> str | None:
    """The incident a graph thread belongs to: threads opened by an alert are named after it (a control
    thread beside it, ``inc-...~control``, belongs to the same incident); other threads have none."""
    return thread_id.split("~", 1)[0] if thread_id.startswith("inc-") else None


def open_incident(
    store: CoordinationStore,
    fingerprint: str,
    resolved: bool = False,
    title: str = "",
    now: float = 0.0,
) -> IncidentThread:
    """Claim the fingerprint atomically: the first delivery opens the thread, later ones count.

    A resolution (alarm back to OK, check passed) runs in the same thread and closes the incident,
    so the alarm's next firing is acted on again instead of being counted as a repeat.
    """
    thread_id = thread_for(fingerprint)
    claimed = store.claim(incident_key(fingerprint), thread_id)
    repeats = 0 if claimed else store.incr_window(repeats_key(fingerprint), REPEAT_WINDOW_SECONDS)
    if not (claimed or resolved):
        record_alert_deduplicated()
    if claimed:
        info = {"thread_id": thread_id, "fingerprint": fingerprint, "title": title, "opened_at": now}
        store.put(info_key(thread_id), json.dumps(info))
    if resolved:
        store.delete(incident_key(fingerprint))
        store.delete(repeats_key(fingerprint))
    return IncidentThread(thread_id, claimed, repeats, run=claimed or resolved)


def incident_key(fingerprint: str) -> str:
    return f"incident:{fingerprint}"


def repeats_key(fingerprint: str) -> str:
    return f"repeats:{fingerprint}"


def info_key(thread_id: str) -> str:
    return f"incident-info:{thread_id}"


def open_incidents(store: CoordinationStore) -> list[dict[str, Any]]:
    """Incidents whose alert has not resolved, oldest first, with how often the alert repeated."""
    found: list[dict[str, Any]] = []
    for key in store.keys("incident:"):
        fingerprint = key.removeprefix("incident:")
        thread_id = thread_for(fingerprint)
        raw = store.get(info_key(thread_id))
        info = json.loads(raw) if raw else {"thread_id": thread_id, "title": "", "opened_at": 0.0}
        found.append({**info, "repeats": store.peek_count(repeats_key(fingerprint))})
    return sorted(found, key=lambda incident: float(incident.get("opened_at", 0.0)))
