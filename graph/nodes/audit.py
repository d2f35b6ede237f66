"""audit: an independent check with veto power. It reads state; it never executes."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.auditing import audit_plan
from graph.context import GraphContext
from graph.models import Intent, PlanStep
from graph.state import GraphState, JsonDict
from runtime.coordination import paused_state, rate_used


def audit(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    ctx = runtime.context
    intent = Intent.model_validate(state["intent"])
    steps = [PlanStep.model_validate(step) for step in state.get("plan", [])]
    now = ctx.clock()
    used = {step.action: rate_used(ctx.store, step.action, now) for step in steps}
    verdict = audit_plan(
        intent,
        steps,
        found=list(state.get("context", {}).get("found", [])),
        policy=ctx.policy,
        paused=paused_state(ctx.store) is not None,
        rate_used=used,
    )
    return {"audit": verdict.model_dump(mode="json")}
