"""The facts of a post-mortem as pydantic models, and the error raised when none can be written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Entry = Mapping[str, Any]  # one audit log entry, as runtime.audit_log.entries reads it


class PostmortemError(ValueError):
    """No post-mortem can be written: the incident is not in the audit log, or the log is missing."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Trigger(Model):
    """What started a run: an alert (with its finding) or a person's request."""

    source: Literal["alert", "request", "unknown"]
    summary: str
    action: str = ""  # what opsbot understood was asked
    params: dict[str, Any] = Field(default_factory=dict)
    alert_kind: str = ""
    title: str = ""
    finding_type: str = ""
    severity: float | None = None
    sample: bool = False
    resources: list[str] = Field(default_factory=list)
    region: str = ""
    account: str = ""
    finding_id: str = ""
    request_text: str = ""
    requester: str = ""
    untrusted_directives: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # parameters the request got wrong


class TimelineEvent(Model):
    seq: int
    ts: str
    run: int
    kind: str
    line: str  # e.g. "audit: pass"


class ActionTaken(Model):
    run: int
    ts: str
    action_id: str
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    status: str  # ok | dry_run | failed | refused | skipped
    error: str = ""
    resources: list[str] = Field(default_factory=list)
    detail: str = ""  # what the record says changed (snapshots made, capacity before and after)
    monthly_cost_usd: float | None = None
    decided_by: str = ""  # auto | approval
    approved_by: list[str] = Field(default_factory=list)
    requested_by: str = ""
    undoes: str = ""  # for a rollback step: the action id it undoes


class DeniedClick(Model):
    user: str
    reason: str


class DecisionPath(Model):
    run: int
    audit: str = ""  # pass | veto | "" (not audited: control requests)
    veto_reasons: list[str] = Field(default_factory=list)
    decision: str = ""  # auto | approval | reject | log_only | none
    reasons: list[str] = Field(default_factory=list)
    approver_groups: list[str] = Field(default_factory=list)
    approvals_needed: int = 0
    requester_may_approve: bool = True
    approval: str = ""  # approved | rejected | expired | pending | not_needed
    approved_by: list[str] = Field(default_factory=list)
    rejected_by: str = ""
    approval_reason: str = ""
    denied: list[DeniedClick] = Field(default_factory=list)
    late_clicks: list[str] = Field(default_factory=list)  # clicks on an expired request
    approval_wait_seconds: float | None = None
    outcome: str = ""


class RollbackFact(Model):
    action_id: str
    status: str  # rolled back | rollback failed | not reversible
    error: str = ""
    ts: str = ""
    thread_id: str = ""  # where the undo ran: this thread, or a later request elsewhere
    later: bool = False


class Impact(Model):
    outcome: str
    run_outcomes: list[str] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)  # one line per change that took effect
    resources_changed: list[str] = Field(default_factory=list)
    still_in_effect: list[str] = Field(default_factory=list)  # action ids not undone
    rollbacks: list[RollbackFact] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    unverified: list[str] = Field(default_factory=list)
    monthly_cost_usd: float | None = None
    started_at: str
    ended_at: str
    duration_seconds: float
    time_to_first_action_seconds: float | None = None
    time_to_resolution_seconds: float | None = None


class ChainCheck(Model):
    ok: bool
    entries: int
    reason: str
    last_hash: str
    path: str = ""


class PostmortemFacts(Model):
    thread_id: str
    scope: str = ""  # "" for the whole thread, "run 2 of 3" for one run
    title: str
    first_seq: int
    last_seq: int
    trigger: Trigger
    follow_ups: list[Trigger] = Field(default_factory=list)  # later runs on the same thread
    timeline: list[TimelineEvent]
    actions: list[ActionTaken]
    decisions: list[DecisionPath]
    impact: Impact
    what_to_change: list[str]
    chain: ChainCheck | None = None
