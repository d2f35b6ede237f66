"""Whether a rule's ``when`` holds for one plan step: severity, source, cost, scaling and address checks."""

from __future__ import annotations

import ipaddress
from typing import Any

from policies.decision import DecisionFacts
from policies.schema import ActionPolicy, Conditions, Outcome

# Where a step names the address it acts on, and the new capacity of a scaling step.
ADDRESS_PARAM_KEYS = ("cidr", "cidrs", "ip", "ips", "ip_address")
DESIRED_PARAM_KEYS = ("desired_capacity", "desired")

# Ranges that must never be blocked: our own traffic lives there, or nobody's does.  Documentation
# ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32) are left out on purpose: they are
# public-shaped, and sample findings use them.
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NON_PUBLIC_NETWORKS: tuple[IpNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # carrier-grade NAT, RFC 6598
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, including the instance metadata service
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard-only
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "ff00::/8",  # multicast
    )
)
IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
IPV6_PREFIX_SHIFT = 32  # an IPv6 /64 is one host's subnet: compare v6 prefixes as if 32 bits longer


class UnreadableFact(Exception):
    """A rule needs a fact the step does not carry in a usable form: fail closed."""


def matching_outcome(entry: ActionPolicy, facts: DecisionFacts) -> tuple[str, Outcome]:
    """The first rule whose ``when`` holds, else ``otherwise``; raises ``UnreadableFact`` to fail closed."""
    for rule in entry.rules:
        if _holds(rule.when, facts):
            return rule.name, rule
    return "otherwise", entry.otherwise


def _holds(when: Conditions, facts: DecisionFacts) -> bool:
    checks: list[bool] = []
    if when.finding_severity_at_least is not None:
        checks.append(
            facts.finding_severity is not None and facts.finding_severity >= when.finding_severity_at_least
        )
    if when.sample is not None:
        checks.append(facts.sample == when.sample)
    if when.source is not None:
        checks.append(facts.source == when.source)
    if when.cost_unknown is not None:
        checks.append((facts.monthly_cost_delta is None) == when.cost_unknown)
    if when.max_monthly_cost_increase is not None:
        cost = facts.monthly_cost_delta
        checks.append(cost is not None and cost <= when.max_monthly_cost_increase)
    if when.replaces_alarmed_target is not None:
        alarmed = {resource.lower() for resource in facts.alert_resources}
        named = facts.source == "alert" and any(t.lower() in alarmed for t in facts.route_targets)
        checks.append(named == when.replaces_alarmed_target)
    if when.new_target_healthy is not None:
        checks.append((facts.new_target_healthy is True) == when.new_target_healthy)
    desired = _desired_capacity(facts.params)
    if when.within_asg_max is not None:
        within = desired is not None and facts.asg_max is not None and desired <= facts.asg_max
        checks.append(within == when.within_asg_max)
    if when.max_scale_factor is not None:
        current = facts.asg_current
        checks.append(
            desired is not None and current is not None and desired <= current * when.max_scale_factor
        )
    if when.uses_address:
        networks = _target_networks(facts)
        if when.cidr_private_or_reserved is not None:
            checks.append(any(_is_non_public(net) for net in networks) == when.cidr_private_or_reserved)
        if when.cidr_wider_than is not None:
            checks.append(any(_wider_than(net, when.cidr_wider_than) for net in networks))
    return all(checks)


def _desired_capacity(params: dict[str, Any]) -> int | None:
    for key in DESIRED_PARAM_KEYS:
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _target_networks(facts: DecisionFacts) -> list[IpNetwork]:
    raw: list[Any] = []
    for key in ADDRESS_PARAM_KEYS:
        value = facts.params.get(key)
        raw += value if isinstance(value, list) else [] if value is None else [value]
    networks: list[IpNetwork] = []
    for value in raw:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise UnreadableFact(f"'{value}' is not an IP address or CIDR block") from None
    if not networks:
        raise UnreadableFact(
            f"{facts.action} names no IP address or CIDR block (params {' / '.join(ADDRESS_PARAM_KEYS)}) "
            "to check against policy"
        )
    return networks


def _is_non_public(network: IpNetwork) -> bool:
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(IPV4_MAPPED):
        mapped = network.network_address.ipv4_mapped
        assert mapped is not None
        return _is_non_public(ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}", strict=False))
    return any(
        network.overlaps(reserved) for reserved in NON_PUBLIC_NETWORKS if reserved.version == network.version
    )


def _wider_than(network: IpNetwork, prefix: int) -> bool:
    threshold = prefix if network.version == 4 else prefix + IPV6_PREFIX_SHIFT
    return network.prefixlen < threshold
