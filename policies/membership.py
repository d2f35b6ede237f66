"""Who belongs to which policy group, and so who may approve a step or pause and resume automation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from policies.decision import PolicyDecision
from policies.schema import USER_ID_RE, Policy

ControlCommand = Literal["pause", "resume"]
ExpandUsergroup = Callable[[str], Iterable[str]]


def approver_groups_of(
    policy: Policy, user_id: str, expand_usergroup: ExpandUsergroup | None = None
) -> set[str]:
    """The policy groups ``user_id`` belongs to, directly or through a Slack user group.

    ``expand_usergroup`` turns a user-group id (S...) or handle (@name) into its members' user ids;
    without it, only users listed by id count.
    """
    if not USER_ID_RE.match(user_id):  # a group handle or id is never a person who can approve
        return set()
    expanded: dict[str, set[str]] = {}
    result: set[str] = set()
    for group, members in policy.groups.items():
        for member in members:
            if USER_ID_RE.match(member):
                if member == user_id:
                    result.add(group)
                    break
                continue
            if expand_usergroup is None:
                continue
            if member not in expanded:
                expanded[member] = set(expand_usergroup(member))
            if user_id in expanded[member]:
                result.add(group)
                break
    return result


def can_control(
    policy: Policy,
    user_id: str,
    command: ControlCommand = "pause",
    expand_usergroup: ExpandUsergroup | None = None,
) -> bool:
    """May ``user_id`` pause (or resume) all automation?"""
    allowed = policy.control.pause if command == "pause" else policy.control.resume
    return bool(approver_groups_of(policy, user_id, expand_usergroup) & set(allowed))


def can_approve(
    policy: Policy,
    decision: PolicyDecision,
    user_id: str,
    requester: str,
    expand_usergroup: ExpandUsergroup | None = None,
) -> bool:
    """May ``user_id`` give one of the approvals ``decision`` asks for?  Counting them is the caller's job."""
    if decision.decision != "approval":
        return False
    if not decision.allow_requester and user_id == requester:
        return False
    return bool(approver_groups_of(policy, user_id, expand_usergroup) & set(decision.approvers))
