"""Actions on one EC2 instance: isolate, snapshot, stop, terminate, restart a service, tag."""

from __future__ import annotations

import re
import shlex
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from tools.base import (
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_instance_id,
)
from tools.context import (
    DRY_RUN_VERIFIED,
    aws_errors,
    describe_error,
    dry_run_check,
    error_code,
    get_instance,
    instance_state,
    nothing_to_roll_back,
    tags_to_dict,
)

ISOLATED_TAG = "opsbot:isolated"
QUARANTINE_TAG = "opsbot:quarantine"
INCIDENT_TAG = "opsbot:incident"
GONE_STATES = frozenset({"shutting-down", "terminated"})
SERVICE_NAME_PATTERN = r"^[A-Za-z0-9@._-]{1,64}$"
RESOURCE_ID_RE = re.compile(r"^[a-z]+(-[a-z]+)?-[0-9a-f]{8}([0-9a-f]{9})?$")


class InstanceArgs(RegionArgs):
    instance_id: str = Field(description="EC2 instance id, like i-0123456789abcdef0")

    @field_validator("instance_id")
    @classmethod
    def _valid_instance_id(cls, value: str) -> str:
        return check_instance_id(value)


def _instance_resources(args: InstanceArgs) -> list[str]:
    return [args.instance_id]


def _live_instance(clients: AwsClients, instance_id: str, region: str) -> JsonDict:
    instance = get_instance(clients, instance_id, region)
    if instance_state(instance) in GONE_STATES:
        raise ToolError(f"Instance {instance_id} is {instance_state(instance)}.")
    return instance


def _ctx_tags(ctx: ExecContext, **extra: str) -> list[JsonDict]:
    tags = {**ctx.tags, INCIDENT_TAG: ctx.incident_id, **extra}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


# --- isolate_instance -------------------------------------------------------------------------


def _find_quarantine_group(ec2: Any, name: str, vpc_id: str) -> JsonDict | None:
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


def _ensure_quarantine_group(ec2: Any, ctx: ExecContext, vpc_id: str) -> tuple[str, bool]:
    """The quarantine group's id in ``vpc_id`` (made, with no rules, if absent) and whether it was made."""
    name = ctx.quarantine_group_name
    existing = _find_quarantine_group(ec2, name, vpc_id)
    if existing is not None:
        _empty_our_group(ec2, existing)
        return str(existing["GroupId"]), False
    tags = _ctx_tags(ctx, Name=name, **{QUARANTINE_TAG: "true"})
    try:
        group_id = str(
            ec2.create_security_group(
                GroupName=name,
                Description="opsbot quarantine: no inbound or outbound traffic",
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
            )["GroupId"]
        )
    except ClientError as exc:
        if error_code(exc) != "InvalidGroup.Duplicate":
            raise ToolError(
                f"AWS refused to create the quarantine group in {vpc_id}: {describe_error(exc)}."
            ) from exc
        return _ensure_quarantine_group(ec2, ctx, vpc_id)  # made concurrently: reuse it
    created = _find_quarantine_group(ec2, name, vpc_id)
    if created is not None:
        _empty_our_group(ec2, created)  # removes the default allow-all egress rule
    return group_id, True


def _set_groups(ec2: Any, instance_id: str, changes: list[tuple[str, list[str], list[str]]]) -> list[str]:
    """Apply (eni, new groups, old groups) changes; put back the ones already done if one fails."""
    done: list[tuple[str, list[str], list[str]]] = []
    try:
        for change in changes:
            ec2.modify_network_interface_attribute(NetworkInterfaceId=change[0], Groups=change[1])
            done.append(change)
        if len(changes) == 1:
            # Same primary ENI; also keeps the instance-level group list in step (moto tracks it apart).
            ec2.modify_instance_attribute(InstanceId=instance_id, Groups=changes[0][1])
    except (ClientError, BotoCoreError) as exc:
        for eni_id, _new, old in done:
            try:
                ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, Groups=old)
            except (ClientError, BotoCoreError):
                continue
        raise ToolError(
            f"AWS refused to change the security groups of {instance_id}: {describe_error(exc)}."
        ) from exc
    return [eni_id for eni_id, _new, _old in done]


