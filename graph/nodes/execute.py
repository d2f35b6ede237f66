"""execute: each step through the one executor path; a failure rolls back what completed."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.executor import execute_step, roll_back
from graph.models import PlanStep
from graph.state import GraphState, JsonDict
from runtime.vendor_expiry import schedule_expiries


def execute(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    ctx = runtime.context
    results: list[JsonDict] = []
    for index, raw in enumerate(state.get("plan", [])):
        result = execute_step(ctx, dict(state), index, PlanStep.model_validate(raw))
        results.append(result)
        if result["status"] not in ("ok", "dry_run"):
            break
    schedule_expiries(ctx, str(state["thread_id"]), results)  # time-boxed grants end on time
    failed = [r for r in results if r["status"] in ("failed", "refused")]
    if not failed:
        return {"executions": results}
    completed = [r for r in results if r["status"] == "ok"]
    undo = roll_back(ctx, str(state["thread_id"]), completed) if completed else []
    return {"executions": results, "outcome": "rolled_back" if undo else "failed", "rollbacks": undo}
