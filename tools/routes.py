"""update_route: send a route table's traffic for a destination to another target, around a failed appliance.

The read-only lookups here (the route as it stands, the new target's health) also give the policy its
facts at plan time: whether an alarm names the target being replaced, and whether the new one is healthy.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from tools.base import (
    AwsClients,
    AwsUnreachable,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.cidr_args import normalise_ipv4_cidr
from tools.context import aws_errors, describe_error, error_code
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

ROUTE_TABLE_ID_RE = re.compile(r"^rtb-[0-9a-f]{8}([0-9a-f]{9})?$")
TARGET_RE = re.compile(r"^(eni|igw|nat|tgw|vpce|pcx|i)-[0-9a-f]{8}([0-9a-f]{9})?$")
# The CreateRoute/ReplaceRoute parameter for each kind of target, by id prefix. Restoring a route may
# need kinds opsbot never routes to itself (a virtual private gateway, a carrier or local gateway).
TARGET_PARAMS = {
    "eni": "NetworkInterfaceId",
    "igw": "GatewayId",
    "nat": "NatGatewayId",
    "tgw": "TransitGatewayId",
    "vpce": "VpcEndpointId",
    "pcx": "VpcPeeringConnectionId",
    "i": "InstanceId",
}
RESTORE_PARAMS = {**TARGET_PARAMS, "vgw": "GatewayId", "cagw": "CarrierGatewayId", "lgw": "LocalGatewayId"}
# Where a described route names its target, most specific first (a route to an instance also names
# the instance's network interface; a Gateway Load Balancer endpoint shows up as a GatewayId).
ROUTE_TARGET_FIELDS = (
    "NetworkInterfaceId",
    "InstanceId",
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "GatewayId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "EgressOnlyInternetGatewayId",
    "CoreNetworkArn",
)
ABSENT = "absent"


class UpdateRouteArgs(RegionArgs):
    route_table_id: str = Field(description="Route table id, like rtb-0123456789abcdef0")
    destination_cidr: str = Field(description="IPv4 destination of the route, like 10.0.0.0/8")
    target: str = Field(
        description="Where the traffic goes now: a network interface (eni-), internet gateway (igw-), NAT "
        "gateway (nat-), transit gateway (tgw-), VPC endpoint (vpce-), peering connection (pcx-) or "
        "instance (i-) id"
    )

    @field_validator("route_table_id")
    @classmethod
    def _valid_route_table_id(cls, value: str) -> str:
        message = f"'{value}' is not a route table id (rtb- and 8 or 17 hex digits)"
        return check_match(ROUTE_TABLE_ID_RE, value, message)

    @field_validator("destination_cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return normalise_ipv4_cidr(value)

    @field_validator("target")
    @classmethod
    def _valid_target(cls, value: str) -> str:
        message = (
            f"'{value}' is not a route target id (eni-, igw-, nat-, tgw-, vpce-, pcx- or i- "
            "and 8 or 17 hex digits)"
        )
        return check_match(TARGET_RE, value, message)


def _prefix(resource_id: str) -> str:
    return resource_id.split("-", 1)[0]


def route_key(route_table_id: Any, destination_cidr: Any) -> str:
    """How plan context files a route: 'rtb-… 10.0.0.0/8' (the CIDR normalised where it can be)."""
    try:
        cidr = normalise_ipv4_cidr(str(destination_cidr))
    except ValueError:
        cidr = str(destination_cidr)
    return f"{route_table_id} {cidr}"


# --- reading ---------------------------------------------------------------------------------------


def find_route(clients: AwsClients, route_table_id: str, cidr: str, region: str) -> JsonDict | None:
    """The route for ``cidr`` as EC2 describes it, or None; ToolError when the route table does not exist."""
    ec2 = clients.client("ec2", region)
    try:
        tables = ec2.describe_route_tables(RouteTableIds=[route_table_id])["RouteTables"]
    except ClientError as exc:
        if error_code(exc).startswith("InvalidRouteTableID"):
            raise ToolError(f"Route table {route_table_id} was not found in {region}.") from exc
        reason = describe_error(exc)
        raise ToolError(f"AWS refused to describe route table {route_table_id}: {reason}.") from exc
    except BotoCoreError as exc:
        raise AwsUnreachable(
            f"Could not reach AWS to describe route table {route_table_id}: {describe_error(exc)}."
        ) from exc
    if not tables:
        raise ToolError(f"Route table {route_table_id} was not found in {region}.")
    routes = tables[0].get("Routes", [])
    return next((dict(r) for r in routes if r.get("DestinationCidrBlock") == cidr), None)


def route_target(route: JsonDict | None) -> JsonDict | str:
    """``{"kind": <EC2 field>, "id": <target id>}`` for a described route, or "absent"."""
    if route is None:
        return ABSENT
    for kind in ROUTE_TARGET_FIELDS:
        if route.get(kind):
            return {"kind": kind, "id": str(route[kind])}
    return {"kind": "none", "id": ""}  # a route whose target was deleted (state blackhole)


def route_target_ids(route: JsonDict | None) -> list[str]:
    """Every id the route names as its target (an instance route names the instance and its interface)."""
    if route is None:
        return []
    return [str(route[kind]) for kind in ROUTE_TARGET_FIELDS if route.get(kind)]


def _describe(call: Any, target: str, region: str, key: str, **kwargs: Any) -> list[JsonDict]:
    try:
        found = list(call(**kwargs)[key])
    except ClientError as exc:
        if "NotFound" in error_code(exc) or "Malformed" in error_code(exc):
            raise ToolError(f"Route target {target} was not found in {region}.") from exc
        raise ToolError(f"AWS refused to describe route target {target}: {describe_error(exc)}.") from exc
    except BotoCoreError as exc:
        raise AwsUnreachable(f"Could not reach AWS to describe {target}: {describe_error(exc)}.") from exc
    if not found:
        raise ToolError(f"Route target {target} was not found in {region}.")
    return found


def _instance_health(ec2: Any, instance_id: str, region: str) -> tuple[bool, str]:
    statuses = _describe(
        ec2.describe_instance_status,
        instance_id,
        region,
        "InstanceStatuses",
        InstanceIds=[instance_id],
        IncludeAllInstances=True,
    )
    status = statuses[0]
    state = str(status.get("InstanceState", {}).get("Name", "unknown"))
    checks = (status.get("InstanceStatus", {}).get("Status"), status.get("SystemStatus", {}).get("Status"))
    healthy = state == "running" and checks == ("ok", "ok")
    shown = "/".join(check or "unknown" for check in checks)
    return healthy, f"{instance_id} is {state}, status checks {shown}"


def target_health(clients: AwsClients, target: str, region: str) -> JsonDict:
    """Whether the target exists and is healthy: ``{"target", "healthy": True|False|None, "detail"}``.

    Healthy means: an instance running with both status checks ok; a network interface whose attached
    instance is; a NAT gateway that is available. Other kinds are unknown (None). ToolError when the
    target does not exist.
    """
    ec2 = clients.client("ec2", region)
    kind = _prefix(target)
    if kind == "i":
        healthy, detail = _instance_health(ec2, target, region)
        return {"target": target, "healthy": healthy, "detail": detail}
    if kind == "eni":
        eni = _describe(
            ec2.describe_network_interfaces, target, region, "NetworkInterfaces", NetworkInterfaceIds=[target]
        )[0]
        instance_id = eni.get("Attachment", {}).get("InstanceId")
        if not instance_id:
            return {"target": target, "healthy": False, "detail": f"{target} is not attached to an instance"}
        healthy, detail = _instance_health(ec2, str(instance_id), region)
        return {"target": target, "healthy": healthy, "detail": f"{target} is on {detail}"}
    if kind == "nat":
        nat = _describe(ec2.describe_nat_gateways, target, region, "NatGateways", NatGatewayIds=[target])[0]
        state = str(nat.get("State", "unknown"))
        return {"target": target, "healthy": state == "available", "detail": f"{target} is {state}"}
    lookups = {
        "igw": (ec2.describe_internet_gateways, "InternetGateways", "InternetGatewayIds"),
        "tgw": (ec2.describe_transit_gateways, "TransitGateways", "TransitGatewayIds"),
        "vpce": (ec2.describe_vpc_endpoints, "VpcEndpoints", "VpcEndpointIds"),
        "pcx": (ec2.describe_vpc_peering_connections, "VpcPeeringConnections", "VpcPeeringConnectionIds"),
    }
    call, key, ids = lookups[kind]
    _describe(call, target, region, key, **{ids: [target]})
    return {"target": target, "healthy": None, "detail": f"the health of {target} is not checked by opsbot"}


def _attached_instance(clients: AwsClients, eni_id: str, region: str) -> str | None:
    """The instance a network interface is attached to, if any (None also when it cannot be read)."""
    ec2 = clients.client("ec2", region)
    try:
        interfaces = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"]
    except (ClientError, BotoCoreError):
        return None
    instance_id = interfaces[0].get("Attachment", {}).get("InstanceId") if interfaces else None
    return str(instance_id) if instance_id else None


def route_facts(clients: AwsClients, args: UpdateRouteArgs) -> JsonDict:
    """What the policy needs to decide an update_route, read-only: the route's current target ids (with
    the instance behind a network interface, which is what an alarm names) and the new target's health.
    ToolError if the table or the new target does not exist."""
    route = find_route(clients, args.route_table_id, args.destination_cidr, args.region)
    current = route_target_ids(route)
    for eni_id in [target for target in current if _prefix(target) == "eni"]:
        instance_id = _attached_instance(clients, eni_id, args.region)
        if instance_id and instance_id not in current:
            current.append(instance_id)
    health = target_health(clients, args.target, args.region)
    return {
        "route_table_id": args.route_table_id,
        "destination_cidr": args.destination_cidr,
        "current": route_target(route),
        "current_targets": current,
        "new_target": args.target,
        "new_target_healthy": health["healthy"],
        "new_target_detail": health["detail"],
    }


# --- the action ------------------------------------------------------------------------------------


def _restorable(previous: JsonDict | str) -> None:
    """Refuse a change opsbot could not undo: the VPC's local route, or a target kind it cannot restore."""
    if previous == ABSENT or not isinstance(previous, dict):
        return
    if previous["id"] == "local":
        raise ToolError("That destination is the VPC's local route, which cannot be redirected.")
    if _prefix(previous["id"]) not in RESTORE_PARAMS:
        raise ToolError(
            f"The route now goes to {previous['id'] or 'a deleted target'}, which opsbot could not put back "
            "on rollback, so it leaves the route alone."
        )


