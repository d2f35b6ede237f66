"""Routers between nodes, typed with Literal so the graph's shape is checked."""

from __future__ import annotations

from typing import Literal

from graph.models import CONTROL_ACTIONS
from graph.state import GraphState


def after_parse(state: GraphState) -> Literal["respond", "retrieve"]:
    return "respond" if state["intent"]["action"] in CONTROL_ACTIONS else "retrieve"


def after_decide(state: GraphState) -> Literal["approve", "execute", "document"]:
    decision = state["decision"]["decision"]
    if decision == "approval":
        return "approve"
    return "execute" if decision == "auto" else "document"


def after_approve(state: GraphState) -> Literal["execute", "document"]:
    return "execute" if state.get("approval", {}).get("status") == "approved" else "document"
