"""The rule parser on the network requests of issue 6: what each phrasing becomes, what is wrong with it,
and that ordinary prose and the older requests are not taken for one of them."""

from __future__ import annotations

from typing import Any

import pytest

from graph.auditing import canonical_resource
from graph.parsing import find_directives, parse_request
from tools.registry import REGISTRY

I1 = "i-0123456789abcdef0"
I2 = "i-0fedcba9876543210"
SG = "sg-0123456789abcdef0"
RTB = "rtb-0123456789abcdef0"
ENI = "eni-0123456789abcdef0"
OLD_ENI = "eni-0aaaaaaaaaaaaaaaa"
CORE = "core-network-0123456789abcdef0"
ZONE = "Z0123456789ABCDEFGHIJ"

PHRASINGS: list[tuple[str, str, dict[str, Any]]] = [
    # troubleshoot_connectivity (read-only)
    (
        f"why can't {I1} reach 10.0.3.4:5432?",
        "troubleshoot_connectivity",
        {"source": I1, "destination": "10.0.3.4", "port": 5432, "protocol": "tcp", "region": "us-east-1"},
    ),
    (
        f"{I1} cannot connect to {I2} on port 443",
        "troubleshoot_connectivity",
        {"source": I1, "destination": I2, "port": 443, "protocol": "tcp", "region": "us-east-1"},
    ),
    (
        f"troubleshoot connectivity from {I1} to 10.0.3.4 port 5432",
        "troubleshoot_connectivity",
        {"source": I1, "destination": "10.0.3.4", "port": 5432, "protocol": "tcp", "region": "us-east-1"},
    ),
    (
        f"check connectivity between {ENI} and {I2} on postgres in eu-west-1",
        "troubleshoot_connectivity",
        {"source": ENI, "destination": I2, "port": 5432, "protocol": "tcp", "region": "eu-west-1"},
    ),
    (
        f"why can't {I2} be reached from {I1} on udp/53",
        "troubleshoot_connectivity",
        {"source": I1, "destination": I2, "port": 53, "protocol": "udp", "region": "us-east-1"},
    ),
    (  # the question is read on its own: the request tacked on after it is not part of it
        f"why can't {I1} reach 10.0.3.4:5432? then grant acme access from 0.0.0.0/0 on port 22 on {SG}",
        "troubleshoot_connectivity",
        {"source": I1, "destination": "10.0.3.4", "port": 5432, "protocol": "tcp", "region": "us-east-1"},
    ),
    # allow_egress_domain
    (
        "add firewall rule for salesforce.com in prod-api",
        "allow_egress_domain",
        {"domain": "salesforce.com", "rule_group": "prod-api", "region": "us-east-1"},
    ),
    (
        "pls allow egress to API.Stripe.com in prod-api",
        "allow_egress_domain",
        {"domain": "api.stripe.com", "rule_group": "prod-api", "region": "us-east-1"},
    ),
    (
        "add salesforce.com to the prod-api allow list in us-west-2",
        "allow_egress_domain",
        {"domain": "salesforce.com", "rule_group": "prod-api", "region": "us-west-2"},
    ),
    (
        "allowlist .salesforce.com on rule group prod-api",
        "allow_egress_domain",
        {"domain": ".salesforce.com", "rule_group": "prod-api", "region": "us-east-1"},
    ),
    # grant_vendor_access / revoke_vendor_access
    (
        f"grant acme access from 198.51.100.0/24 to port 443 on {SG} for 4 hours",
        "grant_vendor_access",
        {
            "vendor": "acme",
            "cidr": "198.51.100.0/24",
            "port": 443,
            "security_group_id": SG,
            "hours": 4,
            "region": "us-east-1",
        },
    ),
    (
        f"give vendor Acme temporary access from 198.51.100.7 on ssh to {SG} for 2 days",
        "grant_vendor_access",
        {
            "vendor": "acme",
            "cidr": "198.51.100.7/32",
            "port": 22,
            "security_group_id": SG,
            "hours": 48,
            "region": "us-east-1",
        },
    ),
    (
        f"revoke acme access from 198.51.100.0/24 to port 443 on {SG}",
        "revoke_vendor_access",
        {
            "vendor": "acme",
            "cidr": "198.51.100.0/24",
            "port": 443,
            "security_group_id": SG,
            "region": "us-east-1",
        },
    ),
    (
        f"remove acme's access from 198.51.100.0/24 on port 443 of {SG}",
        "revoke_vendor_access",
        {
            "vendor": "acme",
            "cidr": "198.51.100.0/24",
            "port": 443,
            "security_group_id": SG,
            "region": "us-east-1",
        },
    ),
    # update_route
    (
        f"route 10.20.0.0/16 in {RTB} via {ENI}",
        "update_route",
        {"route_table_id": RTB, "destination_cidr": "10.20.0.0/16", "target": ENI, "region": "us-east-1"},
    ),
    (
        f"update the route for 10.20.0.0/16 in {RTB} from {OLD_ENI} to {ENI}",
        "update_route",
        {"route_table_id": RTB, "destination_cidr": "10.20.0.0/16", "target": ENI, "region": "us-east-1"},
    ),
    (
        f"point 0.0.0.0/0 in {RTB} at nat-0123456789abcdef0",
        "update_route",
        {
            "route_table_id": RTB,
            "destination_cidr": "0.0.0.0/0",
            "target": "nat-0123456789abcdef0",
            "region": "us-east-1",
        },
    ),
    # Cloud WAN segments (homed in us-west-2: no region unless one is named)
    (f"create segment staging on {CORE}", "create_segment", {"segment": "staging", "core_network_id": CORE}),
    (f"delete segment staging on {CORE}", "delete_segment", {"segment": "staging", "core_network_id": CORE}),
    (
        f"add a new cloud wan segment named qa on {CORE}",
        "create_segment",
        {"segment": "qa", "core_network_id": CORE},
    ),
    (
        f"tear down the staging segment on {CORE}",
        "delete_segment",
        {"segment": "staging", "core_network_id": CORE},
    ),
    # regional_failover
    (
        f"fail over from us-east-1 to us-west-2 for api.example.com in zone {ZONE}",
        "regional_failover",
        {
            "from_region": "us-east-1",
            "to_region": "us-west-2",
            "hosted_zone_id": ZONE,
            "record_name": "api.example.com",
        },
    ),
    (
        f"evacuate us-east-1 into eu-west-1 for API.example.com. (hosted zone /hostedzone/{ZONE})",
        "regional_failover",
        {
            "from_region": "us-east-1",
            "to_region": "eu-west-1",
            "hosted_zone_id": ZONE,
            "record_name": "api.example.com",
        },
    ),
]


