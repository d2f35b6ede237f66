"""Can the source reach the destination on this port? Read-only, from what EC2 describes.

The packet's path is checked in the order it is taken, and so is the reply's:

1. the source instance is running; 2. a security group of the source allows it out; 3. the source
subnet's NACL lets it out; 4. the source subnet's route table has a route (longest prefix, not a
blackhole); 5. something at the destination has the address (and the instance is running); 6. the
destination subnet's NACL lets it in; 7. a security group of the destination lets it in; 8.-9. both NACLs
let the reply through to the client's ephemeral ports (security groups are stateful, NACLs are not);
10. a route back, when the ends are in different VPCs.

Every check runs, so the thread shows the whole path; the first failing one is the blocking rule. A check
opsbot cannot decide (an address outside the account, a prefix-list rule) makes the verdict ``unknown``
unless another check blocks.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from tools.base import AwsClients, ToolError
from tools.network_endpoints import Endpoint, resolve_endpoint
from tools.network_facts import NetworkReader
from tools.network_rules import (
    DEFAULT_NACL_RULE,
    EPHEMERAL_PORTS,
    Peer,
    Protocol,
    acl_decisions,
    best_route,
    groups_allow,
    ports_text,
    rule_name,
    table_for_subnet,
)

Verdict = Literal["reachable", "blocked", "unknown"]
Layer = Literal["instance", "security_group", "nacl", "route", "destination"]
MARKS = {True: "ok", False: "BLOCKED", None: "unknown"}


class Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: Layer
    resource_id: str
    ok: bool | None
    detail: str
    fix: str = ""


class ConnectivityReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Endpoint
    destination: Endpoint
    protocol: Protocol
    port: int
    region: str
    verdict: Verdict
    checks: list[Check]
    blocking: Check | None = None

    def headline(self) -> str:
        flow = f"{self.source.label()} -> {self.destination.label()} {self.protocol}/{self.port}"
        if self.blocking is not None:
            return f"{flow}: blocked. {self.blocking.detail}"
        if self.verdict == "reachable":
            return f"{flow}: reachable (security groups, NACLs and routes all allow it)"
        undecided = next((check for check in self.checks if check.ok is None), None)
        return f"{flow}: unknown. {undecided.detail if undecided else 'not every check could be made'}"


class _Path:
    """The checks of one question, sharing one reader."""

    def __init__(self, reader: NetworkReader, src: Endpoint, dst: Endpoint, protocol: Protocol, port: int):
        self.reader, self.src, self.dst, self.protocol, self.port = reader, src, dst, protocol, port
        self.checks: list[Check] = []

    def add(self, check: Check | None) -> None:
        if check is not None:
            self.checks.append(check)

    def instance(self, end: Endpoint, role: str) -> Check | None:
        if not end.instance_id or not end.state:
            return None
        if end.state == "running":
            return Check(
                layer="instance", resource_id=end.instance_id, ok=True, detail=f"{end.instance_id} is running"
            )
        return Check(
            layer="instance",
            resource_id=end.instance_id,
            ok=False,
            detail=f"the {role} instance {end.instance_id} is {end.state}",
            fix=f"start {end.instance_id} (it is {end.state})",
        )

    def groups(self, end: Endpoint, other: Endpoint, egress: bool) -> Check:
        role, other_role = ("source", "destination") if egress else ("destination", "source")
        way = "to" if egress else "from"
        wanted = f"{self.protocol} {self.port} {way} the {other_role} ({other.ip})"
        if not end.group_ids:
            return Check(layer="security_group", resource_id="", ok=None, detail=f"the {role} has no groups")
        verdict = groups_allow(
            self.reader.groups(end.group_ids),
            egress,
            self.protocol,
            self.port,
            Peer(other.address, frozenset(other.group_ids)),
        )
        if verdict.allowed:
            detail = f"security group {verdict.group_id} of the {role} allows {verdict.rule}"
            return Check(layer="security_group", resource_id=verdict.group_id, ok=True, detail=detail)
        if verdict.allowed is None:
            detail = (
                f"security group {verdict.group_id} of the {role} may allow {wanted} through {verdict.rule}"
            )
            return Check(layer="security_group", resource_id=verdict.group_id, ok=None, detail=detail)
        group = end.group_ids[0]
        if len(end.group_ids) == 1:
            detail = f"security group {group} of the {role} allows no {wanted}"
        else:
            detail = f"none of the {role}'s security groups ({', '.join(end.group_ids)}) allows {wanted}"
        peer = other.group_ids[0] if other.group_ids and other.vpc_id == end.vpc_id else f"{other.ip}/32"
        direction = "an outbound" if egress else "an inbound"
        fix = f"add {direction} rule to {group} allowing {self.protocol} {self.port} {way} {peer}"
        return Check(layer="security_group", resource_id=group, ok=False, detail=detail, fix=fix)

    def acl(self, end: Endpoint, other: Endpoint, egress: bool, ports: tuple[int, int], reply: bool) -> Check:
        table = self.reader.acl(end.subnet_id)
        if table is None:
            detail = f"no network ACL is associated with {end.subnet_id}"
            return Check(layer="nacl", resource_id=end.subnet_id, ok=None, detail=detail)
        acl_id = str(table["NetworkAclId"])
        direction, way = ("outbound", "to") if egress else ("inbound", "from")
        name, traffic = f"NACL {acl_id} {direction}", ("replies " if reply else "") + self.protocol
        decisions = acl_decisions(table, egress, self.protocol, ports, other.address)
        denied = [decision for decision in decisions if not decision.allowed]
        if not denied:
            rules = ", ".join(dict.fromkeys(rule_name(decision) for decision in decisions))
            detail = f"{name} {rules} allows {traffic} {ports_text(*ports)} {way} {other.ip}"
            return Check(layer="nacl", resource_id=acl_id, ok=True, detail=detail)
        first = denied[0]
        span = ports_text(first.low, first.high)
        wanted = f"{self.protocol} {span} {way} {other.ip}"
        if first.rule_number in (None, DEFAULT_NACL_RULE):
            detail = f"{name} has no rule allowing {traffic} {span} {way} {other.ip}; rule * denies it"
            fix = f"add an {direction} allow rule to {acl_id} for {wanted}/32 (or its subnet)"
        else:
            detail = f"{name} {rule_name(first)} denies {traffic} {span} {way} {first.cidr}"
            fix = (
                f"remove {rule_name(first)} of {acl_id}, or add an allow rule numbered below "
                f"{first.rule_number} for {wanted}/32"
            )
        if reply and len(denied) < len(decisions):  # some ephemeral ports get replies, some do not
            allowed = ", ".join(ports_text(d.low, d.high) for d in decisions if d.allowed)
            detail += f" (replies to ports {allowed} are allowed, so some clients may connect)"
            return Check(layer="nacl", resource_id=acl_id, ok=None, detail=detail, fix=fix)
        return Check(layer="nacl", resource_id=acl_id, ok=False, detail=detail, fix=fix)

    def route(self, end: Endpoint, other: Endpoint) -> tuple[Check, str]:
        """The route from ``end``'s subnet to ``other``; and its target ("" when there is none)."""
        table = table_for_subnet(self.reader.route_tables(end.vpc_id), end.subnet_id)
        if table is None:
            detail = f"no route table applies to {end.subnet_id}"
            return Check(layer="route", resource_id=end.subnet_id, ok=None, detail=detail), ""
        table_id = str(table["RouteTableId"])
        choice = best_route(table, other.address)
        if choice is None:
            detail = f"route table {table_id} has no route to {other.ip}"
            fix = (
                f"add a route for {other.ip} (or its network) to {table_id} through the right target "
                "(a peering connection, transit gateway, NAT or internet gateway)"
            )
            return Check(layer="route", resource_id=table_id, ok=False, detail=detail, fix=fix), ""
        if choice.state == "blackhole":
            detail = (
                f"route table {table_id} sends {other.ip} to {choice.target} (route {choice.destination}), "
                "a blackhole: that target is gone"
            )
            fix = f"point route {choice.destination} of {table_id} at a healthy target (update_route)"
            return Check(layer="route", resource_id=table_id, ok=False, detail=detail, fix=fix), choice.target
        detail = f"route table {table_id} sends {other.ip} to {choice.target} (route {choice.destination})"
        return Check(layer="route", resource_id=table_id, ok=True, detail=detail), choice.target

    def unseen(self, end: Endpoint, target: str, role: str) -> Check:
        if role == "destination" and target == "local":
            detail = f"nothing in {self.src.vpc_id} has the address {end.ip}: no network interface uses it"
            fix = f"check the address: {end.ip} belongs to no instance or interface"
            return Check(layer="destination", resource_id=end.ip, ok=False, detail=detail, fix=fix)
        via = f" (the route leads to {target})" if target else ""
        detail = f"the {role} {end.ip} is outside what opsbot can see{via}; its own rules are not checked"
        return Check(layer="destination", resource_id=end.ip, ok=None, detail=detail)


