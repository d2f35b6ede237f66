"""remember: store the finished run in incident memory, so a similar case later finds it.

Only runs that planned something are remembered; control and read-only answers are not incidents.
Remembering comes after the run acted, so it never fails the run.
"""

from __future__ import annotations

import logging

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.models import CONTROL_ACTIONS
from graph.state import GraphState, JsonDict
from knowledge.memory import NoMemory, incident_record

logger = logging.getLogger(__name__)


def worth_remembering(state: GraphState) -> bool:
    return state.get("intent", {}).get("action") not in CONTROL_ACTIONS and bool(state.get("plan"))


def remember(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    memory = runtime.context.memory
    if isinstance(memory, NoMemory) or not worth_remembering(state):
        return {}
    try:
        memory.remember(incident_record(dict(state), runtime.context.audit.path))
    except Exception:  # the run already acted and was documented; a memory failure must not undo that
        logger.exception("thread %s was not remembered", state.get("thread_id", ""))
    return {}