def _route_call(clients: AwsClients, args: UpdateRouteArgs, operation: str, target: str | None) -> None:
    ec2 = clients.client("ec2", args.region)
    params: JsonDict = {"RouteTableId": args.route_table_id, "DestinationCidrBlock": args.destination_cidr}
    if target is not None:
        params[RESTORE_PARAMS[_prefix(target)]] = target
    doing = f"{operation.replace('_', ' ')} {args.destination_cidr} in {args.route_table_id}"
    with aws_errors(doing + (f" via {target}" if target else "")):
        getattr(ec2, operation)(**params)


def _run_update_route(clients: AwsClients, args: UpdateRouteArgs, ctx: ExecContext) -> JsonDict:
    route = find_route(clients, args.route_table_id, args.destination_cidr, args.region)
    previous = route_target(route)
    _restorable(previous)
    health = target_health(clients, args.target, args.region)  # the new target must exist
    record: JsonDict = {
        "route_table_id": args.route_table_id,
        "destination_cidr": args.destination_cidr,
        "target": args.target,
        "previous": previous,
        "target_health": health["detail"],
    }
    if args.target in route_target_ids(route):
        return {**record, "changed": False}
    operation = "create_route" if previous == ABSENT else "replace_route"
    if ctx.dry_run:  # moto applies route changes even with DryRun=True: the plan comes from reads only
        return {"dry_run": True, **record, "would": operation}
    _route_call(clients, args, operation, args.target)
    return {**record, "operation": operation, "changed": True}


