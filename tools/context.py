"""Read-only AWS context for planning and verification, plus the small helpers actions share.

Everything here only reads AWS state.  ``dry_run_check`` calls a mutating EC2 operation with
``DryRun=True``, which AWS answers without making a change.  Results are plain JSON dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.base import AwsClients, AwsUnreachable, JsonDict, ToolError, VerifyResult

ENVIRONMENT_TAG_KEYS = ("Environment", "env", "Env")
ASG_TAG_KEY = "aws:autoscaling:groupName"

DRY_RUN_VERIFIED = VerifyResult(
    ok=True, detail="Dry run: nothing was changed, so there is nothing to verify."
)


def nothing_to_roll_back(record: JsonDict) -> JsonDict | None:
    """The rollback answer for a dry-run record (nothing was changed), else None."""
    if record.get("dry_run"):
        return {"dry_run": True, "rolled_back": False, "detail": "The run was a dry run; nothing to undo."}
    return None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe_error(exc: ClientError | BotoCoreError) -> str:
    """AWS's own message for an error, without boto's "An error occurred (...)" framing."""
    if not isinstance(exc, ClientError):
        return str(exc).rstrip(".")
    message = exc.response.get("Error", {}).get("Message") or error_code(exc) or "unknown error"
    return str(message).rstrip(".")


@contextmanager
def aws_errors(doing: str) -> Iterator[None]:
    """Turn boto errors raised while ``doing`` something into a one-sentence ToolError."""
    try:
        yield
    except ClientError as exc:
        raise ToolError(f"AWS refused to {doing}: {describe_error(exc)}.") from exc
    except BotoCoreError as exc:
        raise AwsUnreachable(f"Could not reach AWS to {doing}: {describe_error(exc)}.") from exc


def dry_run_check(call: Callable[..., Any], doing: str, **kwargs: Any) -> None:
    """Ask EC2 whether ``call(**kwargs)`` would succeed, without making the change."""
    try:
        call(DryRun=True, **kwargs)
    except ClientError as exc:
        if error_code(exc) == "DryRunOperation":
            return
        raise ToolError(f"A dry run to {doing} failed: {describe_error(exc)}.") from exc
    except BotoCoreError as exc:
        raise AwsUnreachable(f"Could not reach AWS to {doing}: {describe_error(exc)}.") from exc
    raise ToolError(f"AWS did not honour DryRun when asked to {doing}; stopping to be safe.")


def tags_to_dict(tags: list[JsonDict] | None) -> dict[str, str]:
    return {str(tag["Key"]): str(tag.get("Value", "")) for tag in tags or []}


def get_instance(clients: AwsClients, instance_id: str, region: str) -> JsonDict:
    """The raw EC2 description of one instance; ToolError when it does not exist."""
    ec2 = clients.client("ec2", region)
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if error_code(exc).startswith("InvalidInstanceID"):
            raise ToolError(f"Instance {instance_id} was not found in {region}.") from exc
        raise ToolError(f"AWS refused to describe instance {instance_id}: {describe_error(exc)}.") from exc
    except BotoCoreError as exc:
        raise AwsUnreachable(
            f"Could not reach AWS to describe instance {instance_id}: {describe_error(exc)}."
        ) from exc
    instances = [inst for res in reservations for inst in res.get("Instances", [])]
    if not instances:
        raise ToolError(f"Instance {instance_id} was not found in {region}.")
    return dict(instances[0])


def instance_state(instance: JsonDict) -> str:
    return str(instance.get("State", {}).get("Name", "unknown"))


def find_vpc_of_instance(clients: AwsClients, instance_id: str, region: str) -> str:
    vpc_id = get_instance(clients, instance_id, region).get("VpcId")
    if not vpc_id:
        raise ToolError(f"Instance {instance_id} is not in a VPC.")
    return str(vpc_id)


def _group_users(clients: AwsClients, group_id: str, region: str) -> list[JsonDict]:
    ec2 = clients.client("ec2", region)
    with aws_errors(f"list the network interfaces using {group_id}"):
        pages = ec2.get_paginator("describe_network_interfaces").paginate(
            Filters=[{"Name": "group-id", "Values": [group_id]}]
        )
        return [eni for page in pages for eni in page.get("NetworkInterfaces", [])]


def describe_instance(clients: AwsClients, instance_id: str, region: str) -> JsonDict:
    """State, placement, ENIs with their groups (and whether each is shared), tags."""
    instance = get_instance(clients, instance_id, region)
    tags = tags_to_dict(instance.get("Tags"))
    interfaces: list[JsonDict] = []
    for eni in instance.get("NetworkInterfaces", []):
        groups: list[JsonDict] = []
        for group in eni.get("Groups", []):
            users = _group_users(clients, group["GroupId"], region)
            others = sorted(
                {
                    str(user.get("Attachment", {}).get("InstanceId") or user["NetworkInterfaceId"])
                    for user in users
                    if user.get("Attachment", {}).get("InstanceId") != instance_id
                }
            )
            groups.append(
                {
                    "group_id": group["GroupId"],
                    "group_name": group.get("GroupName", ""),
                    "shared": bool(others),
                    "shared_with": others,
                }
            )
        interfaces.append(
            {
                "eni_id": eni["NetworkInterfaceId"],
                "vpc_id": eni.get("VpcId", ""),
                "subnet_id": eni.get("SubnetId", ""),
                "private_ip": eni.get("PrivateIpAddress", ""),
                "device_index": eni.get("Attachment", {}).get("DeviceIndex", 0),
                "groups": groups,
            }
        )
    environment = next((tags[key] for key in ENVIRONMENT_TAG_KEYS if key in tags), None)
    return {
        "instance_id": instance_id,
        "region": region,
        "state": instance_state(instance),
        "instance_type": instance.get("InstanceType", ""),
        "vpc_id": instance.get("VpcId", ""),
        "subnet_id": instance.get("SubnetId", ""),
        "private_ip": instance.get("PrivateIpAddress", ""),
        "public_ip": instance.get("PublicIpAddress", ""),
        "volumes": [
            {"device": bdm["DeviceName"], "volume_id": bdm["Ebs"]["VolumeId"]}
            for bdm in instance.get("BlockDeviceMappings", [])
            if "Ebs" in bdm
        ],
        "network_interfaces": interfaces,
        "tags": tags,
        "environment": environment,
        "asg_name": tags.get(ASG_TAG_KEY),
    }


def get_asg(clients: AwsClients, name: str, region: str) -> JsonDict:
    """The raw Auto Scaling description of one group; ToolError when it does not exist."""
    autoscaling = clients.client("autoscaling", region)
    with aws_errors(f"describe Auto Scaling group {name}"):
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    if not groups:
        raise ToolError(f"Auto Scaling group {name} was not found in {region}.")
    return dict(groups[0])


def _launch_template_instance_type(clients: AwsClients, spec: JsonDict, region: str) -> str | None:
    ec2 = clients.client("ec2", region)
    selector = (
        {"LaunchTemplateId": spec["LaunchTemplateId"]}
        if spec.get("LaunchTemplateId")
        else {"LaunchTemplateName": spec["LaunchTemplateName"]}
    )
    with aws_errors("describe the group's launch template"):
        versions = ec2.describe_launch_template_versions(
            Versions=[str(spec.get("Version") or "$Default")], **selector
        )["LaunchTemplateVersions"]
    if not versions:
        return None
    value = versions[0].get("LaunchTemplateData", {}).get("InstanceType")
    return str(value) if value else None


def _asg_instance_type(clients: AwsClients, group: JsonDict, region: str) -> str | None:
    if group.get("LaunchTemplate"):
        return _launch_template_instance_type(clients, group["LaunchTemplate"], region)
    if group.get("LaunchConfigurationName"):
        autoscaling = clients.client("autoscaling", region)
        with aws_errors("describe the group's launch configuration"):
            configs = autoscaling.describe_launch_configurations(
                LaunchConfigurationNames=[group["LaunchConfigurationName"]]
            )["LaunchConfigurations"]
        return str(configs[0]["InstanceType"]) if configs else None
    mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    overrides = [o["InstanceType"] for o in mixed.get("Overrides", []) if o.get("InstanceType")]
    if overrides:
        return str(overrides[0])
    if mixed.get("LaunchTemplateSpecification"):
        return _launch_template_instance_type(clients, mixed["LaunchTemplateSpecification"], region)
    return None


def describe_asg(clients: AwsClients, name: str, region: str) -> JsonDict:
    """Capacity, bounds, instance type (template, configuration or mixed policy) and instances."""
    group = get_asg(clients, name, region)
    mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
    return {
        "asg_name": name,
        "region": region,
        "desired_capacity": int(group["DesiredCapacity"]),
        "min_size": int(group["MinSize"]),
        "max_size": int(group["MaxSize"]),
        "instance_type": _asg_instance_type(clients, group, region),
        "instance_types": [o["InstanceType"] for o in mixed.get("Overrides", []) if o.get("InstanceType")],
        "instance_ids": [inst["InstanceId"] for inst in group.get("Instances", [])],
        "tags": {str(tag["Key"]): str(tag.get("Value", "")) for tag in group.get("Tags", [])},
    }


def alarms_in_alarm(clients: AwsClients, region: str) -> list[JsonDict]:
    """Every CloudWatch metric alarm currently in ALARM."""
    cloudwatch = clients.client("cloudwatch", region)
    with aws_errors("list CloudWatch alarms in ALARM"):
        pages = cloudwatch.get_paginator("describe_alarms").paginate(StateValue="ALARM")
        alarms = [alarm for page in pages for alarm in page.get("MetricAlarms", [])]
    return [
        {
            "name": alarm["AlarmName"],
            "namespace": alarm.get("Namespace", ""),
            "metric": alarm.get("MetricName", ""),
            "reason": alarm.get("StateReason", ""),
            "dimensions": {str(d["Name"]): str(d["Value"]) for d in alarm.get("Dimensions", [])},
            "threshold": alarm.get("Threshold"),
        }
        for alarm in alarms
    ]


def recent_metric(
    clients: AwsClients,
    namespace: str,
    metric: str,
    dimensions: dict[str, str],
    region: str,
    minutes: int = 60,
) -> JsonDict:
    """Per-minute average and maximum of one metric over the last ``minutes``."""
    cloudwatch = clients.client("cloudwatch", region)
    end = datetime.now(UTC)
    with aws_errors(f"read metric {namespace}/{metric}"):
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
            StartTime=end - timedelta(minutes=minutes),
            EndTime=end + timedelta(minutes=1),
            Period=60,
            Statistics=["Average", "Maximum"],
        )["Datapoints"]
    points = sorted(points, key=lambda point: point["Timestamp"])
    return {
        "namespace": namespace,
        "metric": metric,
        "dimensions": dict(dimensions),
        "minutes": minutes,
        "datapoints": [
            {
                "timestamp": point["Timestamp"].isoformat(),
                "average": point.get("Average"),
                "maximum": point.get("Maximum"),
            }
            for point in points
        ],
        "average": (sum(p["Average"] for p in points) / len(points)) if points else None,
        "maximum": max((p["Maximum"] for p in points), default=None),
    }