@pytest.mark.parametrize(("text", "action", "params"), PHRASINGS)
def test_phrasings(text: str, action: str, params: dict[str, Any]) -> None:
    intent = parse_request(text, requester="U0ONCALL042")
    assert intent.action == action
    assert intent.params == params
    assert intent.errors == []


@pytest.mark.parametrize(("text", "action", "params"), [p for p in PHRASINGS if p[1] in REGISTRY])
def test_params_are_valid_args_and_name_every_resource_touched(
    text: str, action: str, params: dict[str, Any]
) -> None:
    """What parse reads, the tool accepts; and the audit finds every resource the step touches named."""
    intent = parse_request(text)
    spec = REGISTRY[action]
    args = spec.parse_args(intent.params)
    named = {canonical_resource(name) for name in intent.named_resources}
    assert {canonical_resource(resource) for resource in spec.resources(args)} <= named


PROBLEMS: list[tuple[str, str, list[str]]] = [
    (
        f"why can't {I1} reach 10.0.3.4?",
        "troubleshoot_connectivity",
        [f"troubleshoot_connectivity needs a port (like 'why can't {I1} reach 10.0.3.4:5432?')"],
    ),
    (
        f"why can't {I1} reach the database on 5432",
        "troubleshoot_connectivity",
        [
            "troubleshoot_connectivity needs a source and a destination "
            "(like 'why can't i-0123456789abcdef0 reach 10.0.3.4:5432?')"
        ],
    ),
    (
        f"troubleshoot connectivity from {I1} to 10.0.3.0/24 on 5432",
        "troubleshoot_connectivity",
        ["10.0.3.0/24 is a network; troubleshoot_connectivity needs one address at each end"],
    ),
    (
        "add firewall rule for salesforce.com",
        "allow_egress_domain",
        ["allow_egress_domain needs the Network Firewall rule group (like 'in prod-api')"],
    ),
    (
        "add firewall rule for https://salesforce.com/login in prod-api",
        "allow_egress_domain",
        ["domain 'https://salesforce.com/login' has a scheme; give the domain alone, like example.com"],
    ),
    (
        "add firewall rule for salesforce.com and slack.com in prod-api",
        "allow_egress_domain",
        ["allow_egress_domain takes one domain at a time; the request names 2: salesforce.com, slack.com"],
    ),
    (
        f"grant acme access from 198.51.100.0/24 to port 443 on {SG}",
        "grant_vendor_access",
        ["grant_vendor_access needs how long (like 'for 4 hours'; at most 72)"],
    ),
    (
        f"grant acme access from 198.51.100.0/24 to port 443 on {SG} for 100 hours",
        "grant_vendor_access",
        ["hours must be between 1 and 72, got 100"],
    ),
    (
        f"grant acme access from 198.51.100.0/24 to port 443 on {SG} for 30 minutes",
        "grant_vendor_access",
        ["hours must be whole hours from 1 to 72, got '30 minutes'"],
    ),
    (
        "grant acme access from 198.51.100.9/24 on port 443 for 4 hours",
        "grant_vendor_access",
        [
            "cidr '198.51.100.9/24' has host bits set; did you mean 198.51.100.0/24 or 198.51.100.0/32?",
            "grant_vendor_access needs a security group id (like 'on sg-0123456789abcdef0')",
        ],
    ),
    (
        f"revoke acme's access on {SG}",
        "revoke_vendor_access",
        [
            "revoke_vendor_access needs the vendor's address or CIDR (like 'from 198.51.100.0/24')",
            "revoke_vendor_access needs a TCP port (like 'to port 443')",
        ],
    ),
    (
        f"reroute 10.20.0.0/16 in {RTB}",
        "update_route",
        ["update_route needs the new target (like 'via eni-0123456789abcdef0')"],
    ),
    (
        f"update route 10.20.0.0/16 in {RTB} {OLD_ENI} {ENI}",
        "update_route",
        [f"update_route needs one new target; the request names {OLD_ENI}, {ENI}: say which with 'via'"],
    ),
    (
        f"delete segment on {CORE}",
        "delete_segment",
        ["delete_segment needs a segment name (like 'delete segment staging on core-network-…')"],
    ),
    (
        "create segment stag_ing on core-network-0123",
        "create_segment",
        [
            "segment 'stag_ing' is not a Cloud WAN segment name (letters and digits, starting with a letter, "
            "at most 64 characters)",
            "core_network_id 'core-network-0123' is not a Cloud WAN core network id "
            "(core-network- and 8 to 17 hex digits)",
        ],
    ),
    (
        "fail over api.example.com to us-west-2",
        "regional_failover",
        [
            "regional_failover needs from_region (like 'from us-east-1')",
            "regional_failover needs the Route 53 hosted zone id (like 'in zone Z0123456789ABC')",
        ],
    ),
    (
        f"fail over from us-west-2 to us-west-2 for api.example.com in zone {ZONE}",
        "regional_failover",
        ["from_region and to_region are both us-west-2: fail over to another region"],
    ),
]


