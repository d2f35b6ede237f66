"""Every AWS action opsbot can run, by name; the one place plans, policy and the LLM look them up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from tools.base import JsonDict, ToolSpec
from tools.cloudwan import create_segment, delete_segment
from tools.egress import allow_egress
from tools.failover import regional_failover
from tools.firewall_domains import allow_egress_domain
from tools.instance_lifecycle import snapshot_instance, stop_instance, terminate_instance
from tools.isolation import isolate_instance
from tools.nacl_blocking import block_ip, unblock_ip
from tools.routes import update_route
from tools.scaling_actions import scale_asg
from tools.service_restart import restart_service
from tools.tagging import tag_resource
from tools.vendor_access import grant_vendor_access, revoke_vendor_access


def _build(specs: Iterable[ToolSpec[Any]]) -> Mapping[str, ToolSpec[Any]]:
    by_name: dict[str, ToolSpec[Any]] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"Action {spec.name} is declared twice.")
        by_name[spec.name] = spec
    return MappingProxyType(by_name)


REGISTRY: Mapping[str, ToolSpec[Any]] = _build(
    (
        isolate_instance,
        snapshot_instance,
        stop_instance,
        terminate_instance,
        restart_service,
        tag_resource,
        block_ip,
        unblock_ip,
        allow_egress,
        scale_asg,
        update_route,
        create_segment,
        delete_segment,
        allow_egress_domain,
        grant_vendor_access,
        revoke_vendor_access,
        regional_failover,
    )
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
