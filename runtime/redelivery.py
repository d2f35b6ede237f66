"""What makes a redelivered work item safe to run again: no step twice, no second thread.

A worker that dies leaves its item pending, and another worker takes it over. Everything the item
does must then be a continuation, never a repeat:

- its graph run id is derived from the stream entry id, so the executor's per-step claims
  (``exec:{thread}/{run}:{step}`` and ``exec-done:...``) recognise the steps already taken;
- its side effects outside the graph that pick a thread (opening an incident for an alert, posting
  a thread's root message in Slack) are recorded once per item and read back on redelivery.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from runtime.incidents import IncidentThread, open_incident
from runtime.store import CoordinationStore

RECORD_SECONDS = 24 * 3600  # far longer than an item stays pending before it is dead-lettered


def run_id_for(entry_id: str) -> str:
    """The graph run id of a queued item: the same on every delivery, 12 hex characters like a fresh one."""
    return "q" + hashlib.sha256(entry_id.encode()).hexdigest()[:11]


def work_record_key(run_id: str, what: str) -> str:
    return f"work:{run_id}:{what}"


def open_incident_once(
    store: CoordinationStore,
    run_id: str | None,
    fingerprint: str,
    resolved: bool,
    title: str,
    now: float,
) -> IncidentThread:
    """``open_incident`` for a queued alert: a redelivery of a delivery that runs the graph gets the first
    delivery's answer back, so its crashed run is continued, not counted as a repeat of itself. (Only
    those are recorded: in an alert storm, a redelivered repeat merely counts once more.)"""
    if run_id is None:
        return open_incident(store, fingerprint, resolved, title, now)
    key = work_record_key(run_id, "incident")
    raw = store.get(key)
    if raw is not None:
        return IncidentThread(**json.loads(raw))
    incident = open_incident(store, fingerprint, resolved, title, now)
    if incident.run:
        store.put(key, json.dumps(asdict(incident)), RECORD_SECONDS)
    return incident