def _run_isolate(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    instance = _live_instance(clients, args.instance_id, args.region)
    interfaces = [
        {
            "eni_id": eni["NetworkInterfaceId"],
            "vpc_id": eni["VpcId"],
            "original_groups": [group["GroupId"] for group in eni.get("Groups", [])],
        }
        for eni in instance.get("NetworkInterfaces", [])
    ]
    if not interfaces:
        raise ToolError(f"Instance {args.instance_id} has no network interfaces to isolate.")
    record: JsonDict = {
        "instance_id": args.instance_id,
        "quarantine_group_name": ctx.quarantine_group_name,
        "tag": {"key": ISOLATED_TAG, "value": ctx.incident_id},
        "prior_tag_value": tags_to_dict(instance.get("Tags")).get(ISOLATED_TAG),
        "interfaces": interfaces,
    }
    vpcs = sorted({eni["vpc_id"] for eni in interfaces})
    if ctx.dry_run:
        existing = {vpc: _find_quarantine_group(ec2, ctx.quarantine_group_name, vpc) for vpc in vpcs}
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
    quarantine = {vpc: _ensure_quarantine_group(ec2, ctx, vpc) for vpc in vpcs}
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


def _verify_isolate(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
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


def _rollback_isolate(
    clients: AwsClients, args: InstanceArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
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
    resources=_instance_resources,
    effect="The instance keeps running but can send and receive no network traffic.",
    rollback_summary="Give each network interface back its original security groups and remove the tag.",
)


# --- snapshot_instance ------------------------------------------------------------------------


def _run_snapshot(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    instance = get_instance(clients, args.instance_id, args.region)
    volumes = [
        {"volume_id": bdm["Ebs"]["VolumeId"], "device": bdm["DeviceName"]}
        for bdm in instance.get("BlockDeviceMappings", [])
        if "Ebs" in bdm
    ]
    if not volumes:
        raise ToolError(f"Instance {args.instance_id} has no EBS volumes to snapshot.")
    if ctx.dry_run:
        for volume in volumes:
            dry_run_check(
                ec2.create_snapshot, f"snapshot {volume['volume_id']}", VolumeId=volume["volume_id"]
            )
        return {"dry_run": True, "instance_id": args.instance_id, "would_snapshot": volumes}
    snapshots: list[JsonDict] = []
    try:
        for volume in volumes:
            tags = _ctx_tags(
                ctx,
                **{"opsbot:source-instance": args.instance_id, "opsbot:source-volume": volume["volume_id"]},
            )
            snapshot = ec2.create_snapshot(
                VolumeId=volume["volume_id"],
                Description=f"opsbot {ctx.incident_id}: {args.instance_id} {volume['device']}"[:255],
                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
            )
            snapshots.append({**volume, "snapshot_id": snapshot["SnapshotId"]})
    except (ClientError, BotoCoreError) as exc:
        for done in snapshots:
            try:
                ec2.delete_snapshot(SnapshotId=done["snapshot_id"])
            except (ClientError, BotoCoreError):
                continue
        raise ToolError(
            f"AWS refused to snapshot the volumes of {args.instance_id}: {describe_error(exc)}."
        ) from exc
    return {"instance_id": args.instance_id, "incident_id": ctx.incident_id, "snapshots": snapshots}


def _verify_snapshot(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    ec2 = clients.client("ec2", args.region)
    ids = [snap["snapshot_id"] for snap in record["snapshots"]]
    try:
        found = ec2.describe_snapshots(SnapshotIds=ids)["Snapshots"]
    except ClientError as exc:
        return VerifyResult(
            ok=False, detail=f"Some snapshots of {args.instance_id} are missing: {describe_error(exc)}."
        )
    bad = [
        snap["SnapshotId"]
        for snap in found
        if snap.get("State") == "error"
        or tags_to_dict(snap.get("Tags")).get(INCIDENT_TAG) != record["incident_id"]
    ]
    if len(found) != len(ids) or bad:
        return VerifyResult(ok=False, detail=f"Snapshots of {args.instance_id} are missing or failed: {bad}.")
    states = sorted({str(snap.get("State")) for snap in found})
    return VerifyResult(
        ok=True, detail=f"{len(ids)} snapshot(s) of {args.instance_id} exist ({', '.join(states)})."
    )


def _rollback_snapshot(
    clients: AwsClients, args: InstanceArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
    ec2 = clients.client("ec2", args.region)
    ids = [snap["snapshot_id"] for snap in record["snapshots"]]
    if ctx.dry_run:
        for snapshot_id in ids:
            dry_run_check(ec2.delete_snapshot, f"delete {snapshot_id}", SnapshotId=snapshot_id)
        return {"dry_run": True, "would_delete": ids}
    deleted: list[str] = []
    for snapshot_id in ids:
        try:
            ec2.delete_snapshot(SnapshotId=snapshot_id)
        except ClientError as exc:
            if error_code(exc) != "InvalidSnapshot.NotFound":
                raise ToolError(
                    f"AWS refused to delete snapshot {snapshot_id}: {describe_error(exc)}."
                ) from exc
        deleted.append(snapshot_id)
    return {"deleted_snapshots": deleted}


snapshot_instance = ToolSpec[InstanceArgs](
    name="snapshot_instance",
    description="Take an EBS snapshot of every volume attached to an EC2 instance, tagged with the incident.",
    args=InstanceArgs,
    risk="write",
    run=_run_snapshot,
    verify=_verify_snapshot,
    rollback=_rollback_snapshot,
    resources=_instance_resources,
    effect="A point-in-time snapshot of each attached EBS volume exists for forensics or recovery.",
    rollback_summary="Delete the snapshots this action made.",
)


# --- stop_instance / terminate_instance -------------------------------------------------------


def _run_stop(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    prior = instance_state(_live_instance(clients, args.instance_id, args.region))
    record: JsonDict = {"instance_id": args.instance_id, "prior_state": prior}
    if prior in ("stopping", "stopped"):
        return {**record, "changed": False, "detail": f"{args.instance_id} was already {prior}."}
    if ctx.dry_run:
        dry_run_check(ec2.stop_instances, f"stop {args.instance_id}", InstanceIds=[args.instance_id])
        return {"dry_run": True, **record, "would_stop": True}
    with aws_errors(f"stop {args.instance_id}"):
        result = ec2.stop_instances(InstanceIds=[args.instance_id])["StoppingInstances"][0]
    return {**record, "changed": True, "state_after_call": result["CurrentState"]["Name"]}


def _verify_stop(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    state = instance_state(get_instance(clients, args.instance_id, args.region))
    return VerifyResult(ok=state in ("stopping", "stopped"), detail=f"{args.instance_id} is {state}.")


def _rollback_stop(clients: AwsClients, args: InstanceArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
    if not record.get("changed"):
        return {"started": False, "detail": f"{args.instance_id} was already {record['prior_state']}."}
    ec2 = clients.client("ec2", args.region)
    if ctx.dry_run:
        dry_run_check(ec2.start_instances, f"start {args.instance_id}", InstanceIds=[args.instance_id])
        return {"dry_run": True, "would_start": args.instance_id}
    with aws_errors(f"start {args.instance_id}"):
        result = ec2.start_instances(InstanceIds=[args.instance_id])["StartingInstances"][0]
    return {"started": True, "state_after_call": result["CurrentState"]["Name"]}


stop_instance = ToolSpec[InstanceArgs](
    name="stop_instance",
    description="Stop (not terminate) an EC2 instance. Its EBS volumes are kept and it can be started again.",
    args=InstanceArgs,
    risk="write",
    run=_run_stop,
    verify=_verify_stop,
    rollback=_rollback_stop,
    resources=_instance_resources,
    effect="The instance stops; EBS data is kept; an Auto Scaling group may replace it.",
    rollback_summary="Start the instance again.",
)


def _run_terminate(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    instance = get_instance(clients, args.instance_id, args.region)
    prior = instance_state(instance)
    record: JsonDict = {
        "instance_id": args.instance_id,
        "prior_state": prior,
        "instance_type": instance.get("InstanceType", ""),
        "tags": tags_to_dict(instance.get("Tags")),
        "volumes": [
            bdm["Ebs"]["VolumeId"] for bdm in instance.get("BlockDeviceMappings", []) if "Ebs" in bdm
        ],
    }
    if prior in GONE_STATES:
        return {**record, "changed": False, "detail": f"{args.instance_id} was already {prior}."}
    if ctx.dry_run:
        dry_run_check(
            ec2.terminate_instances, f"terminate {args.instance_id}", InstanceIds=[args.instance_id]
        )
        return {"dry_run": True, **record, "would_terminate": True}
    with aws_errors(f"terminate {args.instance_id}"):
        result = ec2.terminate_instances(InstanceIds=[args.instance_id])["TerminatingInstances"][0]
    return {**record, "changed": True, "state_after_call": result["CurrentState"]["Name"]}


def _verify_terminate(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    state = instance_state(get_instance(clients, args.instance_id, args.region))
    return VerifyResult(ok=state in GONE_STATES, detail=f"{args.instance_id} is {state}.")


terminate_instance = ToolSpec[InstanceArgs](
    name="terminate_instance",
    description="Terminate an EC2 instance permanently. This cannot be undone.",
    args=InstanceArgs,
    risk="destructive",
    run=_run_terminate,
    verify=_verify_terminate,
    resources=_instance_resources,
    effect="The instance is terminated; volumes marked delete-on-termination are deleted with it.",
)


# --- restart_service --------------------------------------------------------------------------


class RestartServiceArgs(InstanceArgs):
    service: str = Field(
        pattern=SERVICE_NAME_PATTERN, description="systemd unit name, like nginx or nginx.service"
    )

    @field_validator("service")
    @classmethod
    def _not_an_option(cls, value: str) -> str:
        if value.startswith("-"):
            raise ValueError(f"'{value}' is not a service name (it must not start with '-')")
        return value


def _restart_command(service: str) -> str:
    return f"systemctl restart {shlex.quote(service)}"


def _run_restart(clients: AwsClients, args: RestartServiceArgs, ctx: ExecContext) -> JsonDict:
    state = instance_state(get_instance(clients, args.instance_id, args.region))
    if state != "running":
        raise ToolError(f"Instance {args.instance_id} is {state}, so its service cannot be restarted.")
    command = _restart_command(args.service)
    record: JsonDict = {"instance_id": args.instance_id, "service": args.service, "command": command}
    if ctx.dry_run:  # SSM has no DryRun; the instance was checked above
        return {"dry_run": True, **record}
    ssm = clients.client("ssm", args.region)
    with aws_errors(f"send the restart command to {args.instance_id}"):
        sent = ssm.send_command(
            InstanceIds=[args.instance_id],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": [command]},
            Comment=f"opsbot {ctx.incident_id}: restart {args.service}"[:100],
        )["Command"]
    return {**record, "command_id": sent["CommandId"], "status": sent.get("Status", "")}


def _command_status(clients: AwsClients, args: RestartServiceArgs, command_id: str) -> str:
    ssm = clients.client("ssm", args.region)
    try:
        return str(ssm.get_command_invocation(CommandId=command_id, InstanceId=args.instance_id)["Status"])
    except ClientError as exc:
        if error_code(exc) != "InvocationDoesNotExist":
            raise ToolError(f"AWS refused to report on command {command_id}: {describe_error(exc)}.") from exc
    with aws_errors(f"report on command {command_id}"):
        commands = ssm.list_commands(CommandId=command_id)["Commands"]
    return str(commands[0]["Status"]) if commands else "unknown"


def _verify_restart(clients: AwsClients, args: RestartServiceArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    status = _command_status(clients, args, record["command_id"])
    return VerifyResult(
        ok=status == "Success",
        detail=f"Restarting {args.service} on {args.instance_id} (command {record['command_id']}): {status}.",
    )


def _restart_resources(args: RestartServiceArgs) -> list[str]:
    return [args.instance_id]


restart_service = ToolSpec[RestartServiceArgs](
    name="restart_service",
    description="Restart one systemd service on an EC2 instance through SSM Run Command (systemctl restart).",
    args=RestartServiceArgs,
    risk="write",
    run=_run_restart,
    verify=_verify_restart,
    resources=_restart_resources,
    effect="The service restarts; its connections drop briefly.",
)


# --- tag_resource -----------------------------------------------------------------------------

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
        if not RESOURCE_ID_RE.match(value):
            raise ValueError(f"'{value}' is not an EC2 resource id (like i-0123456789abcdef0)")
        return value

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
    try:
        getattr(ec2, method)(**{param: [resource_id]})
    except ClientError as exc:
        if error_code(exc).endswith(".NotFound"):
            raise ToolError(f"Resource {resource_id} was not found in {region}.") from exc
        raise ToolError(f"AWS refused to describe {resource_id}: {describe_error(exc)}.") from exc


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


def _verify_tag(clients: AwsClients, args: TagResourceArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    now = _current_tag(clients.client("ec2", args.region), args.resource_id, args.key)
    return VerifyResult(
        ok=now == args.value,
        detail=f"Tag {args.key} on {args.resource_id} is {now!r} (wanted {args.value!r}).",
    )


def _rollback_tag(clients: AwsClients, args: TagResourceArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
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

SPECS: tuple[ToolSpec[Any], ...] = (
    isolate_instance,
    snapshot_instance,
    stop_instance,
    terminate_instance,
    restart_service,
    tag_resource,
)
