"""The registry: one declaration per action, complete enough for policy, planning and the LLM."""

from __future__ import annotations

import json

import pytest

from tools.base import ActionArgs, ToolSpec
from tools.registry import REGISTRY, get_tool, llm_tool_schemas

EXPECTED_ACTIONS = {
    "isolate_instance",
    "snapshot_instance",
    "stop_instance",
    "terminate_instance",
    "restart_service",
    "tag_resource",
    "block_ip",
    "unblock_ip",
    "allow_egress",
    "scale_asg",
    "allow_egress_domain",
    "grant_vendor_access",
    "revoke_vendor_access",
    "update_route",
    "create_segment",
    "delete_segment",
    "regional_failover",
}
NOT_REVERSIBLE = {"terminate_instance", "restart_service", "revoke_vendor_access"}
SG = "sg-0123456789abcdef0"
CORE = "core-network-0123456789abcdef0"

# Minimal valid arguments per action, used to check ``resources``.
SAMPLE_ARGS = {
    "isolate_instance": {"instance_id": "i-0123456789abcdef0"},
    "snapshot_instance": {"instance_id": "i-0123456789abcdef0"},
    "stop_instance": {"instance_id": "i-0123456789abcdef0"},
    "terminate_instance": {"instance_id": "i-0123456789abcdef0"},
    "restart_service": {"instance_id": "i-0123456789abcdef0", "service": "nginx"},
    "tag_resource": {"resource_id": "i-0123456789abcdef0", "key": "Owner", "value": "sre"},
    "block_ip": {"cidr": "198.51.100.7", "vpc_id": "vpc-0123456789abcdef0"},
    "unblock_ip": {"cidr": "198.51.100.7"},
    "allow_egress": {"group_id": "sg-0123456789abcdef0", "cidr": "203.0.113.0/24", "port": 443},
    "scale_asg": {"asg_name": "web", "desired_capacity": 3},
    "allow_egress_domain": {"domain": "salesforce.com", "rule_group": "prod-api"},
    "grant_vendor_access": {
        "vendor": "acme",
        "cidr": "198.51.100.0/24",
        "port": 443,
        "security_group_id": SG,
        "hours": 4,
    },
    "revoke_vendor_access": {
        "vendor": "acme",
        "cidr": "198.51.100.0/24",
        "port": 443,
        "security_group_id": SG,
    },
    "update_route": {
        "route_table_id": "rtb-0123456789abcdef0",
        "destination_cidr": "10.0.0.0/8",
        "target": "eni-0123456789abcdef0",
    },
    "create_segment": {"core_network_id": CORE, "segment": "legacy"},
    "delete_segment": {"core_network_id": CORE, "segment": "legacy"},
    "regional_failover": {
        "from_region": "us-east-1",
        "to_region": "us-west-2",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "record_name": "api.example.com",
    },
}
EXPECTED_RESOURCES = {
    "isolate_instance": ["i-0123456789abcdef0"],
    "snapshot_instance": ["i-0123456789abcdef0"],
    "stop_instance": ["i-0123456789abcdef0"],
    "terminate_instance": ["i-0123456789abcdef0"],
    "restart_service": ["i-0123456789abcdef0"],
    "tag_resource": ["i-0123456789abcdef0"],
    "block_ip": ["198.51.100.7/32", "vpc-0123456789abcdef0"],
    "unblock_ip": ["198.51.100.7/32"],
    "allow_egress": ["sg-0123456789abcdef0", "203.0.113.0/24"],
    "scale_asg": ["web"],
    "allow_egress_domain": ["prod-api", "salesforce.com"],
    "grant_vendor_access": [SG, "198.51.100.0/24"],
    "revoke_vendor_access": [SG, "198.51.100.0/24"],
    "update_route": ["rtb-0123456789abcdef0", "eni-0123456789abcdef0"],
    "create_segment": [CORE, "legacy"],
    "delete_segment": [CORE, "legacy"],
    "regional_failover": ["Z0123456789ABCDEFGHIJ", "api.example.com"],
}


def test_registry_holds_exactly_the_contracted_actions() -> None:
    assert set(REGISTRY) == EXPECTED_ACTIONS


@pytest.mark.parametrize("name", sorted(EXPECTED_ACTIONS))
def test_every_entry_is_fully_declared(name: str) -> None:
    spec = REGISTRY[name]
    assert isinstance(spec, ToolSpec)
    assert spec.name == name
    assert len(spec.description) > 20
    assert spec.effect
    assert spec.risk in ("read", "write", "destructive")
    assert issubclass(spec.args, ActionArgs)
    schema = spec.args.model_json_schema()
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "region" in schema["properties"]
    assert spec.reversible == (name not in NOT_REVERSIBLE)
    if spec.reversible:
        assert spec.rollback_summary
        assert spec.rollback_summary != "not reversible"
    assert spec.resources(spec.parse_args(SAMPLE_ARGS[name])) == EXPECTED_RESOURCES[name]


def test_risk_levels() -> None:
    assert {name for name, spec in REGISTRY.items() if spec.risk == "destructive"} == {"terminate_instance"}
    assert {spec.risk for spec in REGISTRY.values()} == {"write", "destructive"}


def test_get_tool_returns_the_spec_and_names_known_actions_when_missing() -> None:
    assert get_tool("block_ip") is REGISTRY["block_ip"]
    with pytest.raises(KeyError, match=r"Unknown action 'reboot_everything'\. Known actions: allow_egress, "):
        get_tool("reboot_everything")


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        REGISTRY["block_ip"] = REGISTRY["unblock_ip"]  # type: ignore[index]


def test_llm_tool_schemas_cover_every_action_and_are_json() -> None:
    schemas = llm_tool_schemas()
    assert [schema["name"] for schema in schemas] == list(REGISTRY)
    assert {schema["name"] for schema in schemas} == EXPECTED_ACTIONS
    for schema in schemas:
        assert set(schema) == {"name", "description", "input_schema"}
        assert schema["description"] == REGISTRY[schema["name"]].description
        assert schema["input_schema"]["type"] == "object"
    json.dumps(schemas)
    restart = next(s for s in schemas if s["name"] == "restart_service")
    assert restart["input_schema"]["properties"]["service"]["pattern"] == r"^[A-Za-z0-9@._-]{1,64}$"
    assert set(restart["input_schema"]["required"]) == {"instance_id", "service"}
