"""allow_egress: let a security group open TCP connections on one port to an IPv4 address or CIDR."""

from __future__ import annotations

from pydantic import Field, field_validator

from tools.aws_failures import aws_errors_allowing, not_found_or_refused
from tools.base import (
    SECURITY_GROUP_ID_RE,
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.cidr_args import normalise_ipv4_cidr
from tools.context import dry_run_check
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run


class AllowEgressArgs(RegionArgs):
    group_id: str = Field(description="Security group id, like sg-0123456789abcdef0")
    cidr: str = Field(description="IPv4 destination address or CIDR")
    port: int = Field(ge=1, le=65535, description="TCP port")

    @field_validator("group_id")
    @classmethod
    def _valid_group_id(cls, value: str) -> str:
        message = f"'{value}' is not a security group id (sg- and 8 or 17 hex digits)"
        return check_match(SECURITY_GROUP_ID_RE, value, message)

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return normalise_ipv4_cidr(value)


def _egress_permission(args: AllowEgressArgs, description: str | None = None) -> JsonDict:
    ip_range: JsonDict = {"CidrIp": args.cidr}
    if description:
        ip_range["Description"] = description
    return {"IpProtocol": "tcp", "FromPort": args.port, "ToPort": args.port, "IpRanges": [ip_range]}


def _egress_rule_exists(clients: AwsClients, args: AllowEgressArgs) -> bool:
    ec2 = clients.client("ec2", args.region)
    with not_found_or_refused(
        f"describe {args.group_id}",
        not_found=f"Security group {args.group_id} was not found in {args.region}.",
        is_not_found=lambda code: code.startswith("InvalidGroup"),
    ):
        group = ec2.describe_security_groups(GroupIds=[args.group_id])["SecurityGroups"][0]
    return any(
        perm.get("IpProtocol") == "tcp"
        and perm.get("FromPort") == args.port
        and perm.get("ToPort") == args.port
        and any(r.get("CidrIp") == args.cidr for r in perm.get("IpRanges", []))
        for perm in group.get("IpPermissionsEgress", [])
    )


def _run_allow_egress(clients: AwsClients, args: AllowEgressArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    existed = _egress_rule_exists(clients, args)
    record: JsonDict = {
        "group_id": args.group_id,
        "cidr": args.cidr,
        "port": args.port,
        "already_existed": existed,
    }
    if existed:
        return {**record, "changed": False}
    permission = _egress_permission(args, f"opsbot {ctx.incident_id}"[:255])
    if ctx.dry_run:
        dry_run_check(
            ec2.authorize_security_group_egress,
            f"allow egress from {args.group_id}",
            GroupId=args.group_id,
            IpPermissions=[permission],
        )
        return {"dry_run": True, **record}
    with aws_errors_allowing(
        f"allow egress from {args.group_id}", "InvalidPermission.Duplicate"
    ) as duplicate:
        ec2.authorize_security_group_egress(GroupId=args.group_id, IpPermissions=[permission])
    if duplicate.code is not None:
        return {**record, "already_existed": True, "changed": False}  # added concurrently
    return {**record, "changed": True}


@skip_verify_after_dry_run
def _verify_allow_egress(clients: AwsClients, args: AllowEgressArgs, record: JsonDict) -> VerifyResult:
    ok = _egress_rule_exists(clients, args)
    state = "allows" if ok else "does not allow"
    return VerifyResult(ok=ok, detail=f"{args.group_id} {state} TCP {args.port} out to {args.cidr}.")


@skip_rollback_after_dry_run
def _rollback_allow_egress(
    clients: AwsClients, args: AllowEgressArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    if not record.get("changed"):
        return {"revoked": False, "detail": "The rule was there before opsbot ran; it is kept."}
    ec2 = clients.client("ec2", args.region)
    if ctx.dry_run:
        dry_run_check(
            ec2.revoke_security_group_egress,
            f"revoke egress from {args.group_id}",
            GroupId=args.group_id,
            IpPermissions=[_egress_permission(args)],
        )
        return {"dry_run": True, "would_revoke": True}
    with aws_errors_allowing(f"revoke egress from {args.group_id}", "InvalidPermission.NotFound") as gone:
        ec2.revoke_security_group_egress(GroupId=args.group_id, IpPermissions=[_egress_permission(args)])
    if gone.code is not None:
        return {"revoked": False, "detail": "The rule was already gone."}
    return {"revoked": True}


def _allow_egress_resources(args: AllowEgressArgs) -> list[str]:
    return [args.group_id, args.cidr]


allow_egress = ToolSpec[AllowEgressArgs](
    name="allow_egress",
    description="Allow outbound TCP traffic on one port from a security group to an IPv4 address or CIDR.",
    args=AllowEgressArgs,
    risk="write",
    run=_run_allow_egress,
    verify=_verify_allow_egress,
    rollback=_rollback_allow_egress,
    resources=_allow_egress_resources,
    effect="Members of the security group can open TCP connections to the CIDR on that port.",
    rollback_summary="Revoke the egress rule, unless it existed before opsbot ran.",
)
