"""Policy as code: decide what a plan may do, step by step and as a whole.

``decide`` and ``decide_plan`` are pure: no I/O, no clock.  The models live in ``policies.schema``, file
reading in ``policies.loading``, ``when`` evaluation in ``policies.conditions`` and group membership in
``policies.membership``; their public names are re-exported here (``import name as name``), where
callers import them from.
"""

from __future__ import annotations

from collections.abc import Sequence

from policies.conditions import ADDRESS_PARAM_KEYS as ADDRESS_PARAM_KEYS
from policies.conditions import DESIRED_PARAM_KEYS as DESIRED_PARAM_KEYS
from policies.conditions import IPV4_MAPPED as IPV4_MAPPED
from policies.conditions import IPV6_PREFIX_SHIFT as IPV6_PREFIX_SHIFT
from policies.conditions import NON_PUBLIC_NETWORKS as NON_PUBLIC_NETWORKS
from policies.conditions import IpNetwork as IpNetwork
from policies.conditions import UnreadableFact, matching_outcome
from policies.decision import DecisionFacts, PolicyDecision
from policies.loading import DEFAULT_POLICY_PATH as DEFAULT_POLICY_PATH
from policies.loading import DEFAULT_PRICES_PATH as DEFAULT_PRICES_PATH
from policies.loading import POLICY_DIR as POLICY_DIR
from policies.loading import load_policy as load_policy
from policies.loading import load_prices as load_prices
from policies.membership import ControlCommand as ControlCommand
from policies.membership import ExpandUsergroup as ExpandUsergroup
from policies.membership import approver_groups_of as approver_groups_of
from policies.membership import can_approve as can_approve
from policies.membership import can_control as can_control
from policies.schema import INSTANCE_TYPE_RE as INSTANCE_TYPE_RE
from policies.schema import MEMBER_RE as MEMBER_RE
from policies.schema import NAME_RE as NAME_RE
from policies.schema import USER_ID_RE as USER_ID_RE
from policies.schema import ActionPolicy as ActionPolicy
from policies.schema import AlertGating as AlertGating
from policies.schema import BlastRadius as BlastRadius
from policies.schema import Conditions as Conditions
from policies.schema import Control as Control
from policies.schema import GroupList as GroupList
from policies.schema import GroupName as GroupName
from policies.schema import Outcome as Outcome
from policies.schema import Policy as Policy
from policies.schema import PolicyError as PolicyError
from policies.schema import PriceTable as PriceTable
from policies.schema import Rule as Rule
from policies.schema import RuleDecision as RuleDecision

RESTRICTIVENESS: dict[str, int] = {"none": 0, "auto": 1, "log_only": 2, "approval": 3, "reject": 4}


def decide(policy: Policy, facts: DecisionFacts) -> PolicyDecision:
    """Decide one plan step: auto, approval (who, how many), reject or log_only, with plain reasons."""
    entry = policy.actions.get(facts.action)
    if entry is None:
        return _reject(f"no policy rule for action {facts.action} (default deny)")
    if facts.errors:
        return _reject(*facts.errors)
    if facts.paused:
        return _reject(f"automation is paused (a member of {_or_list(policy.control.resume)} can resume it)")
    limit = policy.rate_limits.get(facts.action)
    if limit is not None and facts.rate_used >= limit:
        return _reject(
            f"rate limit reached: {facts.action} may run {limit} times per hour "
            f"and has run {facts.rate_used} times this hour"
        )
    severity = facts.alert_severity
    if facts.source == "alert" and facts.resolved:
        return PolicyDecision(
            decision="log_only", reasons=["the alarm is resolved / the check passed: logged only"]
        )
    if facts.source == "alert" and severity is not None and severity < policy.alerts.log_only_below:
        return PolicyDecision(
            decision="log_only",
            reasons=[f"alert severity {severity:g} is below {policy.alerts.log_only_below:g}: logged only"],
        )
    try:
        name, outcome = matching_outcome(entry, facts)
    except UnreadableFact as exc:
        return _reject(str(exc))
    decision = _from_outcome(outcome, f"{facts.action} rule '{name}': {outcome.reason}")
    medium_alert = facts.source == "alert" and (severity is None or severity < policy.alerts.auto_at_least)
    if decision.decision == "auto" and medium_alert:
        return _escalated(policy, entry, decision, severity)
    return decision


