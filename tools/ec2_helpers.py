"""What the actions on one EC2 instance share: their arguments, the live-instance check, incident tags."""

from __future__ import annotations

from pydantic import Field, field_validator

from tools.base import AwsClients, ExecContext, JsonDict, RegionArgs, ToolError, check_instance_id
from tools.context import get_instance, instance_state

INCIDENT_TAG = "opsbot:incident"
GONE_STATES = frozenset({"shutting-down", "terminated"})


class InstanceArgs(RegionArgs):
    instance_id: str = Field(description="EC2 instance id, like i-0123456789abcdef0")

    @field_validator("instance_id")
    @classmethod
    def _valid_instance_id(cls, value: str) -> str:
        return check_instance_id(value)


def instance_resources(args: InstanceArgs) -> list[str]:
    return [args.instance_id]


def live_instance(clients: AwsClients, instance_id: str, region: str) -> JsonDict:
    """The instance's description; ToolError when it is shutting down or terminated."""
    instance = get_instance(clients, instance_id, region)
    if instance_state(instance) in GONE_STATES:
        raise ToolError(f"Instance {instance_id} is {instance_state(instance)}.")
    return instance


def incident_tags(ctx: ExecContext, **extra: str) -> list[JsonDict]:
    """EC2 tags for something an action makes: the run's tags, the incident id, then ``extra``."""
    tags = {**ctx.tags, INCIDENT_TAG: ctx.incident_id, **extra}
    return [{"Key": key, "Value": value} for key, value in tags.items()]
