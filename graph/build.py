"""build_graph(): the one LangGraph StateGraph every request and alert runs through.

    parse ─► retrieve ─► plan ─► audit ─► decide ─► approve ─► execute ─► verify ─► document ─► remember
      └─► respond (control / read-only) ─────────────────────────────────────────────┘
                                      (decide: reject/log_only, approve: rejected/expired ─► document)

remember stores runs that planned something in incident memory; it skips control answers.

Every node's update is written to the audit log with its timing by ``audited``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.nodes.approve import approve
from graph.nodes.audit import audit
from graph.nodes.decide import decide
from graph.nodes.document import document
from graph.nodes.execute import execute
from graph.nodes.parse import parse
from graph.nodes.plan import plan
from graph.nodes.remember import remember
from graph.nodes.respond import respond
from graph.nodes.retrieve import retrieve
from graph.nodes.verify import verify
from graph.routing import after_approve, after_decide, after_parse
from graph.state import GraphState, JsonDict
from runtime.metrics import record_audit_verdict, record_decision, record_latency


class Node(Protocol):
    def __call__(self, state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict: ...


PIPELINE: list[tuple[str, Node]] = [
    ("parse", parse),
    ("retrieve", retrieve),
    ("plan", plan),
    ("audit", audit),
    ("decide", decide),
    ("approve", approve),
    ("execute", execute),
    ("verify", verify),
    ("document", document),
    ("remember", remember),
    ("respond", respond),
]


def count_outcome(name: str, update: JsonDict) -> None:
    """Decisions and audit vetoes of graph runs into the metrics (previews, which call nodes directly,
    are not counted, and the nodes themselves stay free of side effects)."""
    if name == "decide" and update.get("decision"):
        record_decision(str(update["decision"].get("decision", "")))
    elif name == "audit" and update.get("audit"):
        record_audit_verdict(str(update["audit"].get("verdict", "")))


def audited(name: str, node: Node) -> Node:
    """Run a node and write its update, with timing, to the hash-chained audit log."""

    def run(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
        started = time.perf_counter()
        update = node(state, runtime)
        record_latency(name, time.perf_counter() - started)
        count_outcome(name, update)
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        if update:
            entry: dict[str, Any] = {**update, "duration_ms": elapsed, "run_id": state.get("run_id", "")}
            if name == "parse":
                entry["input"] = state.get("input", {})
            runtime.context.audit.append(name, str(state.get("thread_id", "")), entry)
        return update

    run.__name__ = name
    return run


def build_graph(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(GraphState, context_schema=GraphContext)
    for name, node in PIPELINE:
        builder.add_node(name, audited(name, node))
    builder.add_edge(START, "parse")
    builder.add_conditional_edges("parse", after_parse)
    builder.add_edge("retrieve", "plan")
    builder.add_edge("plan", "audit")
    builder.add_edge("audit", "decide")
    builder.add_conditional_edges("decide", after_decide)
    builder.add_conditional_edges("approve", after_approve)
    builder.add_edge("execute", "verify")
    builder.add_edge("verify", "document")
    builder.add_edge("respond", "document")
    builder.add_edge("document", "remember")
    builder.add_edge("remember", END)
    return builder.compile(checkpointer=checkpointer)
