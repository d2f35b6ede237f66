"""The policy's shape: the decision matrix and price table as strict pydantic models.

Validation here is structural and cross-referencing (groups resolve, counts are reachable); reading the
files and wording their errors is ``policies.loading``'s job.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.decision import assign_to_groups

USER_ID_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
MEMBER_RE = re.compile(r"^([UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*)$")
NAME_RE = r"^[a-z][a-z0-9_-]*$"
INSTANCE_TYPE_RE = r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$"
VOLUME_TYPE_RE = r"^[a-z][a-z0-9]*$"

RuleDecision = Literal["auto", "approval", "reject", "log_only"]
GroupName = Annotated[str, Field(pattern=NAME_RE)]
GroupList = Annotated[list[GroupName], Field(min_length=1)]


class PolicyError(ValueError):
    """The policy or price file is unreadable or invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Conditions(_Strict):
    """Named conditions of a rule's ``when``.  Every condition that is set must hold."""

    finding_severity_at_least: float | None = Field(default=None, ge=0, le=10)
    sample: bool | None = None
    source: Literal["request", "alert"] | None = None
    cidr_private_or_reserved: bool | None = None
    cidr_wider_than: int | None = Field(default=None, ge=1, le=32)
    within_asg_max: bool | None = None
    max_scale_factor: float | None = Field(default=None, gt=0)
    max_monthly_cost_increase: float | None = None
    cost_unknown: bool | None = None
    replaces_alarmed_target: bool | None = None
    new_target_healthy: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Conditions:
        if not self.model_fields_set:
            raise ValueError("'when' names no condition; use 'otherwise' for the fallback decision")
        return self

    @property
    def uses_address(self) -> bool:
        return self.cidr_private_or_reserved is not None or self.cidr_wider_than is not None


class Outcome(_Strict):
    """What a rule (or ``otherwise``) decides."""

    decide: RuleDecision
    groups: list[GroupName] = Field(default_factory=list)
    count: int = Field(default=1, ge=1)
    each_group: bool = False  # one distinct approver from every group in `groups`
    allow_requester: bool = True
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _groups_only_for_approval(self) -> Outcome:
        if self.decide == "approval" and not self.groups:
            raise ValueError("an approval must name at least one group in 'groups'")
        approval_keys = {"count", "each_group", "allow_requester"} & self.model_fields_set
        if self.decide != "approval" and (self.groups or approval_keys):
            raise ValueError(
                "'groups', 'count', 'each_group' and 'allow_requester' only apply to approval, "
                f"not {self.decide}"
            )
        if self.each_group and "count" in self.model_fields_set:
            raise ValueError(
                "'count' must not be given with 'each_group: true': each listed group gives one approver"
            )
        if self.each_group and len(set(self.groups)) != len(self.groups):
            raise ValueError("'each_group: true' needs each group in 'groups' listed once")
        return self

    @property
    def approvers_needed(self) -> int:
        """Distinct people the approval needs: one per group with ``each_group``, else ``count``."""
        return len(self.groups) if self.each_group else self.count


class Rule(Outcome):
    name: str = Field(pattern=NAME_RE)
    when: Conditions


