"""Read-only context against moto's HTTP server: instances, groups, alarms and metrics."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.conftest import load_fixture
from tools.base import AwsClients, ToolError
from tools.context import (
    alarms_in_alarm,
    describe_asg,
    describe_instance,
    find_vpc_of_instance,
    recent_metric,
)

REGION = "us-east-1"


@pytest.fixture
def estate(aws_endpoint: str) -> dict[str, Any]:
    """Two instances sharing 'web', one alone in 'batch', and three ASGs (template, config, mixed)."""
    ec2 = boto3.client("ec2", endpoint_url=aws_endpoint, region_name=REGION)
    autoscaling = boto3.client("autoscaling", endpoint_url=aws_endpoint, region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)["GroupId"]
    batch = ec2.create_security_group(GroupName="batch", Description="batch", VpcId=vpc_id)["GroupId"]
    ami = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])[
        "Images"
    ][0]["ImageId"]

    def launch(groups: list[str], tags: dict[str, str]) -> str:
        return str(
            ec2.run_instances(
                ImageId=ami,
                MinCount=1,
                MaxCount=1,
                InstanceType="m5.large",
                SubnetId=subnet_id,
                SecurityGroupIds=groups,
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
                ],
            )["Instances"][0]["InstanceId"]
        )

    ec2.create_launch_template(
        LaunchTemplateName="tmpl", LaunchTemplateData={"ImageId": ami, "InstanceType": "t3.small"}
    )
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="conf", ImageId=ami, InstanceType="c5.xlarge"
    )
    common = {"MinSize": 0, "MaxSize": 5, "DesiredCapacity": 1, "VPCZoneIdentifier": subnet_id}
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="by-template",
        LaunchTemplate={"LaunchTemplateName": "tmpl", "Version": "$Latest"},
        **common,
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="by-config", LaunchConfigurationName="conf", **common
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateName": "tmpl", "Version": "$Default"},
                "Overrides": [{"InstanceType": "r6g.large"}, {"InstanceType": "r6i.large"}],
            }
        },
        **common,
    )
    return {
        "ec2": ec2,
        "autoscaling": autoscaling,
        "vpc_id": vpc_id,
        "subnet_id": subnet_id,
        "web": web,
        "batch": batch,
        "front": launch([web], {"Environment": "prod", "Name": "front"}),
        "front2": launch([web], {"env": "staging"}),
        "worker": launch([batch], {"Name": "worker"}),
    }


def test_describe_instance_reports_placement_tags_environment_and_shared_groups(
    estate: dict[str, Any], clients: AwsClients
) -> None:
    info = describe_instance(clients, estate["front"], REGION)

    json.dumps(info)  # plain JSON, no datetimes
    assert info["state"] == "running"
    assert info["instance_type"] == "m5.large"
    assert (info["vpc_id"], info["subnet_id"]) == (estate["vpc_id"], estate["subnet_id"])
    assert info["tags"] == {"Environment": "prod", "Name": "front"}
    assert info["environment"] == "prod"
    assert info["asg_name"] is None
    [eni] = info["network_interfaces"]
    [group] = eni["groups"]
    assert group["group_id"] == estate["web"]
    assert group["shared"] is True
    assert group["shared_with"] == [estate["front2"]]

    alone = describe_instance(clients, estate["worker"], REGION)["network_interfaces"][0]["groups"][0]
    assert (alone["group_id"], alone["shared"]) == (estate["batch"], False)
    assert describe_instance(clients, estate["front2"], REGION)["environment"] == "staging"


def test_describe_instance_of_an_asg_member_names_its_group(
    estate: dict[str, Any], clients: AwsClients
) -> None:
    [member] = describe_asg(clients, "by-template", REGION)["instance_ids"]
    assert describe_instance(clients, member, REGION)["asg_name"] == "by-template"


def test_find_vpc_and_not_found(estate: dict[str, Any], clients: AwsClients) -> None:
    assert find_vpc_of_instance(clients, estate["worker"], REGION) == estate["vpc_id"]
    with pytest.raises(ToolError, match="was not found"):
        describe_instance(clients, "i-0123456789abcdef0", REGION)


@pytest.mark.parametrize(
    ("name", "instance_type"),
    [("by-template", "t3.small"), ("by-config", "c5.xlarge"), ("mixed", "r6g.large")],
)
def test_describe_asg_finds_the_instance_type_wherever_it_is_declared(
    estate: dict[str, Any], clients: AwsClients, name: str, instance_type: str
) -> None:
    estate["autoscaling"].set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=2)

    info = describe_asg(clients, name, REGION)

    json.dumps(info)
    assert (info["desired_capacity"], info["min_size"], info["max_size"]) == (2, 0, 5)
    assert info["instance_type"] == instance_type
    assert len(info["instance_ids"]) == 2


def test_describe_asg_not_found(estate: dict[str, Any], clients: AwsClients) -> None:
    with pytest.raises(ToolError, match=r"^Auto Scaling group nope was not found in us-east-1\.$"):
        describe_asg(clients, "nope", REGION)


def test_alarms_in_alarm_lists_only_alarms_in_alarm(aws_endpoint: str, clients: AwsClients) -> None:
    event = load_fixture("aws/cloudwatch_alarm_state_change_metric.json")["detail"]
    metric = event["configuration"]["metrics"][0]["metricStat"]
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_endpoint, region_name=REGION)
    for name in (event["alarmName"], "QuietAlarm"):
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=metric["metric"]["namespace"],
            MetricName=metric["metric"]["name"],
            Dimensions=[{"Name": k, "Value": v} for k, v in metric["metric"]["dimensions"].items()],
            Statistic=metric["stat"],
            Period=metric["period"],
            EvaluationPeriods=1,
            Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cloudwatch.set_alarm_state(
        AlarmName=event["alarmName"], StateValue="ALARM", StateReason=event["state"]["reason"]
    )
    cloudwatch.set_alarm_state(AlarmName="QuietAlarm", StateValue="OK", StateReason="fine")

    alarms = alarms_in_alarm(clients, REGION)

    assert alarms == [
        {
            "name": "ServerCpuTooHigh",
            "namespace": "AWS/EC2",
            "metric": "CPUUtilization",
            "reason": event["state"]["reason"],
            "dimensions": {"InstanceId": "i-12345678901234567"},
            "threshold": 50.0,
        }
    ]


def test_recent_metric_summarises_datapoints(aws_endpoint: str, clients: AwsClients) -> None:
    cloudwatch = boto3.client("cloudwatch", endpoint_url=aws_endpoint, region_name=REGION)
    dimensions = {"InstanceId": "i-12345678901234567"}
    cloudwatch.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": "i-12345678901234567"}],
                "Value": value,
            }
            for value in (20.0, 40.0, 90.0)
        ],
    )

    summary = recent_metric(clients, "AWS/EC2", "CPUUtilization", dimensions, REGION, minutes=30)

    json.dumps(summary)
    assert summary["maximum"] == 90.0
    assert summary["average"] == pytest.approx(50.0)
    assert len(summary["datapoints"]) >= 1
    empty = recent_metric(clients, "AWS/EC2", "CPUUtilization", {"InstanceId": "i-0000000000000000a"}, REGION)
    assert (empty["datapoints"], empty["average"], empty["maximum"]) == ([], None, None)
