"""Typed values that cross node boundaries. State holds their ``model_dump(mode="json")``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlertKind = Literal["guardduty", "cloudwatch", "securityhub", "health", "ec2", "autoscaling", "chat"]
CONTROL_ACTIONS = frozenset(
    {"status", "help", "pause", "resume", "investigate", "troubleshoot_connectivity", "unknown"}
)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AlertFacts(Model):
    """What an alert says, normalised across AWS event formats.

    Structured fields (ids, IPs, names) are trusted to name resources.  Free text (``title``,
    ``description``) is untrusted data: it is shown, never obeyed.
    """

    kind: AlertKind
    fingerprint: str  # stable across repeats of the same alert
    title: str
    description: str = ""
    severity: float = 0.0  # 0-10 scale (GuardDuty as-is, Security Hub normalized/10, alarms 7)
    finding_type: str = ""  # e.g. CryptoCurrency:EC2/BitcoinTool.B!DNS, or the alarm name
    sample: bool = False  # GuardDuty additionalInfo.sample / sample findings
    resolved: bool = False  # alarm back to OK, Security Hub check PASSED
    region: str = "us-east-1"
    account: str = ""
    instance_ids: list[str] = Field(default_factory=list)
    asg_names: list[str] = Field(default_factory=list)
    remote_ips: list[str] = Field(default_factory=list)  # public IPs the finding names as the actor
    resource_ids: list[str] = Field(default_factory=list)  # every other resource id named
    metric_name: str = ""
    raw_id: str = ""  # the finding / event id


class Intent(Model):
    """What was asked: one action with typed params, where it came from, and how bad it is."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    source: Literal["request", "alert"] = "request"
    text: str = ""  # the raw request text, or a one-line alert summary
    requester: str = ""
    alert: AlertFacts | None = None
    named_resources: list[str] = Field(default_factory=list)  # ids/IPs/names the input names
    errors: list[str] = Field(default_factory=list)  # plain-language parameter problems
    untrusted_directives: list[str] = Field(default_factory=list)  # commands found inside alert text


class PlanStep(Model):
    action: str
    params: dict[str, Any]
    why: str = ""
    expected_effect: str = ""
    rollback: str = ""
    risk: str = "write"
    monthly_cost_usd: float | None = None  # estimated change in monthly cost, None = unknown

    def governing(self) -> tuple[str, dict[str, Any]]:
        """The action and params whose policy rule governs this step: a rollback runs under the
        rule of the action it undoes."""
        if self.action == "rollback":
            return str(self.params.get("of_action", "")), dict(self.params.get("of_params", {}))
        return self.action, self.params


class AuditVerdict(Model):
    verdict: Literal["pass", "veto"]
    reasons: list[str] = Field(default_factory=list)
