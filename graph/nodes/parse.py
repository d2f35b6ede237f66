"""parse: text or an AWS event becomes a typed Intent. Rules always work offline."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.models import Intent
from graph.parsing import EventFormatError, intent_from_event, parse_request
from graph.state import GraphState, JsonDict


def read_intent(state: GraphState, ctx: GraphContext) -> Intent:
    run_input = state.get("input", {})
    requester = run_input.get("requester", "")
    if "event" in run_input:
        try:
            intent = intent_from_event(run_input["event"])
        except EventFormatError as error:
            return Intent(action="unknown", source="alert", requester=requester, errors=[str(error)])
        return intent.model_copy(update={"requester": requester})
    return parse_request(
        run_input.get("text", ""), requester=requester, default_region=ctx.settings.aws_region
    )


def parse(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    return {"intent": read_intent(state, runtime.context).model_dump(mode="json")}
