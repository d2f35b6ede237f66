"""scale_asg against moto's HTTP server: desired capacity read back, bounds enforced, rollback."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from tools.base import AwsClients, ExecContext, ToolError
from tools.scaling_actions import scale_asg

REGION = "us-east-1"
CTX = ExecContext(incident_id="inc-9")


@pytest.fixture
def autoscaling(aws_endpoint: str) -> Any:
    """A VPC, a launch template and the ASG 'web' (min 1, desired 2, max 4)."""
    ec2 = boto3.client("ec2", endpoint_url=aws_endpoint, region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    ec2.create_launch_template(
        LaunchTemplateName="web-template",
        LaunchTemplateData={"ImageId": images["Images"][0]["ImageId"], "InstanceType": "t3.small"},
    )
    client = boto3.client("autoscaling", endpoint_url=aws_endpoint, region_name=REGION)
    client.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateName": "web-template", "Version": "$Latest"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        VPCZoneIdentifier=subnet_id,
    )
    return client


def read_group(autoscaling: Any) -> dict[str, Any]:
    return dict(
        autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web"])["AutoScalingGroups"][0]
    )


def test_scale_sets_desired_capacity_and_rollback_restores_it(autoscaling: Any, clients: AwsClients) -> None:
    args = scale_asg.parse_args({"asg_name": "web", "desired_capacity": 4})

    record = json.loads(json.dumps(scale_asg.run(clients, args, CTX)))

    assert read_group(autoscaling)["DesiredCapacity"] == 4
    assert record["prior_desired_capacity"] == 2
    assert scale_asg.verify(clients, args, record).ok
    assert scale_asg.rollback is not None
    scale_asg.rollback(clients, args, record, CTX)
    assert read_group(autoscaling)["DesiredCapacity"] == 2
    assert not scale_asg.verify(clients, args, record).ok


def test_scale_past_max_is_refused_and_nothing_changes(autoscaling: Any, clients: AwsClients) -> None:
    args = scale_asg.parse_args({"asg_name": "web", "desired_capacity": 5})
    with pytest.raises(ToolError, match=r"above the maximum size of web \(4\)"):
        scale_asg.run(clients, args, CTX)
    group = read_group(autoscaling)
    assert (group["DesiredCapacity"], group["MaxSize"]) == (2, 4)


def test_scale_below_min_is_refused(autoscaling: Any, clients: AwsClients) -> None:
    with pytest.raises(ToolError, match="below the minimum size"):
        scale_asg.run(clients, scale_asg.parse_args({"asg_name": "web", "desired_capacity": 0}), CTX)
    assert read_group(autoscaling)["DesiredCapacity"] == 2


def test_scale_dry_run_changes_nothing(autoscaling: Any, clients: AwsClients) -> None:
    args = scale_asg.parse_args({"asg_name": "web", "desired_capacity": 3})
    record = scale_asg.run(clients, args, ExecContext(incident_id="inc-9", dry_run=True))
    assert record["dry_run"] is True
    assert record["desired_capacity"] == 3
    assert read_group(autoscaling)["DesiredCapacity"] == 2


def test_scale_to_the_current_value_is_a_no_op_whose_rollback_does_nothing(
    autoscaling: Any, clients: AwsClients
) -> None:
    args = scale_asg.parse_args({"asg_name": "web", "desired_capacity": 2})
    record = scale_asg.run(clients, args, CTX)
    assert record["changed"] is False
    autoscaling.set_desired_capacity(AutoScalingGroupName="web", DesiredCapacity=3)
    assert scale_asg.rollback is not None
    scale_asg.rollback(clients, args, record, CTX)
    assert read_group(autoscaling)["DesiredCapacity"] == 3


def test_unknown_group_is_a_tool_error(autoscaling: Any, clients: AwsClients) -> None:
    args = scale_asg.parse_args({"asg_name": "nope", "desired_capacity": 1})
    with pytest.raises(ToolError, match=r"^Auto Scaling group nope was not found in us-east-1\.$"):
        scale_asg.run(clients, args, CTX)


@pytest.mark.parametrize(
    "raw",
    [
        {"asg_name": "web", "desired_capacity": -1},
        {"asg_name": "", "desired_capacity": 1},
        {"asg_name": "a:b", "desired_capacity": 1},
        {"asg_name": "web", "desired_capacity": 1, "max_size": 10},
    ],
)
def test_scale_arguments_are_validated(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        scale_asg.parse_args(raw)
