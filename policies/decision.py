"""The inputs and output of ``policies.engine.decide``: plain data, no I/O."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["auto", "approval", "reject", "log_only", "none"]


class DecisionFacts(BaseModel):
    """Everything the policy may look at for one plan step. Gathered by the graph, never by policy."""

    model_config = ConfigDict(extra="forbid")

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    errors: list[str] = Field(default_factory=list)  # parameter validation problems, plain language
    source: Literal["request", "alert"] = "request"
    alert_kind: str | None = None
    alert_severity: float | None = None  # 0-10
    finding_severity: float | None = None  # GuardDuty severity, when the alert is a GuardDuty finding
    sample: bool = False
    resolved: bool = False
    paused: bool = False
    requester: str = ""
    asg_current: int | None = None
    asg_max: int | None = None
    monthly_cost_delta: float | None = None  # USD/month added by the step; None = unknown
    rate_used: int = 0  # executions of this action in the current hour


class PolicyDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    approvers: list[str] = Field(default_factory=list)  # group names, any member may approve
    count: int = 0  # distinct approvers needed
    allow_requester: bool = True  # may the requester be one of them
    reasons: list[str] = Field(default_factory=list)