@skip_verify_after_dry_run
def _verify_update_route(clients: AwsClients, args: UpdateRouteArgs, record: JsonDict) -> VerifyResult:
    route = find_route(clients, args.route_table_id, args.destination_cidr, args.region)
    where = f"{args.destination_cidr} in {args.route_table_id}"
    if route is None:
        return VerifyResult(ok=False, detail=f"There is no route for {where}.")
    now = ", ".join(route_target_ids(route)) or "no target"
    state = str(route.get("State", "active"))
    ok = args.target in route_target_ids(route) and state == "active"
    return VerifyResult(ok=ok, detail=f"The route for {where} goes to {now} ({state}; wanted {args.target}).")


@skip_rollback_after_dry_run
def _rollback_update_route(
    clients: AwsClients, args: UpdateRouteArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    previous = record["previous"]
    if not record.get("changed"):
        return {"restored": False, "detail": f"The route already went to {args.target}; nothing changed."}
    route = find_route(clients, args.route_table_id, args.destination_cidr, args.region)
    if args.target not in route_target_ids(route):
        now = ", ".join(route_target_ids(route)) or "nowhere"
        raise ToolError(
            f"The route for {args.destination_cidr} in {args.route_table_id} was changed since opsbot set it "
            f"(it goes to {now} now), so opsbot leaves it alone."
        )
    if ctx.dry_run:
        return {"dry_run": True, "would_restore": previous}
    if previous == ABSENT:
        _route_call(clients, args, "delete_route", None)
        return {"restored": True, "deleted": True}
    _route_call(clients, args, "replace_route", str(previous["id"]))
    return {"restored": True, "target": previous["id"]}


def _route_resources(args: UpdateRouteArgs) -> list[str]:
    return [args.route_table_id, args.target]


update_route = ToolSpec[UpdateRouteArgs](
    name="update_route",
    description=(
        "Point a VPC route table's route for one IPv4 destination at another target (network interface, "
        "internet, NAT or transit gateway, VPC endpoint, peering connection or instance), creating the "
        "route if it does not exist; used to send traffic around a failed appliance."
    ),
    args=UpdateRouteArgs,
    risk="write",
    run=_run_update_route,
    verify=_verify_update_route,
    rollback=_rollback_update_route,
    resources=_route_resources,
    effect="Traffic from the route table's subnets to the destination goes to the new target.",
    rollback_summary="Point the route back at its previous target, or delete it if opsbot created it.",
)
