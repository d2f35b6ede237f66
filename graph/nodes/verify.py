"""verify: re-read AWS to confirm each executed step had its effect."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.executor import plain
from graph.state import GraphState, JsonDict
from tools.base import ToolError
from tools.registry import REGISTRY


def verify(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    ctx = runtime.context
    checks: list[JsonDict] = []
    if state.get("outcome") in ("rolled_back", "failed"):
        return {}
    for result in state.get("executions", []):
        spec = REGISTRY.get(str(result.get("action")))
        if result.get("status") != "ok" or spec is None:
            continue
        try:
            outcome = spec.verify(ctx.clients, spec.parse_args(result["params"]), result["record"])
            checks.append({"action_id": result["action_id"], "ok": outcome.ok, "detail": outcome.detail})
        except (ToolError, ClientError, BotoCoreError) as error:
            checks.append({"action_id": result["action_id"], "ok": False, "detail": plain(error)})
    return {"verification": checks}
