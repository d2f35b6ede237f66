"""Instance actions against moto's HTTP server: run, read AWS back, verify, roll back, read back again."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from tools.base import AwsClients, ExecContext, ToolError
from tools.instance_lifecycle import snapshot_instance, stop_instance, terminate_instance
from tools.isolation import isolate_instance
from tools.service_restart import restart_service
from tools.tagging import tag_resource

REGION = "us-east-1"
CTX = ExecContext(incident_id="inc-42")
DRY = ExecContext(incident_id="inc-42", dry_run=True)


@dataclass
class Estate:
    ec2: Any
    clients: AwsClients
    vpc_id: str
    subnet_id: str
    web_sg: str
    ami: str

    def launch(self, groups: list[str], tags: dict[str, str] | None = None) -> str:
        kwargs: dict[str, Any] = {}
        if tags:
            kwargs["TagSpecifications"] = [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        reservation = self.ec2.run_instances(
            ImageId=self.ami,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=self.subnet_id,
            SecurityGroupIds=groups,
            BlockDeviceMappings=[
                {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 8}},
                {"DeviceName": "/dev/sdg", "Ebs": {"VolumeSize": 16}},
            ],
            **kwargs,
        )
        return str(reservation["Instances"][0]["InstanceId"])

    def instance(self, instance_id: str) -> dict[str, Any]:
        return dict(self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0])

    def eni_groups(self, instance_id: str) -> list[list[str]]:
        return [
            sorted(group["GroupId"] for group in eni["Groups"])
            for eni in self.instance(instance_id)["NetworkInterfaces"]
        ]

    def tags(self, resource_id: str) -> dict[str, str]:
        tags = self.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
        return {tag["Key"]: tag["Value"] for tag in tags}

    def group(self, group_id: str) -> dict[str, Any]:
        return dict(self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0])

    def groups_named(self, name: str) -> list[str]:
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}, {"Name": "group-name", "Values": [name]}]
        )["SecurityGroups"]
        return [group["GroupId"] for group in groups]

    def state(self, instance_id: str) -> str:
        return str(self.instance(instance_id)["State"]["Name"])


@pytest.fixture
def estate(aws_endpoint: str, clients: AwsClients) -> Estate:
    ec2 = boto3.client("ec2", endpoint_url=aws_endpoint, region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    web_sg = ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web_sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    ami = any_ami(ec2)
    return Estate(ec2, clients, vpc_id, subnet_id, web_sg, ami)


def any_ami(ec2: Any) -> str:
    """One of moto's built-in AMIs (filtered: listing all of them takes most of a second)."""
    images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-hvm-*"]}])
    return str(images["Images"][0]["ImageId"])


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    """Records must survive a JSON round trip (they go into checkpointed state)."""
    return dict(json.loads(json.dumps(record)))


# --- isolate_instance -------------------------------------------------------------------------


