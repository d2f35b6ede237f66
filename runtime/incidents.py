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


def thread_for(fingerprint: str) -> str:
    return "inc-" + hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


def open_incident(store: CoordinationStore, fingerprint: str) -> IncidentThread:
    """Claim the fingerprint atomically: the first delivery opens the thread, later ones count."""
    thread_id = thread_for(fingerprint)
    if store.claim(f"incident:{fingerprint}", thread_id):
        return IncidentThread(thread_id, True, 0)
    repeats = store.incr_window(f"repeats:{fingerprint}", REPEAT_WINDOW_SECONDS)
    return IncidentThread(thread_id, False, repeats)