def decide_plan(policy: Policy, facts_per_step: Sequence[DecisionFacts]) -> PolicyDecision:
    """Decide a whole plan: the most restrictive step wins (reject > approval > log_only > auto)."""
    if not facts_per_step:
        return PolicyDecision(decision="none", reasons=["the plan has no steps"])
    limit = policy.blast_radius.max_steps_per_plan
    if len(facts_per_step) > limit:
        return _reject(f"the plan has {len(facts_per_step)} steps; policy allows at most {limit} per plan")
    decisions = [decide(policy, facts) for facts in facts_per_step]
    worst = max((d.decision for d in decisions), key=RESTRICTIVENESS.__getitem__)
    deciding = [
        (i, f, d)
        for i, (f, d) in enumerate(zip(facts_per_step, decisions, strict=True))
        if d.decision == worst
    ]
    reasons = [f"step {i + 1} ({facts.action}): {reason}" for i, facts, d in deciding for reason in d.reasons]
    if worst != "approval":
        return PolicyDecision(decision=worst, reasons=reasons)
    approvers = list(dict.fromkeys(group for _, _, d in deciding for group in d.approvers))
    # One step asking for one approver from each group makes the plan need one from each of them all
    # (stricter, never weaker, than each step alone), with at least as many people as any step asks.
    each_group = any(d.each_group for _, _, d in deciding)
    count = max(d.count for _, _, d in deciding)
    return PolicyDecision(
        decision="approval",
        approvers=approvers,
        count=max(count, len(approvers)) if each_group else count,
        each_group=each_group,
        allow_requester=all(d.allow_requester for _, _, d in deciding),
        reasons=reasons,
    )


def rate_limit(policy: Policy, action: str) -> int | None:
    """Executions of ``action`` allowed per hour, or ``None`` when the policy sets no limit."""
    return policy.rate_limits.get(action)


def monthly_cost_delta(prices: PriceTable, instance_type: str, delta_instances: int) -> float | None:
    """USD/month that ``delta_instances`` more (or fewer) instances add; ``None`` if the type is unknown."""
    hourly = prices.hourly.get(instance_type.strip())
    if hourly is None:
        return None
    return round(hourly * prices.hours_per_month * delta_instances, 2)


def _from_outcome(outcome: Outcome, reason: str) -> PolicyDecision:
    if outcome.decide != "approval":
        return PolicyDecision(decision=outcome.decide, reasons=[reason])
    return PolicyDecision(
        decision="approval",
        approvers=list(outcome.groups),
        count=outcome.approvers_needed,
        each_group=outcome.each_group,
        allow_requester=outcome.allow_requester,
        reasons=[reason],
    )


def _escalated(
    policy: Policy, entry: ActionPolicy, decision: PolicyDecision, severity: float | None
) -> PolicyDecision:
    """A medium (or unknown) severity alert never acts alone: raise auto to approval."""
    fallback = entry.otherwise
    each_group = fallback.decide == "approval" and fallback.each_group
    if fallback.decide == "approval":
        groups, count = list(fallback.groups), fallback.approvers_needed
        allow_requester = fallback.allow_requester
    else:
        groups, count, allow_requester = list(policy.default_approvers), 1, True
    level = "unknown" if severity is None else f"{severity:g}, below {policy.alerts.auto_at_least:g}"
    who = f"one approver from each of {', '.join(groups)}" if each_group else _or_list(groups)
    reason = f"alert severity is {level}: automatic actions need approval by {who}"
    return PolicyDecision(
        decision="approval",
        approvers=groups,
        count=count,
        each_group=each_group,
        allow_requester=allow_requester,
        reasons=[*decision.reasons, reason],
    )


def _reject(*reasons: str) -> PolicyDecision:
    return PolicyDecision(decision="reject", reasons=list(reasons))


def _or_list(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
