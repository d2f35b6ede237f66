"""A sandbox AWS estate in moto's server: a VPC, instances tagged prod and dev, an ASG, NACLs.

The demo and the benchmarks run against it; nothing here talks to real AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.base import AwsClients

REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of moto's built-in Amazon Linux images


@dataclass(frozen=True)
class Estate:
    vpc_id: str
    subnet_id: str
    web_group_id: str
    db_group_id: str
    web_instances: list[str]
    miner_instance: str
    db_instance: str
    asg_name: str


def _instance(ec2: Any, subnet_id: str, group_id: str, name: str, env: str, itype: str = "t3.medium") -> str:
    reply = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType=itype,
        SubnetId=subnet_id,
        SecurityGroupIds=[group_id],
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20}}],
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": name}, {"Key": "Environment", "Value": env}],
            }
        ],
    )
    return str(reply["Instances"][0]["InstanceId"])


def build_estate(clients: AwsClients, region: str = REGION) -> Estate:
    ec2 = clients.client("ec2", region)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": "prod-vpc"}])
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    web_sg = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    db_sg = ec2.create_security_group(GroupName="db", Description="db tier", VpcId=vpc_id)["GroupId"]
    web = [_instance(ec2, subnet_id, web_sg, f"web-{n}", "prod") for n in (1, 2)]
    miner = _instance(ec2, subnet_id, web_sg, "batch-worker-7", "prod", "c5.xlarge")
    db = _instance(ec2, subnet_id, db_sg, "orders-db", "prod", "r5.large")
    autoscaling = clients.client("autoscaling", region)
    ec2.create_launch_template(
        LaunchTemplateName="web-lt",
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.medium", "SecurityGroupIds": [web_sg]},
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        MinSize=1,
        MaxSize=10,
        DesiredCapacity=2,
        LaunchTemplate={"LaunchTemplateName": "web-lt", "Version": "$Latest"},
        VPCZoneIdentifier=subnet_id,
        Tags=[{"Key": "Environment", "Value": "prod", "PropagateAtLaunch": True}],
    )
    return Estate(vpc_id, subnet_id, web_sg, db_sg, web, miner, db, "web-asg")
