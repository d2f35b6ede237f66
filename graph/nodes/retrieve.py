"""retrieve: top-k runbooks and similar past incidents, with ids and scores kept in state."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.models import Intent
from graph.state import GraphState, JsonDict

TOP_K = 3


def retrieval_query(intent: Intent) -> str:
    parts = [intent.action.replace("_", " "), intent.text]
    if intent.alert is not None:
        parts += [intent.alert.kind, intent.alert.finding_type, intent.alert.title, intent.alert.metric_name]
    return " ".join(part for part in parts if part)


def retrieve(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    intent = Intent.model_validate(state["intent"])
    query = retrieval_query(intent)
    retriever = runtime.context.retriever
    return {
        "retrieved": {
            "query": query,
            "runbooks": [dict(hit) for hit in retriever.runbooks(query, TOP_K)],
            "incidents": [dict(hit) for hit in retriever.incidents(query, TOP_K)],
        }
    }
