"""respond: control and read-only intents are answered here and never reach execute."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.control import RESPONDERS, unknown
from graph.models import Intent
from graph.state import GraphState, JsonDict


def respond(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    intent = Intent.model_validate(state["intent"])
    responder = RESPONDERS.get(intent.action, unknown)
    return {
        "reply": responder(runtime.context, intent),
        "outcome": "answered",
        "decision": {
            "decision": "none",
            "approvers": [],
            "count": 0,
            "allow_requester": True,
            "reasons": ["read-only or control request: nothing to execute"],
        },
    }