def test_isolate_swaps_every_eni_to_an_empty_quarantine_group_and_rollback_restores(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    neighbour = estate.launch([estate.web_sg])
    web_before = estate.group(estate.web_sg)
    args = isolate_instance.parse_args({"instance_id": target, "region": REGION})

    record = as_json(isolate_instance.run(estate.clients, args, CTX))

    quarantine = estate.groups_named("opsbot-quarantine")
    assert len(quarantine) == 1
    assert estate.eni_groups(target) == [quarantine]
    group = estate.group(quarantine[0])
    assert group["IpPermissions"] == []
    assert group["IpPermissionsEgress"] == []
    assert estate.tags(quarantine[0])["opsbot:quarantine"] == "true"
    assert estate.tags(target)["opsbot:isolated"] == "inc-42"
    # The shared group is untouched and the other instance keeps it.
    after = estate.group(estate.web_sg)
    assert after["IpPermissions"] == web_before["IpPermissions"]
    assert after["IpPermissionsEgress"] == web_before["IpPermissionsEgress"]
    assert estate.eni_groups(neighbour) == [[estate.web_sg]]
    assert record["interfaces"][0]["original_groups"] == [estate.web_sg]
    assert record["created_groups"] == quarantine
    assert isolate_instance.verify(estate.clients, args, record).ok

    undo = isolate_instance.rollback
    assert undo is not None
    undo(estate.clients, args, record, CTX)

    assert estate.eni_groups(target) == [[estate.web_sg]]
    assert "opsbot:isolated" not in estate.tags(target)
    assert estate.eni_groups(neighbour) == [[estate.web_sg]]
    assert not isolate_instance.verify(estate.clients, args, record).ok


def test_isolate_reuses_the_quarantine_group_in_the_same_vpc(estate: Estate) -> None:
    first, second = estate.launch([estate.web_sg]), estate.launch([estate.web_sg])

    one = isolate_instance.run(estate.clients, isolate_instance.parse_args({"instance_id": first}), CTX)
    two = isolate_instance.run(estate.clients, isolate_instance.parse_args({"instance_id": second}), CTX)

    quarantine = estate.groups_named("opsbot-quarantine")
    assert len(quarantine) == 1
    assert one["created_groups"] == quarantine
    assert two["created_groups"] == []
    assert estate.eni_groups(first) == estate.eni_groups(second) == [quarantine]


def test_isolate_refuses_a_same_named_group_that_has_rules_and_is_not_ours(estate: Estate) -> None:
    impostor = estate.ec2.create_security_group(
        GroupName="opsbot-quarantine", Description="someone else's", VpcId=estate.vpc_id
    )["GroupId"]
    target = estate.launch([estate.web_sg])

    with pytest.raises(ToolError, match="not made by opsbot"):
        isolate_instance.run(estate.clients, isolate_instance.parse_args({"instance_id": target}), CTX)

    assert estate.eni_groups(target) == [[estate.web_sg]]
    assert estate.group(impostor)["IpPermissionsEgress"] != []  # its rules were left alone


def test_isolate_dry_run_changes_nothing(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    args = isolate_instance.parse_args({"instance_id": target})

    record = as_json(isolate_instance.run(estate.clients, args, DRY))

    assert record["dry_run"] is True
    assert record["would_create_groups_in"] == [estate.vpc_id]
    assert estate.groups_named("opsbot-quarantine") == []
    assert estate.eni_groups(target) == [[estate.web_sg]]
    assert "opsbot:isolated" not in estate.tags(target)


def test_isolate_unknown_instance_is_a_plain_tool_error(estate: Estate) -> None:
    args = isolate_instance.parse_args({"instance_id": "i-0123456789abcdef0"})
    with pytest.raises(ToolError, match=r"^Instance i-0123456789abcdef0 was not found in us-east-1\.$"):
        isolate_instance.run(estate.clients, args, CTX)


def test_instance_id_is_validated_before_any_call() -> None:
    with pytest.raises(ValidationError, match="not an EC2 instance id"):
        isolate_instance.parse_args({"instance_id": "i-123; reboot"})


# --- snapshot_instance ------------------------------------------------------------------------


def test_snapshot_every_volume_tagged_then_rollback_deletes_them(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    volumes = {bdm["Ebs"]["VolumeId"] for bdm in estate.instance(target)["BlockDeviceMappings"]}
    args = snapshot_instance.parse_args({"instance_id": target})

    record = as_json(snapshot_instance.run(estate.clients, args, CTX))

    found = estate.ec2.describe_snapshots(Filters=[{"Name": "tag:opsbot:incident", "Values": ["inc-42"]}])
    snaps = found["Snapshots"]
    assert len(snaps) == 2
    assert {snap["VolumeId"] for snap in snaps} == volumes
    for snap in snaps:
        tags = {tag["Key"]: tag["Value"] for tag in snap["Tags"]}
        assert tags["opsbot:source-instance"] == target
        assert tags["opsbot:source-volume"] == snap["VolumeId"]
    assert sorted(s["snapshot_id"] for s in record["snapshots"]) == sorted(s["SnapshotId"] for s in snaps)
    assert snapshot_instance.verify(estate.clients, args, record).ok

    assert snapshot_instance.rollback is not None
    snapshot_instance.rollback(estate.clients, args, record, CTX)

    left = estate.ec2.describe_snapshots(Filters=[{"Name": "tag:opsbot:incident", "Values": ["inc-42"]}])
    assert left["Snapshots"] == []
    assert not snapshot_instance.verify(estate.clients, args, record).ok


def test_snapshot_dry_run_makes_no_snapshot(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    record = snapshot_instance.run(estate.clients, snapshot_instance.parse_args({"instance_id": target}), DRY)
    assert record["dry_run"] is True
    assert len(record["would_snapshot"]) == 2
    volumes = [v["volume_id"] for v in record["would_snapshot"]]
    assert (
        estate.ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": volumes}])["Snapshots"] == []
    )


# --- stop_instance / terminate_instance -------------------------------------------------------


def test_stop_then_rollback_starts_it_again(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    args = stop_instance.parse_args({"instance_id": target})

    record = as_json(stop_instance.run(estate.clients, args, CTX))

    assert record["prior_state"] == "running"
    assert estate.state(target) in ("stopping", "stopped")
    assert stop_instance.verify(estate.clients, args, record).ok
    assert stop_instance.rollback is not None
    stop_instance.rollback(estate.clients, args, record, CTX)
    assert estate.state(target) in ("pending", "running")
    assert not stop_instance.verify(estate.clients, args, record).ok


def test_stop_of_a_stopped_instance_is_a_no_op_and_rollback_does_not_start_it(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    estate.ec2.stop_instances(InstanceIds=[target])
    args = stop_instance.parse_args({"instance_id": target})

    record = stop_instance.run(estate.clients, args, CTX)
    assert record["changed"] is False
    assert stop_instance.rollback is not None
    stop_instance.rollback(estate.clients, args, record, CTX)
    assert estate.state(target) == "stopped"


def test_stop_and_terminate_dry_runs_leave_the_instance_running(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    for spec in (stop_instance, terminate_instance):
        record = spec.run(estate.clients, spec.parse_args({"instance_id": target}), DRY)
        assert record["dry_run"] is True
    assert estate.state(target) == "running"


def test_terminate_is_destructive_and_not_reversible(estate: Estate) -> None:
    target = estate.launch([estate.web_sg], tags={"Name": "worker"})
    args = terminate_instance.parse_args({"instance_id": target})

    record = as_json(terminate_instance.run(estate.clients, args, CTX))

    assert estate.state(target) in ("shutting-down", "terminated")
    assert record["tags"] == {"Name": "worker"}
    assert terminate_instance.verify(estate.clients, args, record).ok
    assert terminate_instance.risk == "destructive"
    assert not terminate_instance.reversible


# --- restart_service --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service", ["nginx; rm -rf /", "nginx && reboot", "$(id)", "a b", "--force", "", "x" * 65]
)
def test_restart_service_rejects_unsafe_names_at_validation(service: str) -> None:
    with pytest.raises(ValidationError):
        restart_service.parse_args({"instance_id": "i-0123456789abcdef0", "service": service})


def test_restart_service_sends_exactly_one_systemctl_command(estate: Estate, aws_endpoint: str) -> None:
    target = estate.launch([estate.web_sg])
    args = restart_service.parse_args({"instance_id": target, "service": "nginx.service"})

    record = as_json(restart_service.run(estate.clients, args, CTX))

    ssm = boto3.client("ssm", endpoint_url=aws_endpoint, region_name=REGION)
    commands = ssm.list_commands(CommandId=record["command_id"])["Commands"]
    assert len(commands) == 1
    assert commands[0]["DocumentName"] == "AWS-RunShellScript"
    assert commands[0]["Parameters"] == {"commands": ["systemctl restart nginx.service"]}
    assert commands[0]["InstanceIds"] == [target]
    assert restart_service.verify(estate.clients, args, record).ok
    assert not restart_service.reversible


def test_restart_service_on_a_stopped_instance_is_refused(estate: Estate, aws_endpoint: str) -> None:
    target = estate.launch([estate.web_sg])
    estate.ec2.stop_instances(InstanceIds=[target])
    args = restart_service.parse_args({"instance_id": target, "service": "nginx"})
    with pytest.raises(ToolError, match="is stopped"):
        restart_service.run(estate.clients, args, CTX)
    ssm = boto3.client("ssm", endpoint_url=aws_endpoint, region_name=REGION)
    assert ssm.list_commands()["Commands"] == []


# --- tag_resource -----------------------------------------------------------------------------


def test_tag_new_key_then_rollback_removes_it(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    args = tag_resource.parse_args({"resource_id": target, "key": "Owner", "value": "sre"})

    record = as_json(tag_resource.run(estate.clients, args, CTX))

    assert estate.tags(target)["Owner"] == "sre"
    assert record["existed"] is False
    assert tag_resource.verify(estate.clients, args, record).ok
    assert tag_resource.rollback is not None
    tag_resource.rollback(estate.clients, args, record, CTX)
    assert "Owner" not in estate.tags(target)


def test_tag_existing_key_then_rollback_restores_prior_value(estate: Estate) -> None:
    target = estate.launch([estate.web_sg], tags={"Owner": "payments"})
    args = tag_resource.parse_args({"resource_id": estate.web_sg, "key": "Owner", "value": "sre"})
    estate.ec2.create_tags(Resources=[estate.web_sg], Tags=[{"Key": "Owner", "Value": "payments"}])

    record = tag_resource.run(estate.clients, args, CTX)
    assert record["prior_value"] == "payments"
    assert estate.tags(estate.web_sg)["Owner"] == "sre"
    assert tag_resource.rollback is not None
    tag_resource.rollback(estate.clients, args, record, CTX)
    assert estate.tags(estate.web_sg)["Owner"] == "payments"
    assert estate.tags(target)["Owner"] == "payments"


def test_tag_dry_run_and_missing_resource(estate: Estate) -> None:
    target = estate.launch([estate.web_sg])
    record = tag_resource.run(
        estate.clients, tag_resource.parse_args({"resource_id": target, "key": "k", "value": "v"}), DRY
    )
    assert record["dry_run"] is True
    assert "k" not in estate.tags(target)
    missing = tag_resource.parse_args({"resource_id": "i-0123456789abcdef0", "key": "k", "value": "v"})
    with pytest.raises(ToolError, match="was not found"):
        tag_resource.run(estate.clients, missing, CTX)


@pytest.mark.parametrize(
    ("key", "value"),
    [("aws:cloudformation:stack", "x"), ("AWS:thing", "x"), ("", "x"), ("k" * 129, "x"), ("ok", "v" * 257)],
)
def test_tag_key_and_value_limits(key: str, value: str) -> None:
    with pytest.raises(ValidationError):
        tag_resource.parse_args({"resource_id": "i-0123456789abcdef0", "key": key, "value": value})


def test_tag_limits_accept_the_edges() -> None:
    args = tag_resource.parse_args({"resource_id": "vol-0123456789abcdef0", "key": "k" * 128, "value": ""})
    assert tag_resource.resources(args) == ["vol-0123456789abcdef0"]
