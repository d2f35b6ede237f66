"""Every AWS action opsbot can run, by name; the one place plans, policy and the LLM look them up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from tools import instance_actions, network_actions, scaling_actions
from tools.base import JsonDict, ToolSpec


def _build(specs: Iterable[ToolSpec[Any]]) -> Mapping[str, ToolSpec[Any]]:
    by_name: dict[str, ToolSpec[Any]] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"Action {spec.name} is declared twice.")
        by_name[spec.name] = spec
    return MappingProxyType(by_name)


REGISTRY: Mapping[str, ToolSpec[Any]] = _build(
    (*instance_actions.SPECS, *network_actions.SPECS, *scaling_actions.SPECS)
)


def get_tool(name: str) -> ToolSpec[Any]:
    """The action called ``name``; KeyError naming the known actions otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise KeyError(f"Unknown action '{name}'. Known actions: {known}.") from None


def llm_tool_schemas() -> list[JsonDict]:
    """Anthropic tool-use schemas for every action, in registry order."""
    return [spec.llm_schema() for spec in REGISTRY.values()]
