"""How AWS evaluates one packet against security groups, network ACLs and route tables.

Pure functions over the dicts EC2's describe_* calls return, so each rule of evaluation can be read
(and tested) on its own:

- a security group is a set of allow rules: any matching rule of any group lets the packet through,
  and it is stateful (the reply needs no rule);
- a network ACL is ordered: the lowest-numbered rule that matches decides, and rule 32767 (``*``) denies
  what nothing else matched. It is stateless, so the reply (to the client's ephemeral port) needs its own
  allow rule;
- a route table sends a packet by longest prefix match; a blackhole route drops it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

Protocol = Literal["tcp", "udp"]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
JsonDict = dict[str, Any]

PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17"}
DEFAULT_NACL_RULE = 32767
# The client's side of a connection: AWS's guidance for NACL return rules covers 1024-65535.
EPHEMERAL_PORTS = (1024, 65535)
ROUTE_TARGET_KEYS = (
    "GatewayId",
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "NetworkInterfaceId",
    "InstanceId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "EgressOnlyInternetGatewayId",
    "CoreNetworkArn",
)


def ports_text(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def protocol_matches(rule_protocol: Any, protocol: Protocol) -> bool:
    value = str(rule_protocol).lower()
    return value in {"-1", "all"} or value == protocol or value == PROTOCOL_NUMBERS[protocol]


def _in_network(ip: IpAddress, cidr: Any) -> bool:
    if not cidr:
        return False
    try:
        return ip in ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return False


# --- security groups --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    """The far end of a connection as a security group sees it: its address and its groups."""

    ip: IpAddress
    group_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GroupVerdict:
    """Whether ``groups`` let the packet through: True, False, or None when only a rule opsbot cannot
    resolve (a managed prefix list) might."""

    allowed: bool | None
    group_id: str = ""  # the group whose rule decided (or the only group, when none allows it)
    rule: str = ""  # "tcp 5432 from 10.0.1.0/24", the allowing rule


def _sg_rule_ports(permission: JsonDict) -> tuple[int, int]:
    if str(permission.get("IpProtocol")) == "-1" or permission.get("FromPort") in (None, -1):
        return 0, 65535
    return int(permission["FromPort"]), int(permission["ToPort"])


def _sg_rule_peer(permission: JsonDict, peer: Peer) -> tuple[str | None, bool]:
    """(the matching source/destination text, whether an unresolvable prefix list is named)."""
    for item in permission.get("IpRanges", []):
        if _in_network(peer.ip, item.get("CidrIp")):
            return str(item["CidrIp"]), False
    for item in permission.get("Ipv6Ranges", []):
        if _in_network(peer.ip, item.get("CidrIpv6")):
            return str(item["CidrIpv6"]), False
    for pair in permission.get("UserIdGroupPairs", []):
        if pair.get("GroupId") in peer.group_ids:
            return str(pair["GroupId"]), False
    return None, bool(permission.get("PrefixListIds"))


def groups_allow(
    groups: list[JsonDict], egress: bool, protocol: Protocol, port: int, peer: Peer
) -> GroupVerdict:
    """Whether a rule of any of ``groups`` (egress or ingress) allows ``protocol``/``port`` with ``peer``."""
    direction = "to" if egress else "from"
    maybe = ""
    for group in groups:
        permissions = group.get("IpPermissionsEgress" if egress else "IpPermissions", [])
        for permission in permissions:
            if not protocol_matches(permission.get("IpProtocol"), protocol):
                continue
            low, high = _sg_rule_ports(permission)
            if not low <= port <= high:
                continue
            matched, prefix_list = _sg_rule_peer(permission, peer)
            if matched is not None:
                every = str(permission.get("IpProtocol")) == "-1"
                what = "all traffic" if every else f"{protocol} {ports_text(low, high)}"
                return GroupVerdict(True, str(group["GroupId"]), f"{what} {direction} {matched}")
            if prefix_list and not maybe:
                maybe = str(group["GroupId"])
    if maybe:
        return GroupVerdict(None, maybe, "a prefix-list rule opsbot cannot resolve")
    only = str(groups[0]["GroupId"]) if len(groups) == 1 else ""
    return GroupVerdict(False, only)


# --- network ACLs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AclDecision:
    """The rule that decided a span of ports (``rule_number`` None: no rule matched, the implicit deny)."""

    low: int
    high: int
    allowed: bool
    rule_number: int | None
    cidr: str


def _entry_ports(entry: JsonDict) -> tuple[int, int]:
    span = entry.get("PortRange")
    if str(entry.get("Protocol")) == "-1" or not span:
        return 0, 65535
    return int(span.get("From", 0)), int(span.get("To", 65535))


def acl_decisions(
    acl: JsonDict, egress: bool, protocol: Protocol, ports: tuple[int, int], peer_ip: IpAddress
) -> list[AclDecision]:
    """Which rule decides each part of the port span ``ports`` for traffic with ``peer_ip``, in port order.

    Rules are tried lowest number first; each decides the ports it covers that no earlier rule decided.
    """
    entries = sorted(
        (e for e in acl.get("Entries", []) if bool(e.get("Egress")) == egress),
        key=lambda e: int(e.get("RuleNumber", DEFAULT_NACL_RULE)),
    )
    undecided = [ports]
    decided: list[AclDecision] = []
    for entry in entries:
        cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
        if not protocol_matches(entry.get("Protocol"), protocol) or not _in_network(peer_ip, cidr):
            continue
        low, high = _entry_ports(entry)
        remaining = []
        for span_low, span_high in undecided:
            overlap_low, overlap_high = max(span_low, low), min(span_high, high)
            if overlap_low > overlap_high:
                remaining.append((span_low, span_high))
                continue
            allowed = str(entry.get("RuleAction")).lower() == "allow"
            number = int(entry["RuleNumber"])
            decided.append(AclDecision(overlap_low, overlap_high, allowed, number, str(cidr)))
            if span_low < overlap_low:
                remaining.append((span_low, overlap_low - 1))
            if overlap_high < span_high:
                remaining.append((overlap_high + 1, span_high))
        undecided = remaining
        if not undecided:
            break
    decided += [AclDecision(low, high, False, None, "") for low, high in undecided]
    return sorted(decided, key=lambda decision: decision.low)


def rule_name(decision: AclDecision) -> str:
    if decision.rule_number is None or decision.rule_number == DEFAULT_NACL_RULE:
        return "rule * (the default deny)"
    return f"rule {decision.rule_number}"


# --- route tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteChoice:
    destination: str  # the matching route's CIDR
    target: str  # "local", "igw-…", "pcx-…", …
    state: str  # "active" or "blackhole"


def route_target(route: JsonDict) -> str:
    for key in ROUTE_TARGET_KEYS:
        if route.get(key):
            return str(route[key])
    return "unknown target"


def best_route(table: JsonDict, ip: IpAddress) -> RouteChoice | None:
    """The route a packet to ``ip`` takes: the longest prefix that contains it (prefix-list routes are
    not resolved)."""
    best: tuple[int, JsonDict, str] | None = None
    for route in table.get("Routes", []):
        cidr = route.get("DestinationCidrBlock") or route.get("DestinationIpv6CidrBlock")
        if not _in_network(ip, cidr):
            continue
        length = ipaddress.ip_network(str(cidr), strict=False).prefixlen
        if best is None or length > best[0]:
            best = (length, route, str(cidr))
    if best is None:
        return None
    _length, route, cidr = best
    return RouteChoice(cidr, route_target(route), str(route.get("State", "active")))


def table_for_subnet(tables: list[JsonDict], subnet_id: str) -> JsonDict | None:
    """The subnet's explicitly associated route table, else the VPC's main one."""
    for table in tables:
        if any(a.get("SubnetId") == subnet_id for a in table.get("Associations", [])):
            return table
    for table in tables:
        if any(a.get("Main") for a in table.get("Associations", [])):
            return table
    return None
