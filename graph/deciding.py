"""Facts for the policy, gathered from state and the store; the policy itself stays a pure function."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from graph.context import GraphContext
from graph.models import Intent, PlanStep
from policies.decision import DecisionFacts, PolicyDecision
from policies.engine import Policy, decide_plan
from runtime.coordination import paused_state, rate_used
from tools.registry import REGISTRY
from tools.routes import route_key

ROLLBACK_NEEDS_PEOPLE = (
    "a rollback undoes an executed action (deleting a snapshot, reopening access), so a person "
    "approves it even where the action itself may run on its own"
)


def never_auto_rollback(policy: Policy, steps: list[PlanStep], decision: PolicyDecision) -> PolicyDecision:
    """A plan that rolls something back never runs without a person: auto becomes approval."""
    if decision.decision != "auto" or not any(step.action == "rollback" for step in steps):
        return decision
    return PolicyDecision(
        decision="approval",
        approvers=list(policy.default_approvers),
        count=1,
        allow_requester=True,
        reasons=[*decision.reasons, ROLLBACK_NEEDS_PEOPLE],
    )


def validation_errors(action: str, params: dict[str, Any]) -> list[str]:
    spec = REGISTRY.get(action)
    if spec is None:
        return []
    try:
        spec.parse_args(params)
    except ValidationError as error:
        return [plain_error(action, issue) for issue in error.errors()]
    return []


def plain_error(action: str, issue: Any) -> str:
    field = ".".join(str(part) for part in issue.get("loc", ())) or "arguments"
    message = str(issue.get("msg", "is invalid")).removeprefix("Value error, ")
    value = issue.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) and field != "arguments" else ""
    return f"{action}: {field}: {message}{shown}"


def step_facts(
    step: PlanStep, intent: Intent, state_context: dict[str, Any], ctx: GraphContext
) -> DecisionFacts:
    action, params = step.governing()
    alert = intent.alert
    asg = state_context.get("asgs", {}).get(str(params.get("asg_name", "")), {})
    route_at = route_key(params.get("route_table_id"), params.get("destination_cidr"))
    route = state_context.get("routes", {}).get(route_at, {}) if action == "update_route" else {}
    same_target = route.get("new_target") == params.get("target")  # health read for this very target
    errors = [*intent.errors, *state_context.get("problems", []), *validation_errors(action, params)]
    return DecisionFacts(
        action=action,
        params=params,
        errors=list(dict.fromkeys(errors)),
        source=intent.source,
        alert_kind=alert.kind if alert else None,
        alert_severity=alert.severity if alert else None,
        finding_severity=alert.severity if alert and alert.kind == "guardduty" else None,
        sample=alert.sample if alert else False,
        resolved=alert.resolved if alert else False,
        paused=paused_state(ctx.store) is not None,
        requester=intent.requester,
        asg_current=asg.get("desired_capacity"),
        asg_max=asg.get("max_size"),
        monthly_cost_delta=step.monthly_cost_usd,
        rate_used=rate_used(ctx.store, action, ctx.clock()),
        alert_resources=[*alert.instance_ids, *alert.resource_ids] if alert else [],
        route_targets=list(route.get("current_targets", [])),
        new_target_healthy=route.get("new_target_healthy") if same_target else None,
    )


def decide_for(state: dict[str, Any], ctx: GraphContext) -> PolicyDecision:
    intent = Intent.model_validate(state["intent"])
    steps = [PlanStep.model_validate(step) for step in state.get("plan", [])]
    audit = state.get("audit", {})
    if audit.get("verdict") == "veto":
        why = "; ".join(audit.get("reasons", []))
        return PolicyDecision(decision="reject", reasons=[f"vetoed by the audit: {why}"])
    if not steps:
        if intent.errors or state.get("context", {}).get("problems"):
            reasons = [*intent.errors, *state.get("context", {}).get("problems", [])]
            return PolicyDecision(decision="reject", reasons=reasons)
        return PolicyDecision(decision="none", reasons=["read-only or control request: nothing to execute"])
    facts = [step_facts(step, intent, state.get("context", {}), ctx) for step in steps]
    decision = never_auto_rollback(ctx.policy, steps, decide_plan(ctx.policy, facts))
    unavailable = state.get("context", {}).get("unavailable", [])
    return (
        decision.model_copy(update={"reasons": [*decision.reasons, *unavailable]})
        if unavailable
        else decision
    )