class ActionPolicy(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    otherwise: Outcome

    @model_validator(mode="after")
    def _unique_rule_names(self) -> ActionPolicy:
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique, repeated: {', '.join(duplicates)}")
        return self


class Control(_Strict):
    pause: GroupList
    resume: GroupList


class BlastRadius(_Strict):
    max_steps_per_plan: int = Field(ge=1)
    max_instances_per_plan: int = Field(ge=1)
    max_block_prefix: int = Field(ge=1, le=32)


class AlertGating(_Strict):
    log_only_below: float = Field(default=4, ge=0, le=10)
    auto_at_least: float = Field(default=7, ge=0, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> AlertGating:
        if self.log_only_below > self.auto_at_least:
            raise ValueError("log_only_below must not be above auto_at_least")
        return self


class Policy(_Strict):
    version: Literal[1]
    approval_ttl_seconds: int = Field(default=3600, ge=60)
    groups: dict[GroupName, Annotated[list[str], Field(min_length=1)]]
    default_approvers: GroupList
    control: Control
    rate_limits: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    blast_radius: BlastRadius
    alerts: AlertGating = Field(default_factory=AlertGating)
    actions: dict[Annotated[str, Field(pattern=NAME_RE)], ActionPolicy]

    @field_validator("groups")
    @classmethod
    def _valid_members(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, members in groups.items():
            for member in members:
                if not MEMBER_RE.match(member):
                    raise ValueError(
                        f"groups.{name}: '{member}' is not a Slack user id (U...), user-group id (S...) "
                        "or user-group handle (@name)"
                    )
        return groups

    @model_validator(mode="after")
    def _references_resolve(self) -> Policy:
        references: list[tuple[str, list[str]]] = [
            ("default_approvers", self.default_approvers),
            ("control.pause", self.control.pause),
            ("control.resume", self.control.resume),
        ]
        for action, entry in self.actions.items():
            references += [(f"actions.{action}.rules.{r.name}.groups", r.groups) for r in entry.rules]
            references.append((f"actions.{action}.otherwise.groups", entry.otherwise.groups))
        for where, names in references:
            for name in names:
                if name not in self.groups:
                    raise ValueError(f"{where}: group '{name}' is not defined under 'groups'")
        for action in self.rate_limits:
            if action not in self.actions:
                raise ValueError(f"rate_limits.{action}: no action '{action}' under 'actions'")
        for action, entry in self.actions.items():
            for where, outcome in [(f"rules.{r.name}", r) for r in entry.rules] + [
                ("otherwise", entry.otherwise)
            ]:
                self._check_reachable_count(f"actions.{action}.{where}", outcome)
        return self

    def _check_reachable_count(self, where: str, outcome: Outcome) -> None:
        """Fail when the named groups list only individual users, and too few of them."""
        if outcome.decide != "approval":
            return
        if outcome.each_group:
            self._check_groups_can_each_approve(where, outcome.groups)
            return
        members = {member for group in outcome.groups for member in self.groups[group]}
        if all(USER_ID_RE.match(member) for member in members) and len(members) < outcome.count:
            raise ValueError(
                f"{where}.count: needs {outcome.count} approvers "
                f"but its groups list only {len(members)} people"
            )

    def _check_groups_can_each_approve(self, where: str, groups: list[str]) -> None:
        """Fail when the groups that list only individual users cannot each give a different person."""
        fixed = [g for g in groups if all(USER_ID_RE.match(member) for member in self.groups[g])]
        people = {
            person: {g for g in fixed if person in self.groups[g]} for g in fixed for person in self.groups[g]
        }
        assigned = assign_to_groups(fixed, people)
        short = [group for group in fixed if group not in assigned]
        if short:
            raise ValueError(
                f"{where}.each_group: groups {', '.join(fixed)} cannot each give a different person "
                f"(one person counts for one group only); {short[0]} is left without an approver"
            )


class PriceTable(_Strict):
    source: str = Field(min_length=1)
    as_of: str = Field(min_length=1)
    region: str = Field(min_length=1)
    currency: Literal["USD"]
    hours_per_month: int = Field(default=730, ge=1)
    hourly: dict[Annotated[str, Field(pattern=INSTANCE_TYPE_RE)], Annotated[float, Field(gt=0)]]
    # USD per GB-month of provisioned EBS storage, by volume type (gp3, gp2, io1, ...), and of EBS
    # snapshot storage (standard tier). Optional: a table without them prices no volume or snapshot.
    ebs_gb_month: dict[Annotated[str, Field(pattern=VOLUME_TYPE_RE)], Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict
    )
    snapshot_gb_month: float | None = Field(default=None, gt=0)
