"""An instance's lifecycle: snapshot its volumes, stop it (start it again on rollback), terminate it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.aws_failures import aws_errors_allowing, undo_completed
from tools.base import AwsClients, ExecContext, JsonDict, ToolError, ToolSpec, VerifyFn, VerifyResult
from tools.context import (
    aws_errors,
    describe_error,
    dry_run_check,
    get_instance,
    instance_state,
    tags_to_dict,
)
from tools.ec2_helpers import (
    GONE_STATES,
    INCIDENT_TAG,
    InstanceArgs,
    incident_tags,
    instance_resources,
    live_instance,
)
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

STOPPED_STATES = frozenset({"stopping", "stopped"})

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
            tags = incident_tags(
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
        undo_completed(snapshots, lambda done: ec2.delete_snapshot(SnapshotId=done["snapshot_id"]))
        raise ToolError(
            f"AWS refused to snapshot the volumes of {args.instance_id}: {describe_error(exc)}."
        ) from exc
    return {"instance_id": args.instance_id, "incident_id": ctx.incident_id, "snapshots": snapshots}


@skip_verify_after_dry_run
def _verify_snapshot(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
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


@skip_rollback_after_dry_run
def _rollback_snapshot(
    clients: AwsClients, args: InstanceArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    ids = [snap["snapshot_id"] for snap in record["snapshots"]]
    if ctx.dry_run:
        for snapshot_id in ids:
            dry_run_check(ec2.delete_snapshot, f"delete {snapshot_id}", SnapshotId=snapshot_id)
        return {"dry_run": True, "would_delete": ids}
    deleted: list[str] = []
    for snapshot_id in ids:
        with aws_errors_allowing(f"delete snapshot {snapshot_id}", "InvalidSnapshot.NotFound"):
            ec2.delete_snapshot(SnapshotId=snapshot_id)
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
    resources=instance_resources,
    effect="A point-in-time snapshot of each attached EBS volume exists for forensics or recovery.",
    rollback_summary="Delete the snapshots this action made.",
)


# --- stop_instance / terminate_instance -------------------------------------------------------


def _state_after(call: Callable[..., Any], answer_key: str, verb: str, instance_id: str) -> str:
    """Ask EC2 to ``verb`` the instance (stop, start, terminate); the state it answers with."""
    with aws_errors(f"{verb} {instance_id}"):
        return str(call(InstanceIds=[instance_id])[answer_key][0]["CurrentState"]["Name"])


def _change_state(
    call: Callable[..., Any],
    answer_key: str,
    verb: str,
    record: JsonDict,
    ctx: ExecContext,
    done: Collection[str],
) -> JsonDict:
    """Ask EC2 to ``verb`` the record's instance unless its prior state is already one of ``done``."""
    instance_id, prior = record["instance_id"], record["prior_state"]
    if prior in done:
        return {**record, "changed": False, "detail": f"{instance_id} was already {prior}."}
    if ctx.dry_run:
        dry_run_check(call, f"{verb} {instance_id}", InstanceIds=[instance_id])
        return {"dry_run": True, **record, f"would_{verb}": True}
    return {**record, "changed": True, "state_after_call": _state_after(call, answer_key, verb, instance_id)}


def _verify_state_in(wanted: Collection[str]) -> VerifyFn[InstanceArgs]:
    @skip_verify_after_dry_run
    def verify(clients: AwsClients, args: InstanceArgs, record: JsonDict) -> VerifyResult:
        state = instance_state(get_instance(clients, args.instance_id, args.region))
        return VerifyResult(ok=state in wanted, detail=f"{args.instance_id} is {state}.")

    return verify


def _run_stop(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    prior = instance_state(live_instance(clients, args.instance_id, args.region))
    record: JsonDict = {"instance_id": args.instance_id, "prior_state": prior}
    return _change_state(ec2.stop_instances, "StoppingInstances", "stop", record, ctx, done=STOPPED_STATES)


@skip_rollback_after_dry_run
def _rollback_stop(clients: AwsClients, args: InstanceArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    if not record.get("changed"):
        return {"started": False, "detail": f"{args.instance_id} was already {record['prior_state']}."}
    ec2 = clients.client("ec2", args.region)
    if ctx.dry_run:
        dry_run_check(ec2.start_instances, f"start {args.instance_id}", InstanceIds=[args.instance_id])
        return {"dry_run": True, "would_start": args.instance_id}
    state = _state_after(ec2.start_instances, "StartingInstances", "start", args.instance_id)
    return {"started": True, "state_after_call": state}


stop_instance = ToolSpec[InstanceArgs](
    name="stop_instance",
    description="Stop (not terminate) an EC2 instance. Its EBS volumes are kept and it can be started again.",
    args=InstanceArgs,
    risk="write",
    run=_run_stop,
    verify=_verify_state_in(STOPPED_STATES),
    rollback=_rollback_stop,
    resources=instance_resources,
    effect="The instance stops; EBS data is kept; an Auto Scaling group may replace it.",
    rollback_summary="Start the instance again.",
)


def _run_terminate(clients: AwsClients, args: InstanceArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    instance = get_instance(clients, args.instance_id, args.region)
    record: JsonDict = {
        "instance_id": args.instance_id,
        "prior_state": instance_state(instance),
        "instance_type": instance.get("InstanceType", ""),
        "tags": tags_to_dict(instance.get("Tags")),
        "volumes": [
            bdm["Ebs"]["VolumeId"] for bdm in instance.get("BlockDeviceMappings", []) if "Ebs" in bdm
        ],
    }
    return _change_state(
        ec2.terminate_instances, "TerminatingInstances", "terminate", record, ctx, done=GONE_STATES
    )


terminate_instance = ToolSpec[InstanceArgs](
    name="terminate_instance",
    description="Terminate an EC2 instance permanently. This cannot be undone.",
    args=InstanceArgs,
    risk="destructive",
    run=_run_terminate,
    verify=_verify_state_in(GONE_STATES),
    resources=instance_resources,
    effect="The instance is terminated; volumes marked delete-on-termination are deleted with it.",
)
