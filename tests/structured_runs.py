"""Run the real graph for an intent given as data, for actions whose request wording the rule parser does not
read yet (grant_vendor_access, regional_failover, ...): everything after parse is the normal run.

``start_with_intent`` does what ``Pipeline.start`` does, except that the parse node's reading is supplied:
LangGraph's ``update_state(..., as_node="parse")`` checkpoints it, and the graph continues from there
(retrieve, plan, audit, decide, approve, ...). The result goes through the pipeline's own ``_finish``, so
pending approvals, votes and escalation behave exactly as after ``start``.
"""

from __future__ import annotations

import uuid
from typing import Any

from graph.models import Intent
from graph.state import fresh_run
from runtime.pipeline import Pipeline, RunResult


def start_with_intent(pipeline: Pipeline, thread_id: str, intent: Intent) -> RunResult:
    config: Any = {"configurable": {"thread_id": thread_id}}
    reading = intent.model_dump(mode="json")
    run = fresh_run(thread_id, uuid.uuid4().hex[:12], {"text": intent.text, "requester": intent.requester})
    parsed = {**run, "intent": reading, "rules_intent": reading, "llm": {"notes": ["intent given as data"]}}
    pipeline.graph.update_state(config, parsed, as_node="parse")
    state = pipeline.graph.invoke(None, config, context=pipeline.ctx)
    return pipeline._finish(thread_id, dict(state))


def request_intent(action: str, params: dict[str, Any], requester: str, named: list[str]) -> Intent:
    """A person's request for ``action`` that names ``named`` (what the audit holds the plan to)."""
    return Intent(
        action=action,
        params=params,
        source="request",
        text=f"{action} {' '.join(named)}",
        requester=requester,
        named_resources=named,
    )
