"""The audit's deterministic invariants. The audit judges; it never executes.

1. every resource a step touches was named in the request or alert, or found while gathering context;
2. every step's action is one the intent calls for;
3. blast radius and rate limits hold;
4. automation is not paused;
5. untrusted alert text carried no instructions addressed to the automation;
6. where the rule parser recognised an action, the LLM's reading names the same one: when they
   differ, a person decides (this blocks "terminate" for an alert the rules read as "isolate", even
   when the LLM auditor passed it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from graph.models import AuditVerdict, Intent, PlanStep
from graph.planning import allowed_steps
from policies.engine import Policy
from tools.registry import REGISTRY


def canonical_resource(value: str) -> str:
    """IPs and networks compare as networks (203.0.113.5 == 203.0.113.5/32); ids as lower case."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        return value.strip().lower()


def step_resources(step: PlanStep) -> list[str]:
    if step.action == "rollback":  # the action id, and what undoing it touches
        undone = step.params.get("of_action")
        of_params = step.params.get("of_params")
        touched = (
            step_resources(PlanStep(action=undone, params=of_params))
            if isinstance(undone, str) and undone != "rollback" and isinstance(of_params, dict)
            else []
        )
        return [str(step.params.get("action_id", "")), *touched]
    spec = REGISTRY.get(step.action)
    if spec is None:
        return []
    try:
        return [str(resource) for resource in spec.resources(spec.parse_args(step.params))]
    except ValueError:
        return []  # invalid args touch nothing: policy rejects them, and the executor re-validates


def audit_plan(
    intent: Intent,
    steps: list[PlanStep],
    found: list[str],
    policy: Policy,
    paused: bool,
    rate_used: dict[str, int],
    rules_intent: Intent | None = None,
) -> AuditVerdict:
    """The deterministic verdict. ``rules_intent`` is the rule parser's reading of the same input
    (state ``rules_intent``); pass it whenever the intent may have come from the LLM."""
    reasons: list[str] = disagreement(intent, rules_intent)
    known = {canonical_resource(name) for name in [*intent.named_resources, *found] if name}
    allowed = allowed_steps(intent.action)
    for index, step in enumerate(steps, start=1):
        if step.action not in allowed:
            reasons.append(
                f"step {index} ({step.action}) is not an action a '{intent.action}' request calls for"
            )
        for resource in step_resources(step):
            if canonical_resource(resource) in known:
                continue
            reasons.append(f"step {index} ({step.action}) touches {resource}, which the input never named")
    reasons += _blast_radius(steps, policy, rate_used)
    if paused and steps:
        reasons.append("automation is paused (kill switch); nothing may execute")
    for directive in intent.untrusted_directives:
        reasons.append(
            f"the alert's own text carries instructions to the bot, treated as data: «{directive}»"
        )
    return AuditVerdict(verdict="veto" if reasons else "pass", reasons=reasons)


def rules_reading(state: Mapping[str, Any]) -> Intent | None:
    """The rule parser's intent from graph state (``rules_intent``), or None before parse made one."""
    raw = state.get("rules_intent")
    return Intent.model_validate(raw) if isinstance(raw, Mapping) and raw else None


def disagreement(intent: Intent, rules_intent: Intent | None) -> list[str]:
    """A veto reason when the rules recognised an action and the intent (the LLM's) names another."""
    if rules_intent is None or rules_intent.action in ("", "unknown") or rules_intent.action == intent.action:
        return []
    return [f"the LLM read {intent.action}, the rules read {rules_intent.action}: a person must decide"]


def _blast_radius(steps: list[PlanStep], policy: Policy, rate_used: dict[str, int]) -> list[str]:
    reasons: list[str] = []
    limits = policy.blast_radius
    if len(steps) > limits.max_steps_per_plan:
        reasons.append(f"plan has {len(steps)} steps; the blast-radius limit is {limits.max_steps_per_plan}")
    instances = {str(s.params.get("instance_id")) for s in steps if s.params.get("instance_id")}
    if len(instances) > limits.max_instances_per_plan:
        reasons.append(
            f"plan touches {len(instances)} instances; the limit is {limits.max_instances_per_plan}"
        )
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.action] = counts.get(step.action, 0) + 1
    for action, count in counts.items():
        limit = policy.rate_limits.get(action)
        used = rate_used.get(action, 0)
        if limit is not None and used + count > limit:
            reasons.append(f"{action} would exceed its rate limit: {used} of {limit} used this hour")
    return reasons
