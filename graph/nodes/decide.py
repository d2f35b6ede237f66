"""decide: policy-as-code says auto, approval, reject or log_only. Pure: no side effects."""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.deciding import decide_for
from graph.state import GraphState, JsonDict


def decide(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    ctx = runtime.context
    decision = decide_for(dict(state), ctx)
    update: JsonDict = {"decision": decision.model_dump(mode="json")}
    if decision.decision == "approval":
        ttl = ctx.settings.approval_ttl_seconds or ctx.policy.approval_ttl_seconds
        update["approval"] = {
            "status": "pending",
            "groups": decision.approvers,
            "count": max(decision.count, 1),
            "each_group": decision.each_group,
            "allow_requester": decision.allow_requester,
            "requester": state["intent"].get("requester", ""),
            "expires_at": ctx.clock() + ttl,
            "run_id": state.get("run_id", ""),
        }
    else:
        update["approval"] = {"status": "not_needed"}
    return update
