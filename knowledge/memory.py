"""Incident memory: every finished run that planned something is remembered, with what people said.

``incident_record`` turns a finished run's state (and its audit entries, for the timings) into one
record: the text a similar future alert's retrieval query will resemble, and JSON-scalar metadata
(who asked, what was planned and decided, who approved, how it ended, how long it took, whether it is
an example not to follow). ``ChromaMemory`` stores records in the knowledge store's ``incidents``
collection and attaches 👍/👎 and ``feedback: …`` replies to a thread's latest remembered run.

Like ``knowledge.retrieval``, this module stays free of chromadb so the graph loads fast.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from graph.render import AUTO_APPROVED, NEGATIVE_OUTCOMES, duration_text, outcome_of
from knowledge.retrieval import Hit, RetrievalError
from runtime.audit_log import AuditLogError, entries

logger = logging.getLogger(__name__)

Scalar = str | int | float | bool
Vote = Literal["up", "down"]

TITLE_CHARS = 120
REASONS_CHARS = 300
#: Text the audit quotes from an alert (instructions found in it) is not carried into memory.
UNTRUSTED_QUOTE = re.compile(r"«[^»]*»")
#: How many remembered runs of one thread are compared to find its latest (a thread rarely has more).
RUNS_PER_THREAD = 50


class IncidentRecord(BaseModel):
    """One remembered run: ``id`` is ``{thread_id}/{run_id}``; metadata values are JSON scalars."""

    model_config = ConfigDict(frozen=True)

    id: str
    document: str
    metadata: dict[str, Scalar]


class IncidentMemory(Protocol):
    """What the graph (remember) and the bot (reactions, ``feedback:`` replies) need of a memory."""

    def remember(self, record: IncidentRecord) -> None: ...

    def feedback(self, thread_id: str, *, vote: Vote | None, text: str | None, user: str) -> str | None: ...


class NoMemory:
    """No knowledge store configured: nothing is remembered and feedback has nowhere to go."""

    def remember(self, record: IncidentRecord) -> None:
        return None

    def feedback(self, thread_id: str, *, vote: Vote | None, text: str | None, user: str) -> str | None:
        return None


class IncidentStore(Protocol):
    """What ChromaMemory needs of ``knowledge.store.KnowledgeStore`` (or the lazy store in front of it)."""

    def remember_incident(self, incident_id: str, document: str, metadata: Mapping[str, Any]) -> None: ...

    def add_feedback(self, incident_id: str, feedback: Mapping[str, Any]) -> Any: ...

    def search_incidents(self, query: str, k: int, where: Any = None) -> list[Hit]: ...


class ChromaMemory:
    """Incidents and their feedback in the knowledge store.

    Remembering happens after the run acted, so it never fails the run: a store that cannot be
    written is logged and skipped. Feedback on a store that cannot be reached is logged too, and
    reported as not recorded (``None``).
    """

    def __init__(self, store: IncidentStore) -> None:
        self.store = store

    def remember(self, record: IncidentRecord) -> None:
        try:
            self.store.remember_incident(record.id, record.document, record.metadata)
        except Exception:  # remembering must not fail an incident that already acted
            logger.exception("incident %s was not remembered", record.id)

    def latest_run(self, thread_id: str) -> str | None:
        """The id of the thread's most recently finished remembered run, or None."""
        hits = self.store.search_incidents(thread_id, RUNS_PER_THREAD, where={"thread_id": thread_id})
        if not hits:
            return None
        latest = max(
            hits,
            key=lambda hit: (
                str(hit["metadata"].get("finished_at", "")),
                str(hit["metadata"].get("remembered_at", "")),
            ),
        )
        return latest["id"]

    def feedback(self, thread_id: str, *, vote: Vote | None, text: str | None, user: str) -> str | None:
        """Attach a vote and/or a comment to the thread's latest remembered run; its id, or None when
        the thread has no remembered run (or the store cannot be reached)."""
        if vote is None and not (text or "").strip():
            raise ValueError("feedback needs a vote (up or down) or a text")
        try:
            incident_id = self.latest_run(thread_id)
            if incident_id is None:
                return None
            self.store.add_feedback(incident_id, {"vote": vote, "text": text or "", "user": user})
        except RetrievalError as error:
            logger.warning("feedback on thread %s was not recorded: %s", thread_id, error)
            return None
        return incident_id


# --- the record -----------------------------------------------------------------------------------


def words(action: str) -> str:
    return action.replace("_", " ")


def clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alert_type(alert: Mapping[str, Any]) -> str:
    """What lessons group alerts by: the finding type, or ``cloudwatch:<metric>`` (alarm names vary)."""
    kind = str(alert.get("kind") or "")
    if not kind:
        return "request"
    if kind == "cloudwatch":
        metric = str(alert.get("metric_name") or "")
        return f"cloudwatch:{metric}" if metric else "cloudwatch"
    return str(alert.get("finding_type") or kind)


def approved_by(state: Mapping[str, Any]) -> str:
    approval = state.get("approval") or {}
    if approval.get("status") == "approved":
        return ",".join(str(person) for person in approval.get("approvers", []))
    if (state.get("decision") or {}).get("decision") == "auto":
        return AUTO_APPROVED
    return ""


