"""Auto Scaling actions: change a group's desired capacity within its existing bounds."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from tools.base import (
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.context import aws_errors, get_asg
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

ASG_NAME_RE = re.compile(r"^[^\x00-\x1f\x7f:]{1,255}$")


class ScaleAsgArgs(RegionArgs):
    asg_name: str = Field(description="Auto Scaling group name")
    desired_capacity: int = Field(ge=0, description="New desired capacity; never above the group's MaxSize")

    @field_validator("asg_name")
    @classmethod
    def _valid_asg_name(cls, value: str) -> str:
        message = f"'{value}' is not an Auto Scaling group name (1-255 characters, no colon)"
        return check_match(ASG_NAME_RE, value, message)


def _set_capacity(clients: AwsClients, region: str, name: str, capacity: int) -> None:
    autoscaling = clients.client("autoscaling", region)
    with aws_errors(f"set the desired capacity of {name} to {capacity}"):
        autoscaling.set_desired_capacity(
            AutoScalingGroupName=name, DesiredCapacity=capacity, HonorCooldown=False
        )


def _check_bounds(name: str, capacity: int, group: JsonDict) -> None:
    low, high = int(group["MinSize"]), int(group["MaxSize"])
    if capacity > high:
        raise ToolError(
            f"{capacity} is above the maximum size of {name} ({high}); opsbot never raises a group's maximum."
        )
    if capacity < low:
        raise ToolError(f"{capacity} is below the minimum size of {name} ({low}).")


def _run_scale(clients: AwsClients, args: ScaleAsgArgs, ctx: ExecContext) -> JsonDict:
    group = get_asg(clients, args.asg_name, args.region)
    _check_bounds(args.asg_name, args.desired_capacity, group)
    record: JsonDict = {
        "asg_name": args.asg_name,
        "prior_desired_capacity": int(group["DesiredCapacity"]),
        "desired_capacity": args.desired_capacity,
        "min_size": int(group["MinSize"]),
        "max_size": int(group["MaxSize"]),
    }
    if record["prior_desired_capacity"] == args.desired_capacity:
        return {**record, "changed": False}
    if ctx.dry_run:  # Auto Scaling has no DryRun; the group and bounds were checked above
        return {"dry_run": True, **record}
    _set_capacity(clients, args.region, args.asg_name, args.desired_capacity)
    return {**record, "changed": True}


@skip_verify_after_dry_run
def _verify_scale(clients: AwsClients, args: ScaleAsgArgs, record: JsonDict) -> VerifyResult:
    now = int(get_asg(clients, args.asg_name, args.region)["DesiredCapacity"])
    return VerifyResult(
        ok=now == args.desired_capacity,
        detail=f"{args.asg_name} desired capacity is {now} (wanted {args.desired_capacity}).",
    )


@skip_rollback_after_dry_run
def _rollback_scale(clients: AwsClients, args: ScaleAsgArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    prior = int(record["prior_desired_capacity"])
    if not record.get("changed"):
        return {"restored": False, "detail": f"{args.asg_name} was already at {prior}."}
    group = get_asg(clients, args.asg_name, args.region)
    _check_bounds(args.asg_name, prior, group)
    if ctx.dry_run:
        return {"dry_run": True, "would_set": prior}
    _set_capacity(clients, args.region, args.asg_name, prior)
    return {"restored": True, "desired_capacity": prior}


def _scale_resources(args: ScaleAsgArgs) -> list[str]:
    return [args.asg_name]


scale_asg = ToolSpec[ScaleAsgArgs](
    name="scale_asg",
    description=(
        "Set the desired capacity of an EC2 Auto Scaling group, within its current minimum and maximum "
        "(the maximum is never raised)."
    ),
    args=ScaleAsgArgs,
    risk="write",
    run=_run_scale,
    verify=_verify_scale,
    rollback=_rollback_scale,
    resources=_scale_resources,
    effect="The group launches or terminates instances until it runs the desired number.",
    rollback_summary="Set the desired capacity back to its previous value.",
)
