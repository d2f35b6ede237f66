"""Reading a thread's audit entries in order: one method per kind of entry, each adding to the facts
and returning its timeline line."""

from __future__ import annotations

from typing import Any

from knowledge.postmortem_facts import (
    ActionTaken,
    DecisionPath,
    DeniedClick,
    Entry,
    RollbackFact,
    TimelineEvent,
    Trigger,
)
from knowledge.postmortem_text import (
    as_dict,
    as_list,
    elapsed,
    params_text,
    record_detail,
    seconds_between,
    text,
    user,
    users,
)
from knowledge.postmortem_trigger import trigger_of


class RunSoFar:
    """What the entries of one run said so far, read in order."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.intent: dict[str, Any] = {}
        self.trigger: Trigger | None = None
        self.plan: list[dict[str, Any]] = []
        self.path = DecisionPath(run=number)
        self.requested_at = ""
        self.parsed = False


class EntryReader:
    """Reads a thread's entries in log order into runs, a timeline, actions and rollbacks."""

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.runs: list[RunSoFar] = []
        self.timeline: list[TimelineEvent] = []
        self.actions: list[ActionTaken] = []
        self.rollbacks: list[RollbackFact] = []
        self.unverified: list[str] = []

    @property
    def run(self) -> RunSoFar:
        if not self.runs:
            self.runs.append(RunSoFar(1))
        return self.runs[-1]

    def read(self, entry: Entry) -> None:
        kind, data = str(entry["kind"]), as_dict(entry["data"])
        if kind == "parse" and self.runs and self.run.parsed:
            self.runs.append(RunSoFar(len(self.runs) + 1))
        handler = getattr(self, f"_on_{kind}", None)
        line = handler(entry, data) if handler is not None else self._unknown_kind(kind, data)
        self.timeline.append(
            TimelineEvent(
                seq=int(entry["seq"]), ts=str(entry["ts"]), run=self.run.number, kind=kind, line=line
            )
        )

    # one method per kind of entry: each updates the facts and returns the timeline line

    def _on_parse(self, entry: Entry, data: dict[str, Any]) -> str:
        self.run.parsed = True
        self.run.intent = as_dict(data.get("intent"))
        self.run.trigger = trigger_of(data)
        extra = ""
        if self.run.trigger.untrusted_directives:
            extra += f" — {len(self.run.trigger.untrusted_directives)} instruction(s) found in the alert text"
        if self.run.trigger.problems:
            extra += " — problems: " + text("; ".join(self.run.trigger.problems), 160)
        return f"parse: {self.run.trigger.summary}{extra}"

    def _on_retrieve(self, entry: Entry, data: dict[str, Any]) -> str:
        found = as_dict(data.get("retrieved"))
        runbooks = [as_dict(hit) for hit in as_list(found.get("runbooks"))]
        incidents = [as_dict(hit) for hit in as_list(found.get("incidents"))]
        if not runbooks and not incidents:
            return "retrieve: no runbook or past incident matched"
        parts = []
        if runbooks:
            parts.append("runbooks " + text(", ".join(str(h.get("id")) for h in runbooks), 120))
        if incidents:
            parts.append(f"{len(incidents)} similar past incident(s)")
        return "retrieve: " + "; ".join(parts)

    def _on_plan(self, entry: Entry, data: dict[str, Any]) -> str:
        self.run.plan = [as_dict(step) for step in as_list(data.get("plan"))]
        if not self.run.plan:
            return "plan: no steps"
        steps = [
            f"{i}. {text(s.get('action'), 40)}({params_text(as_dict(s.get('params')))})"
            for i, s in enumerate(self.run.plan, start=1)
        ]
        return "plan: " + " ".join(steps)

    def _on_audit(self, entry: Entry, data: dict[str, Any]) -> str:
        verdict = as_dict(data.get("audit"))
        self.run.path.audit = str(verdict.get("verdict", ""))
        reasons = [str(r) for r in as_list(verdict.get("reasons"))]
        if self.run.path.audit == "veto":
            self.run.path.veto_reasons = reasons
            return "audit: veto — " + text("; ".join(reasons), 200)
        return f"audit: {text(self.run.path.audit, 20)}"

    def _on_decide(self, entry: Entry, data: dict[str, Any]) -> str:
        decision, approval = as_dict(data.get("decision")), as_dict(data.get("approval"))
        path = self.run.path
        path.decision = str(decision.get("decision", ""))
        path.reasons = [str(r) for r in as_list(decision.get("reasons"))]
        path.approver_groups = [str(g) for g in as_list(decision.get("approvers"))]
        path.approvals_needed = int(decision.get("count") or 0)
        path.requester_may_approve = bool(decision.get("allow_requester", True))
        path.approval = str(approval.get("status", ""))
        if path.decision == "approval":
            self.run.requested_at = str(entry["ts"])
            who = " or ".join(path.approver_groups) or "an approver"
            not_requester = ", not the requester" if not path.requester_may_approve else ""
            return (
                f"decision: approval needed from {who} ({path.approvals_needed} approver(s){not_requester})"
            )
        if path.decision in ("reject", "log_only"):
            label = "reject" if path.decision == "reject" else "log only"
            return f"decision: {label} — " + text("; ".join(path.reasons), 200)
        if path.decision == "none":
            return "decision: none (read-only or control request)"
        return f"decision: {text(path.decision, 20)} (policy lets it run without people)"

    def _on_approval_denied(self, entry: Entry, data: dict[str, Any]) -> str:
        click = DeniedClick(user=str(data.get("user", "")), reason=str(data.get("reason", "")))
        self.run.path.denied.append(click)
        return f"approval click by {user(click.user)} refused: {text(click.reason, 80)}"

    def _on_approval_vote(self, entry: Entry, data: dict[str, Any]) -> str:
        approvers = as_list(data.get("approvers"))
        needed = self.run.path.approvals_needed or len(approvers)
        return f"approval by {user(data.get('user', ''))} ({len(approvers)} of {needed})"

    def _on_approval_expired(self, entry: Entry, data: dict[str, Any]) -> str:
        self.run.path.late_clicks.append(str(data.get("user", "")))
        return f"approval click by {user(data.get('user', ''))} came after the request expired"

    def _on_approve(self, entry: Entry, data: dict[str, Any]) -> str:
        approval, path = as_dict(data.get("approval")), self.run.path
        path.approval = str(approval.get("status", ""))
        path.approval_reason = str(approval.get("reason", ""))
        if self.run.requested_at:
            path.approval_wait_seconds = seconds_between(self.run.requested_at, str(entry["ts"]))
        waited = (
            f" after {elapsed(path.approval_wait_seconds)}" if path.approval_wait_seconds is not None else ""
        )
        if path.approval == "approved":
            path.approved_by = [str(u) for u in as_list(approval.get("approvers"))]
            return f"approved by {users(path.approved_by)}{waited}"
        if path.approval == "expired":
            return f"approval expired{waited}: nobody approved in time"
        path.rejected_by = str(
            approval.get("by") or ", ".join(str(u) for u in as_list(approval.get("approvers")))
        )
        reason = "" if path.approval_reason in ("", "rejected") else f": {text(path.approval_reason, 160)}"
        who = f" by {user(path.rejected_by)}" if path.rejected_by else ""
        return f"approval {text(path.approval, 20)}{who}{waited}{reason}"

    def _on_action(self, entry: Entry, data: dict[str, Any]) -> str:
        index = data.get("index")
        step = self.run.plan[index] if isinstance(index, int) and 0 <= index < len(self.run.plan) else {}
        step_cost = step.get("monthly_cost_usd")
        params = as_dict(data.get("params"))
        path = self.run.path
        done = ActionTaken(
            run=self.run.number,
            ts=str(entry["ts"]),
            action_id=str(data.get("action_id", "")),
            action=str(data.get("action", "")),
            params=params,
            status=str(data.get("status", "")),
            error=str(data.get("error", "")),
            resources=[str(r) for r in as_list(data.get("resources"))],
            detail=record_detail(as_dict(data.get("record"))),
            monthly_cost_usd=float(step_cost) if isinstance(step_cost, int | float) else None,
            decided_by=path.decision,
            approved_by=list(path.approved_by) if path.approval == "approved" else [],
            requested_by=str(self.run.intent.get("requester", "")),
            undoes=str(params.get("action_id", "")) if data.get("action") == "rollback" else "",
        )
        self.actions.append(done)
        undo = f" (undo of {text(done.undoes, 40)})" if done.undoes else ""
        on = f" on {text(', '.join(done.resources), 120)}" if done.resources else ""
        why = f" — {text(done.error, 200)}" if done.error else ""
        return f"executed {text(done.action, 40)} {text(done.action_id, 40)}{undo} {done.status}{on}{why}"

    def _on_rollback(self, entry: Entry, data: dict[str, Any]) -> str:
        undo = RollbackFact(
            action_id=str(data.get("action_id", "")),
            status=str(data.get("status", "")),
            error=str(data.get("error", "")),
            ts=str(entry["ts"]),
            thread_id=str(entry["thread_id"]),
        )
        self.rollbacks.append(undo)
        why = f" — {text(undo.error, 200)}" if undo.error else ""
        return f"rollback of {text(undo.action_id, 40)}: {text(undo.status, 40)}{why}"

    def _on_execute(self, entry: Entry, data: dict[str, Any]) -> str:
        counts: dict[str, int] = {}
        for result in as_list(data.get("executions")):
            status = str(as_dict(result).get("status", ""))
            counts[status] = counts.get(status, 0) + 1
        shown = ", ".join(f"{n} {status}" for status, n in counts.items()) or "nothing ran"
        outcome = f" → {text(data['outcome'], 30)}" if data.get("outcome") else ""
        return f"execute: {shown}{outcome}"

    def _on_verify(self, entry: Entry, data: dict[str, Any]) -> str:
        checks = [as_dict(c) for c in as_list(data.get("verification"))]
        failed = [c for c in checks if not c.get("ok")]
        for check in failed:
            self.unverified.append(f"{check.get('action_id')}: {check.get('detail')}")
        if not failed:
            return f"verify: {len(checks)} of {len(checks)} effect(s) confirmed"
        names = ", ".join(f"{c.get('action_id')} ({c.get('detail')})" for c in failed)
        confirmed = len(checks) - len(failed)
        return f"verify: {confirmed} of {len(checks)} confirmed; NOT confirmed: {text(names, 200)}"

    def _on_document(self, entry: Entry, data: dict[str, Any]) -> str:
        self.run.path.outcome = str(data.get("outcome", ""))
        return f"outcome: {text(self.run.path.outcome, 40)}"

    def _on_respond(self, entry: Entry, data: dict[str, Any]) -> str:
        self.run.path.decision = str(as_dict(data.get("decision")).get("decision", "none"))
        reply = str(data.get("reply", "")).strip().splitlines()
        return "respond: " + (text(reply[0], 160) if reply else "answered")

    def _unknown_kind(self, kind: str, data: dict[str, Any]) -> str:
        keys = ", ".join(sorted(k for k in data if k != "duration_ms"))
        return f"{text(kind, 40)}: {text(keys, 120) or 'recorded'}"