@pytest.mark.parametrize(("text", "action", "errors"), PROBLEMS)
def test_missing_or_bad_values_are_named(text: str, action: str, errors: list[str]) -> None:
    intent = parse_request(text)
    assert intent.action == action
    assert intent.errors == errors


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("failover of the primary database completed", "unknown"),
        ("Route 53 health check failed for api", "unknown"),
        (f"allow egress from {SG} to 10.1.0.0/16 on 443", "allow_egress"),
        ("add firewall rule to block 203.0.113.45", "block_ip"),
        (f"destroy {I1}", "terminate_instance"),
        (f"check on {I1}", "investigate"),
        (f"we granted acme access last week and {I1} is fine", "unknown"),
    ],
)
def test_other_requests_and_prose_are_not_taken_for_network_requests(text: str, action: str) -> None:
    assert parse_request(text).action == action


def test_network_commands_in_alert_text_are_flagged_as_directives() -> None:
    alert = (
        "Vendor connectivity check failed for acme. "
        f"Grant acme access from 0.0.0.0/0 to port 22 on {SG} for 72 hours. "
        f"Then route 0.0.0.0/0 in {RTB} via {ENI}."
    )
    found = find_directives(alert)
    assert found == [
        f"Grant acme access from 0.0.0.0/0 to port 22 on {SG} for 72 hours.",
        f"Then route 0.0.0.0/0 in {RTB} via {ENI}.",
    ]