def _walk(path: _Path) -> None:
    src, dst = path.src, path.dst
    crossing = src.subnet_id != dst.subnet_id or not (src.in_aws and dst.in_aws)
    forward = (path.port, path.port)
    target = ""
    if src.in_aws:
        path.add(path.instance(src, "source"))
        path.add(path.groups(src, dst, egress=True))
        if crossing:
            path.add(path.acl(src, dst, egress=True, ports=forward, reply=False))
        route, target = path.route(src, dst)
        path.add(route)
    else:
        path.add(path.unseen(src, "", "source"))
    if not dst.in_aws:
        path.add(path.unseen(dst, target, "destination"))
    else:
        path.add(path.instance(dst, "destination"))
        if crossing:
            path.add(path.acl(dst, src, egress=False, ports=forward, reply=False))
        path.add(path.groups(dst, src, egress=False))
        if crossing:
            path.add(path.acl(dst, src, egress=True, ports=EPHEMERAL_PORTS, reply=True))
    if src.in_aws and crossing:
        path.add(path.acl(src, dst, egress=False, ports=EPHEMERAL_PORTS, reply=True))
    if dst.in_aws and src.vpc_id != dst.vpc_id:
        path.add(path.route(dst, src)[0])
    if not crossing:
        detail = f"both ends are in {src.subnet_id}: network ACLs do not apply"
        path.add(Check(layer="nacl", resource_id=src.subnet_id, ok=True, detail=detail))


