"""One incident thread per distinct alert: repeats of the same fingerprint fold into it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


def open_incident(store: CoordinationStore, fingerprint: str, resolved: bool = False) -> IncidentThread:
    """Claim the fingerprint atomically: the first delivery opens the thread, later ones count.

    A resolution (alarm back to OK, check passed) runs in the same thread and closes the incident,
    so the alarm's next firing is acted on again instead of being counted as a repeat.
    """
    thread_id = thread_for(fingerprint)
    claimed = store.claim(incident_key(fingerprint), thread_id)
    repeats = 0 if claimed else store.incr_window(repeats_key(fingerprint), REPEAT_WINDOW_SECONDS)
    if resolved:
        store.delete(incident_key(fingerprint))
        store.delete(repeats_key(fingerprint))
    return IncidentThread(thread_id, claimed, repeats, run=claimed or resolved)


def incident_key(fingerprint: str) -> str:
    return f"incident:{fingerprint}"


def repeats_key(fingerprint: str) -> str:
    return f"repeats:{fingerprint}"
