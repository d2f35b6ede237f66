"""The quarantine security group isolation gives an instance: one per VPC, found or made, never with rules."""

from __future__ import annotations

from typing import Any

from tools.aws_failures import aws_errors_allowing
from tools.base import ExecContext, JsonDict, ToolError
from tools.context import aws_errors, tags_to_dict
from tools.ec2_helpers import incident_tags

QUARANTINE_TAG = "opsbot:quarantine"


def find_quarantine_group(ec2: Any, name: str, vpc_id: str) -> JsonDict | None:
    with aws_errors(f"look up security group {name} in {vpc_id}"):
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [name]}]
        )["SecurityGroups"]
    return dict(groups[0]) if groups else None


def _empty_our_group(ec2: Any, group: JsonDict) -> None:
    """Strip rules from a quarantine group opsbot made; refuse to touch anyone else's group."""
    ingress, egress = group.get("IpPermissions", []), group.get("IpPermissionsEgress", [])
    if not ingress and not egress:
        return
    if QUARANTINE_TAG not in tags_to_dict(group.get("Tags")):
        raise ToolError(
            f"Security group {group['GroupName']} ({group['GroupId']}) has rules and was not made by opsbot, "
            "so it cannot serve as the quarantine group."
        )
    with aws_errors(f"empty quarantine group {group['GroupId']}"):
        if ingress:
            ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=ingress)
        if egress:
            ec2.revoke_security_group_egress(GroupId=group["GroupId"], IpPermissions=egress)


def ensure_quarantine_group(ec2: Any, ctx: ExecContext, vpc_id: str) -> tuple[str, bool]:
    """The quarantine group's id in ``vpc_id`` (made, with no rules, if absent) and whether it was made."""
    name = ctx.quarantine_group_name
    existing = find_quarantine_group(ec2, name, vpc_id)
    if existing is not None:
        _empty_our_group(ec2, existing)
        return str(existing["GroupId"]), False
    tags = incident_tags(ctx, Name=name, **{QUARANTINE_TAG: "true"})
    with aws_errors_allowing(
        f"create the quarantine group in {vpc_id}", "InvalidGroup.Duplicate"
    ) as duplicate:
        group_id = str(
            ec2.create_security_group(
                GroupName=name,
                Description="opsbot quarantine: no inbound or outbound traffic",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
            )["GroupId"]
        )
    if duplicate.code is not None:
        return ensure_quarantine_group(ec2, ctx, vpc_id)  # made concurrently: reuse it
    created = find_quarantine_group(ec2, name, vpc_id)
    if created is not None:
        _empty_our_group(ec2, created)  # removes the default allow-all egress rule
    return group_id, True