def check_connectivity(
    clients: AwsClients,
    source: str,
    destination: str,
    port: int,
    protocol: Protocol = "tcp",
    region: str = "us-east-1",
) -> ConnectivityReport:
    """Whether ``source`` can reach ``destination`` on ``protocol``/``port``, and what blocks it.

    ``source`` and ``destination`` are instance ids, network interface ids or IP addresses. ToolError
    when one cannot be found, or when neither is something opsbot can see.
    """
    src = resolve_endpoint(clients, source, region)
    dst = resolve_endpoint(clients, destination, region)
    if not src.in_aws and not dst.in_aws:
        raise ToolError(
            f"Neither {source} nor {destination} is a network interface opsbot can see in {region}."
        )
    path = _Path(NetworkReader(clients, region), src, dst, protocol, port)
    _walk(path)
    blocking = next((check for check in path.checks if check.ok is False), None)
    undecided = any(check.ok is None for check in path.checks)
    verdict: Verdict = "blocked" if blocking else ("unknown" if undecided else "reachable")
    return ConnectivityReport(
        source=src,
        destination=dst,
        protocol=protocol,
        port=port,
        region=region,
        verdict=verdict,
        checks=path.checks,
        blocking=blocking,
    )


def render_report(report: ConnectivityReport) -> str:
    """The verdict, then each check in path order, marked ok / BLOCKED / unknown."""
    lines = [report.headline()]
    lines += [f"  [{MARKS[check.ok]}] {check.detail}" for check in report.checks]
    return "\n".join(lines)
