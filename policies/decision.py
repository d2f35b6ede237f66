"""The inputs and output of ``policies.engine.decide``: plain data, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
    alert_resources: list[str] = Field(default_factory=list)  # instance and other ids the alert names
    route_targets: list[str] = Field(default_factory=list)  # update_route: where the route sends traffic now
    new_target_healthy: bool | None = None  # update_route: the new target's health; None = unknown


class PolicyDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    approvers: list[str] = Field(default_factory=list)  # group names, any member may approve
    count: int = 0  # distinct approvers needed
    each_group: bool = False  # one distinct approver from every group in ``approvers`` (count = how many)
    allow_requester: bool = True  # may the requester be one of them
    reasons: list[str] = Field(default_factory=list)


def assign_to_groups(groups: Sequence[str], people: Mapping[str, Collection[str]]) -> dict[str, str]:
    """A largest assignment of distinct people to ``groups``, as ``{group: person}``.

    ``people`` maps each person to the groups they belong to. A person is assigned only to a group
    they are in, and to one group only (someone in network and security covers one of them). This is
    a bipartite matching, grown by augmenting paths; people are tried in the order given, so earlier
    voters keep their place where the choice is free.
    """
    holder: dict[str, str] = {}  # person -> group

    def place(group: str, tried: set[str]) -> bool:
        for person, member_of in people.items():
            if group not in member_of or person in tried:
                continue
            tried.add(person)
            if person not in holder or place(holder[person], tried):
                holder[person] = group
                return True
        return False

    for group in dict.fromkeys(groups):
        place(group, set())
    by_group = {group: person for person, group in holder.items()}
    return {group: by_group[group] for group in dict.fromkeys(groups) if group in by_group}


def groups_still_needed(groups: Sequence[str], assigned: Mapping[str, str]) -> list[str]:
    """The groups in ``groups`` that have no approver in ``assigned`` yet, in the policy's order."""
    return [group for group in dict.fromkeys(groups) if group not in assigned]


def one_from_each(groups: Sequence[str]) -> str:
    """'one approver from network' / 'one approver from each of network, security and compliance'."""
    names = list(groups)
    if len(names) == 1:
        return f"one approver from {names[0]}"
    return f"one approver from each of {', '.join(names[:-1])} and {names[-1]}"
