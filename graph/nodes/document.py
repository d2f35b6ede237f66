"""document: a summary in the thread; the audit log entry is written by the node wrapper."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.render import outcome_of, summary
from graph.state import GraphState, JsonDict


def document(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    outcome = outcome_of(dict(state))
    runtime.context.notifier.post(state.get("thread_id", ""), summary({**state, "outcome": outcome}))
    return {"outcome": outcome}
