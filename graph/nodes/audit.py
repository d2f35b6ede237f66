"""audit: an independent check with veto power. It reads state; it never executes.

The deterministic invariants (graph.auditing) always run. When an LLM is configured and there is a plan,
the audit agent (graph.llm.auditor) runs as well: it may add a veto, never remove one. When it cannot
answer, a note says so and the deterministic verdict stands.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.auditing import audit_plan, rules_reading
from graph.context import GraphContext
from graph.llm.auditor import AuditorVerdict, llm_audit
from graph.llm.budget import IncidentUsage
from graph.models import AuditVerdict, Intent, PlanStep
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
        rules_intent=rules_reading(state),
    )
    if ctx.llm is None or not steps:
        return {"audit": verdict.model_dump(mode="json")}
    llm = dict(state.get("llm") or {})
    usage = incident_usage(llm)
    found = llm_audit(ctx, state, usage)
    update: JsonDict = {**llm, **usage.model_dump(mode="json")}
    if found.call:
        update["replies"] = [*llm.get("replies", []), found.call]
    if isinstance(found, AuditorVerdict):
        update["auditor"] = found.record()
        verdict = with_llm_veto(verdict, found)
    else:
        update["notes"] = [*llm.get("notes", []), found.reason]
    return {"audit": verdict.model_dump(mode="json"), "llm": update}


def incident_usage(llm: dict[str, Any]) -> IncidentUsage:
    """The incident's LLM usage so far, from state (which also holds notes and records)."""
    return IncidentUsage.model_validate({k: v for k, v in llm.items() if k in IncidentUsage.model_fields})


def with_llm_veto(verdict: AuditVerdict, found: AuditorVerdict) -> AuditVerdict:
    """The deterministic verdict plus the agent's veto, if any: a veto is only ever added."""
    if found.verdict != "veto":
        return verdict
    return AuditVerdict(verdict="veto", reasons=[*verdict.reasons, *found.reasons])
