"""Graph state: JSON-native values only, so a checkpoint reload gives back the same thing.

Pydantic models (graph.models, policies.decision) are validated at the boundaries and stored
here as ``model_dump(mode="json")`` dicts.
"""

from __future__ import annotations

from typing import Any, TypedDict

JsonDict = dict[str, Any]


class RunInput(TypedDict, total=False):
    text: str  # a request typed by a person
    event: JsonDict  # an AWS alert payload
    requester: str  # Slack user id, or cli:<user>
    channel: str


class GraphState(TypedDict, total=False):
    thread_id: str
    run_id: str  # one request or alert on the thread; approvals and executions are scoped to it
    input: RunInput
    intent: JsonDict  # graph.models.Intent
    rules_intent: JsonDict  # the rule parser's reading, always made; the LLM's may not contradict it
    proposal: JsonDict  # the LLM's validated plan proposal: {"steps": [...], "model": ...}, or {}
    llm: JsonDict  # graph.llm.IncidentUsage plus "notes": why the LLM was not used or was overruled
    retrieved: JsonDict  # {"runbooks": [...], "incidents": [...]} with ids and scores
    context: JsonDict  # facts gathered read-only from AWS while planning
    plan: list[JsonDict]  # graph.models.PlanStep
    audit: JsonDict  # graph.models.AuditVerdict
    decision: JsonDict  # policies.decision.PolicyDecision
    approval: JsonDict  # {"status": approved|rejected|expired|not_needed, "approvers": [...]}
    executions: list[JsonDict]  # one per executed (or skipped/failed/rolled back) step
    rollbacks: list[JsonDict]  # undo of completed steps after a failure
    verification: list[JsonDict]
    outcome: str
    reply: str  # what the thread is told


def fresh_run(thread_id: str, run_id: str, run_input: RunInput) -> GraphState:
    """The input of a new run: every per-run key is reset, so nothing from an earlier run on the same
    thread (its outcome, executions, reply) is read back as if it belonged to this one."""
    return {
        "thread_id": thread_id,
        "run_id": run_id,
        "input": run_input,
        "intent": {},
        "rules_intent": {},
        "proposal": {},
        "llm": {},
        "retrieved": {},
        "context": {},
        "plan": [],
        "audit": {},
        "decision": {},
        "approval": {},
        "executions": [],
        "rollbacks": [],
        "verification": [],
        "outcome": "",
        "reply": "",
    }
