"""isolate_instance: every network interface of an instance gets only the empty quarantine group."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.aws_failures import undo_completed
from tools.base import AwsClients, ExecContext, JsonDict, ToolError, ToolSpec, VerifyResult
from tools.context import aws_errors, describe_error, dry_run_check, get_instance, tags_to_dict
from tools.ec2_helpers import InstanceArgs, instance_resources, live_instance
from tools.quarantine_group import ensure_quarantine_group, find_quarantine_group
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

ISOLATED_TAG = "opsbot:isolated"

# (network interface id, groups to give it, groups it has now)
GroupChange = tuple[str, list[str], list[str]]


def _set_groups(ec2: Any, instance_id: str, changes: list[GroupChange]) -> list[str]:
    """Apply the group changes; put back the ones already done if one fails."""
    done: list[GroupChange] = []
    try:
        for change in changes:
            ec2.modify_network_interface_attribute(NetworkInterfaceId=change[0], Groups=change[1])
            done.append(change)
        if len(changes) == 1:
            # Same primary ENI; also keeps the instance-level group list in step (moto tracks it apart).
            ec2.modify_instance_attribute(InstanceId=instance_id, Groups=changes[0][1])
    except (ClientError, BotoCoreError) as exc:
        undo_completed(
            done,
            lambda change: ec2.modify_network_interface_attribute(
                NetworkInterfaceId=change[0], Groups=change[2]
            ),
        )
        raise ToolError(
            f"AWS refused to change the security groups of {instance_id}: {describe_error(exc)}."
        ) from exc
    return [eni_id for eni_id, _new, _old in done]


def _interfaces(instance: JsonDict) -> list[JsonDict]:
    return [
        {
            "eni_id": eni["NetworkInterfaceId"],
            "vpc_id": eni["VpcId"],
            "original_groups": [group["GroupId"] for group in eni.get("Groups", [])],
        }
        for eni in instance.get("NetworkInterfaces", [])
    ]


def _dry_run_isolate(ec2: Any, args: InstanceArgs, ctx: ExecContext, record: JsonDict) -> JsonDict:
    """Check every call isolation would make with DryRun, finding (not making) the quarantine groups."""
    interfaces: list[JsonDict] = record["interfaces"]
    vpcs = sorted({eni["vpc_id"] for eni in interfaces})
    existing = {vpc: find_quarantine_group(ec2, ctx.quarantine_group_name, vpc) for vpc in vpcs}
    for vpc, group in existing.items():
        if group is None:
            dry_run_check(
                ec2.create_security_group,
                f"create a quarantine group in {vpc}",
                GroupName=ctx.quarantine_group_name,
                Description="opsbot quarantine",
                VpcId=vpc,
            )
    for eni in interfaces:
        group = existing[eni["vpc_id"]]
        eni["quarantine_group_id"] = group["GroupId"] if group else None
        dry_run_check(
            ec2.modify_network_interface_attribute,
            f"change the groups of {eni['eni_id']}",
            NetworkInterfaceId=eni["eni_id"],
            Groups=[group["GroupId"]] if group else eni["original_groups"],
        )
    dry_run_check(
        ec2.create_tags,
        f"tag {args.instance_id}",
        Resources=[args.instance_id],
        Tags=[{"Key": ISOLATED_TAG, "Value": ctx.incident_id}],
    )
    record["would_create_groups_in"] = [vpc for vpc, group in existing.items() if group is None]
    return {"dry_run": True, **record}


def _run_isolate(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    instance = live_instance(clients, args.instance_id, args.region)
    interfaces = _interfaces(instance)
    if not interfaces:
        raise ToolError(f"Instance {args.instance_id} has no network interfaces to isolate.")
    record: JsonDict = {
        "instance_id": args.instance_id,
        "quarantine_group_name": ctx.quarantine_group_name,
        "tag": {"key": ISOLATED_TAG, "value": ctx.incident_id},
        "prior_tag_value": tags_to_dict(instance.get("Tags")).get(ISOLATED_TAG),
        "interfaces": interfaces,
    }
    if ctx.dry_run:
        return _dry_run_isolate(ec2, args, ctx, record)
    vpcs = sorted({eni["vpc_id"] for eni in interfaces})
    quarantine = {vpc: ensure_quarantine_group(ec2, ctx, vpc) for vpc in vpcs}
    for eni in interfaces:
        eni["quarantine_group_id"] = quarantine[eni["vpc_id"]][0]
    _set_groups(
        ec2,
        args.instance_id,
        [(eni["eni_id"], [eni["quarantine_group_id"]], eni["original_groups"]) for eni in interfaces],
    )
    with aws_errors(f"tag {args.instance_id} as isolated"):
        ec2.create_tags(Resources=[args.instance_id], Tags=[{"Key": ISOLATED_TAG, "Value": ctx.incident_id}])
    record["created_groups"] = [group_id for group_id, made in quarantine.values() if made]
    return record


@skip_verify_after_dry_run
def _verify_isolate(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
    instance = get_instance(clients, args.instance_id, args.region)
    groups_now = {
        eni["NetworkInterfaceId"]: sorted(g["GroupId"] for g in eni.get("Groups", []))
        for eni in instance.get("NetworkInterfaces", [])
    }
    problems = [
        f"{eni['eni_id']} has {groups_now.get(eni['eni_id'])}"
        for eni in record["interfaces"]
        if groups_now.get(eni["eni_id"]) != [eni["quarantine_group_id"]]
    ]
    ec2 = clients.client("ec2", args.region)
    quarantine_ids = sorted({eni["quarantine_group_id"] for eni in record["interfaces"]})
    with aws_errors("read the quarantine groups"):
        for group in ec2.describe_security_groups(GroupIds=quarantine_ids)["SecurityGroups"]:
            if group.get("IpPermissions") or group.get("IpPermissionsEgress"):
                problems.append(f"quarantine group {group['GroupId']} has rules")
    if tags_to_dict(instance.get("Tags")).get(ISOLATED_TAG) != record["tag"]["value"]:
        problems.append(f"the {ISOLATED_TAG} tag is missing")
    if problems:
        return VerifyResult(
            ok=False, detail=f"{args.instance_id} is not isolated: " + "; ".join(problems) + "."
        )
    return VerifyResult(
        ok=True, detail=f"Every network interface of {args.instance_id} has only the quarantine group."
    )


@skip_rollback_after_dry_run
def _rollback_isolate(
    clients: AwsClients, args: InstanceArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    interfaces: list[JsonDict] = record["interfaces"]
    if ctx.dry_run:
        for eni in interfaces:
            dry_run_check(
                ec2.modify_network_interface_attribute,
                f"restore the groups of {eni['eni_id']}",
                NetworkInterfaceId=eni["eni_id"],
                Groups=eni["original_groups"],
            )
        return {"dry_run": True, "would_restore": interfaces}
    restored = _set_groups(
        ec2,
        args.instance_id,
        [(eni["eni_id"], eni["original_groups"], [eni["quarantine_group_id"]]) for eni in interfaces],
    )
    prior = record.get("prior_tag_value")
    with aws_errors(f"restore the {ISOLATED_TAG} tag on {args.instance_id}"):
        if prior is None:
            ec2.delete_tags(Resources=[args.instance_id], Tags=[{"Key": ISOLATED_TAG}])
        else:
            ec2.create_tags(Resources=[args.instance_id], Tags=[{"Key": ISOLATED_TAG, "Value": prior}])
    return {"restored_interfaces": restored, "tag_restored_to": prior}


isolate_instance = ToolSpec[InstanceArgs](
    name="isolate_instance",
    description=(
        "Cut an EC2 instance off the network: every network interface gets only a quarantine security "
        "group with no rules, and the instance is tagged. Other security groups are never edited."
    ),
    args=InstanceArgs,
    risk="write",
    run=_run_isolate,
    verify=_verify_isolate,
    rollback=_rollback_isolate,
    resources=instance_resources,
    effect="The instance keeps running but can send and receive no network traffic.",
    rollback_summary="Give each network interface back its original security groups and remove the tag.",
)
