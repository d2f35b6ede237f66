"""tag_resource: set one tag on an EC2 resource, remembering the value it had before."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from tools.aws_failures import not_found_or_refused
from tools.base import AwsClients, ExecContext, JsonDict, RegionArgs, ToolSpec, VerifyResult, check_match
from tools.context import aws_errors, dry_run_check
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

RESOURCE_ID_RE = re.compile(r"^[a-z]+(-[a-z]+)?-[0-9a-f]{8}([0-9a-f]{9})?$")

_DESCRIBE_BY_PREFIX = {
    "i": ("describe_instances", "InstanceIds"),
    "vol": ("describe_volumes", "VolumeIds"),
    "snap": ("describe_snapshots", "SnapshotIds"),
    "sg": ("describe_security_groups", "GroupIds"),
    "vpc": ("describe_vpcs", "VpcIds"),
    "subnet": ("describe_subnets", "SubnetIds"),
    "eni": ("describe_network_interfaces", "NetworkInterfaceIds"),
    "ami": ("describe_images", "ImageIds"),
    "acl": ("describe_network_acls", "NetworkAclIds"),
    "rtb": ("describe_route_tables", "RouteTableIds"),
}


class TagResourceArgs(RegionArgs):
    resource_id: str = Field(description="EC2 resource id, like i-0123..., vol-0123..., sg-0123...")
    key: str = Field(min_length=1, max_length=128)
    value: str = Field(max_length=256)

    @field_validator("resource_id")
    @classmethod
    def _valid_resource_id(cls, value: str) -> str:
        return check_match(
            RESOURCE_ID_RE, value, f"'{value}' is not an EC2 resource id (like i-0123456789abcdef0)"
        )

    @field_validator("key")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.lower().startswith("aws:"):
            raise ValueError("tag keys starting with 'aws:' are reserved by AWS")
        return value


def _check_resource_exists(ec2: Any, resource_id: str, region: str) -> None:
    describe = _DESCRIBE_BY_PREFIX.get(resource_id.rsplit("-", 1)[0])
    if describe is None:
        return  # create_tags itself reports unknown ids
    method, param = describe
    with not_found_or_refused(
        f"describe {resource_id}",
        not_found=f"Resource {resource_id} was not found in {region}.",
        is_not_found=lambda code: code.endswith(".NotFound"),
    ):
        getattr(ec2, method)(**{param: [resource_id]})


def _current_tag(ec2: Any, resource_id: str, key: str) -> str | None:
    with aws_errors(f"read the tags of {resource_id}"):
        tags = ec2.describe_tags(
            Filters=[{"Name": "resource-id", "Values": [resource_id]}, {"Name": "key", "Values": [key]}]
        )["Tags"]
    return str(tags[0].get("Value", "")) if tags else None


def _run_tag(clients: AwsClients, args: TagResourceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    _check_resource_exists(ec2, args.resource_id, args.region)
    prior = _current_tag(ec2, args.resource_id, args.key)
    record: JsonDict = {
        "resource_id": args.resource_id,
        "key": args.key,
        "value": args.value,
        "existed": prior is not None,
        "prior_value": prior,
    }
    if prior == args.value:
        return {**record, "changed": False}
    tags = [{"Key": args.key, "Value": args.value}]
    if ctx.dry_run:
        dry_run_check(ec2.create_tags, f"tag {args.resource_id}", Resources=[args.resource_id], Tags=tags)
        return {"dry_run": True, **record}
    with aws_errors(f"tag {args.resource_id}"):
        ec2.create_tags(Resources=[args.resource_id], Tags=tags)
    return {**record, "changed": True}


@skip_verify_after_dry_run
def _verify_tag(clients: AwsClients, args: TagResourceArgs, record: JsonDict) -> VerifyResult:
    now = _current_tag(clients.client("ec2", args.region), args.resource_id, args.key)
    return VerifyResult(
        ok=now == args.value,
        detail=f"Tag {args.key} on {args.resource_id} is {now!r} (wanted {args.value!r}).",
    )


@skip_rollback_after_dry_run
def _rollback_tag(clients: AwsClients, args: TagResourceArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    if not record.get("changed"):
        return {"restored": False, "detail": "The tag already had this value; nothing to undo."}
    ec2 = clients.client("ec2", args.region)
    prior = record["prior_value"]
    if prior is None:
        call, kwargs = ec2.delete_tags, {"Tags": [{"Key": args.key, "Value": args.value}]}
    else:
        call, kwargs = ec2.create_tags, {"Tags": [{"Key": args.key, "Value": prior}]}
    if ctx.dry_run:
        dry_run_check(
            call, f"restore tag {args.key} on {args.resource_id}", Resources=[args.resource_id], **kwargs
        )
        return {"dry_run": True, "would_restore": prior}
    with aws_errors(f"restore tag {args.key} on {args.resource_id}"):
        call(Resources=[args.resource_id], **kwargs)
    return {"restored": True, "value": prior}


def _tag_resources(args: TagResourceArgs) -> list[str]:
    return [args.resource_id]


tag_resource = ToolSpec[TagResourceArgs](
    name="tag_resource",
    description="Set one tag on an EC2 resource such as an instance, volume or security group.",
    args=TagResourceArgs,
    risk="write",
    run=_run_tag,
    verify=_verify_tag,
    rollback=_rollback_tag,
    resources=_tag_resources,
    effect="The resource carries the tag with the given value.",
    rollback_summary="Put back the tag's previous value, or remove it if it was not there.",
)
