"""approve: wait for people. No side effects before ``interrupt()``: this node reruns on resume.

The runtime checks the clicker's authority and claims the approval atomically before it resumes
the graph; this node checks again what it can without Slack (count, distinct people, requester,
expiry), so a resume value that skipped those checks still cannot execute anything.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graph.context import GraphContext
from graph.state import GraphState, JsonDict


def approval_request(state: GraphState) -> JsonDict:
    """The typed interrupt payload: what a person is asked to approve."""
    return {
        "thread_id": state.get("thread_id", ""),
        "intent": state.get("intent", {}),
        "plan": state.get("plan", []),
        "audit": state.get("audit", {}),
        "decision": state.get("decision", {}),
        "retrieved": state.get("retrieved", {}),
        **state.get("approval", {}),
    }


def judge_answer(pending: JsonDict, answer: Any, now: float) -> JsonDict:
    base = {k: pending[k] for k in ("groups", "count", "allow_requester", "requester", "expires_at")}
    base["each_group"] = bool(pending.get("each_group", False))
    if not isinstance(answer, dict):
        return {**base, "status": "rejected", "reason": "the resume value was not an approval answer"}
    approvers = sorted({str(user) for user in answer.get("approvers", [])})
    status = answer.get("status")
    if answer.get("run_id", "") != pending.get("run_id", ""):
        return {**base, "status": "rejected", "reason": "the answer was for another request on this thread"}
    if now > float(pending["expires_at"]) or status == "expired":
        return {**base, "status": "expired", "approvers": [], "reason": "the approval expired"}
    if status != "approved":
        return {
            **base,
            "status": "rejected",
            "approvers": approvers,
            "by": answer.get("by", ""),
            "reason": str(answer.get("reason", "rejected")),
        }
    if not pending["allow_requester"] and pending["requester"] in approvers:
        return {
            **base,
            "status": "rejected",
            "approvers": approvers,
            "reason": "the requester may not approve",
        }
    if len(approvers) < int(pending["count"]):
        return {
            **base,
            "status": "rejected",
            "approvers": approvers,
            "reason": f"{pending['count']} distinct approvers are needed, got {len(approvers)}",
        }
    if base["each_group"]:
        by_group: Any = answer.get("by_group")
        missing = each_group_gap(list(pending["groups"]), by_group, approvers)
        if missing:
            return {**base, "status": "rejected", "approvers": approvers, "reason": missing}
        return {**base, "status": "approved", "approvers": approvers, "by_group": dict(by_group)}
    return {**base, "status": "approved", "approvers": approvers}


def each_group_gap(groups: list[str], by_group: Any, approvers: list[str]) -> str:
    """Why an answer does not give one distinct approver for every group ("" when it does).

    Group membership was checked by the runtime before the claim (it needs Slack's user groups);
    this checks the shape: every group has an approver, who voted, and nobody covers two groups.
    """
    if not isinstance(by_group, dict):
        return "one approver from each group is needed, and the answer does not say who approved for which"
    missing = [group for group in groups if group not in by_group]
    if missing:
        return f"one approver from each group is needed; still missing: {', '.join(missing)}"
    people = [str(by_group[group]) for group in groups]
    if len(set(people)) != len(people):
        return "one person counts for one group only, and the answer gives one person for two groups"
    if not set(people) <= set(approvers):
        return "the answer names a group approver who did not approve"
    return ""


def approve(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    pending = state.get("approval", {})
    if pending.get("status") != "pending":
        return {}
    answer = interrupt(approval_request(state))
    return {"approval": judge_answer(pending, answer, runtime.context.clock())}