def refusal_reasons(state: Mapping[str, Any], outcome: str) -> str:
    """Why a negative run was refused, in one line: the veto's, the policy's or the person's reasons."""
    if outcome == "vetoed":
        reasons = [str(reason) for reason in (state.get("audit") or {}).get("reasons", [])]
    elif outcome == "rejected":
        reasons = [str(reason) for reason in (state.get("decision") or {}).get("reasons", [])]
    elif outcome == "declined":
        approval = state.get("approval") or {}
        who = approval.get("by") or ", ".join(approval.get("approvers", [])) or "an approver"
        reason = str(approval.get("reason") or "")
        reasons = [f"declined by {who}" + (f": {reason}" if reason not in ("", "rejected") else "")]
    elif outcome == "expired":
        reasons = ["nobody approved it in time"]
    else:
        reasons = []
    return clip(UNTRUSTED_QUOTE.sub("«…»", "; ".join(reasons)), REASONS_CHARS)


def run_timing(audit_path: Path, thread_id: str) -> tuple[str, str]:
    """(first entry of the latest run, its document entry) timestamps from the audit log, or ("", "").

    The latest run is the one that ended with the thread's last ``document`` entry; it started with
    the last ``parse`` entry before it.
    """
    started = finished = ""
    last_parse = ""
    try:
        for entry in entries(audit_path, thread_id=thread_id):
            if entry["kind"] == "parse":
                last_parse = str(entry["ts"])
            elif entry["kind"] == "document":
                started, finished = last_parse, str(entry["ts"])
    except (OSError, AuditLogError) as error:
        logger.warning("the audit log could not be read for thread %s: %s", thread_id, error)
        return "", ""
    return started, finished


def seconds_between(started: str, finished: str) -> float | None:
    try:
        return (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except ValueError:
        return None


def incident_document(state: Mapping[str, Any], outcome: str, reasons: str) -> str:
    """The text that is embedded: the words a similar alert's or request's retrieval query holds
    (action, request text, alert kind, finding type, title, metric), then the plan and how it ended."""
    intent = state.get("intent") or {}
    alert = intent.get("alert") or {}
    action = str(intent.get("action") or "")
    query_words = [
        words(action),
        str(intent.get("text") or ""),
        str(alert.get("kind") or ""),
        str(alert.get("finding_type") or ""),
        str(alert.get("title") or ""),
        str(alert.get("metric_name") or ""),
    ]
    plan = [words(str(step.get("action"))) for step in state.get("plan", [])]
    lines = [
        " ".join(part for part in query_words if part),
        f"Plan: {', '.join(plan)}." if plan else "",
        f"Outcome: {outcome}." + (f" {reasons}" if reasons else ""),
    ]
    return "\n".join(line for line in lines if line)


def incident_title(intent: Mapping[str, Any]) -> str:
    """The alert's title (unless it carried instructions: then our own one-line summary), or the request."""
    alert = intent.get("alert") or {}
    title = str(alert.get("title") or "") if not intent.get("untrusted_directives") else ""
    return clip(title or str(intent.get("text") or intent.get("action") or "incident"), TITLE_CHARS)


def incident_record(state: Mapping[str, Any], audit_path: Path) -> IncidentRecord:
    """The record of a finished run; timings come from the thread's audit entries."""
    thread_id = str(state.get("thread_id") or "")
    run_id = str(state.get("run_id") or "")
    intent = state.get("intent") or {}
    alert = intent.get("alert") or {}
    outcome = str(state.get("outcome") or outcome_of(dict(state)))
    negative = outcome in NEGATIVE_OUTCOMES
    reasons = refusal_reasons(state, outcome) if negative else ""
    started, finished = run_timing(audit_path, thread_id)
    seconds = seconds_between(started, finished) if started and finished else None
    metadata: dict[str, Scalar | None] = {
        "title": incident_title(intent),
        "thread_id": thread_id,
        "run_id": run_id,
        "source": str(intent.get("source") or ""),
        "action": str(intent.get("action") or ""),
        "alert_kind": str(alert.get("kind") or ""),
        "finding_type": str(alert.get("finding_type") or ""),
        "alert_type": alert_type(alert),
        "plan_actions": ",".join(str(step.get("action")) for step in state.get("plan", [])),
        "decision": str((state.get("decision") or {}).get("decision") or ""),
        "outcome": outcome,
        "approved_by": approved_by(state),
        "requester": str(intent.get("requester") or (state.get("input") or {}).get("requester") or ""),
        "resolved_in": duration_text(seconds) if seconds is not None else None,
        "resolution_seconds": round(seconds, 3) if seconds is not None else None,
        "finished_at": finished or None,
        "negative": "true" if negative else "false",
        "reasons": reasons,
    }
    return IncidentRecord(
        id=f"{thread_id}/{run_id}",
        document=incident_document(state, outcome, reasons),
        metadata={key: value for key, value in metadata.items() if value is not None},
    )
