"""plan: ordered, typed steps with expected effect, rollback and cost; context gathered read-only."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.models import Intent
from graph.planning import make_plan
from graph.state import GraphState, JsonDict


def plan(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    intent = Intent.model_validate(state["intent"])
    planned = make_plan(intent, runtime.context, state.get("retrieved", {}))
    return {
        "plan": [step.model_dump(mode="json") for step in planned.steps],
        "context": {
            **planned.context,
            "problems": planned.problems,
            "unavailable": planned.unavailable,
            "found": sorted(set(planned.found)),
        },
    }
