"""plan: ordered, typed steps with expected effect, rollback and cost; context gathered read-only.

With an LLM proposal for the current intent, its steps are the plan (described and priced by the
registry and price table, never by the LLM); otherwise the rule planner plans.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.models import Intent
from graph.planning import Planned, make_plan, plan_from_proposal
from graph.state import GraphState, JsonDict


def proposed_steps(state: GraphState, intent: Intent) -> list[dict[str, Any]]:
    """The LLM's steps when its proposal is for this intent; [] otherwise (the rules plan)."""
    proposal = state.get("proposal") or {}
    steps = proposal.get("steps")
    if proposal.get("intent") != intent.action or not isinstance(steps, list):
        return []
    return [dict(step) for step in steps if isinstance(step, dict)]


def plan(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    intent = Intent.model_validate(state["intent"])
    retrieved = state.get("retrieved", {})
    steps = proposed_steps(state, intent)
    planned: Planned
    if steps:
        why = str((state.get("proposal") or {}).get("why", ""))
        planned = plan_from_proposal(intent, runtime.context, steps, why, retrieved)
    else:
        planned = make_plan(intent, runtime.context, retrieved)
    planned.context["planned_by"] = "llm" if steps else "rules"
    return {
        "plan": [step.model_dump(mode="json") for step in planned.steps],
        "context": {
            **planned.context,
            "problems": planned.problems,
            "unavailable": planned.unavailable,
            "found": sorted(set(planned.found)),
        },
    }
