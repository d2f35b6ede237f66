"""A seeded moto estate for the scheduled reviews, and what each review must find in it.

Two estates, so one review's resources never show up in another's counts:
  * ``seed_compliance``: security groups (four open on admin ports, one safe), encrypted and unencrypted
    volumes, public/private buckets, Security Hub findings from the real ASFF fixtures (two open
    high-severity, three not), and an audit log with two changes in the last day among decoys;
  * ``seed_capacity_and_cost``: Auto Scaling groups with CPU metrics, instances idle and busy, an
    unattached volume pair, old and new snapshots.
moto stamps snapshots with the time they are created; ``age_snapshot`` moves a snapshot's start time
back in moto's in-process backend (the test server runs in this process), the one seeding step the
EC2 API cannot express.

bench/render_reviews.py seeds the same estate into its own moto server.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from runtime.audit_log import AuditLog
from tools.base import AwsClients

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
AMI = "ami-12c6146b"
HOUR = 3600
DAY = 86400
FIXTURES = Path(__file__).parent / "fixtures" / "aws"


def reset_moto(endpoint: str) -> None:
    """Empty moto's estate (what the ``aws_endpoint`` fixture does per test), for module-scoped seeding."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()


# ------------------------------------------------------------------------------------ compliance


@dataclass
class ComplianceEstate:
    open_rules: dict[str, tuple[str, str]] = field(default_factory=dict)  # group id -> (ports, source)
    safe_group: str = ""
    unencrypted_volumes: list[str] = field(default_factory=list)
    encrypted_volume: str = ""
    bucket_rows: dict[str, tuple[bool, str]] = field(default_factory=dict)  # name -> (public, block)
    hidden_buckets: list[str] = field(default_factory=list)
    open_findings: list[str] = field(default_factory=list)
    closed_findings: list[str] = field(default_factory=list)
    recent_changes: list[str] = field(default_factory=list)  # action ids


def seed_compliance(clients: AwsClients, audit_path: Path, now: float) -> ComplianceEstate:
    estate = ComplianceEstate()
    _seed_groups(clients, estate)
    _seed_volumes(clients, estate)
    _seed_buckets(clients, estate)
    _seed_findings(clients, estate)
    _seed_audit(audit_path, now, estate)
    return estate


def _group(ec2: Any, vpc_id: str, name: str, permissions: list[dict[str, Any]]) -> str:
    group_id = str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"])
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
    return group_id


def _tcp(low: int, high: int, cidr: str = "0.0.0.0/0") -> dict[str, Any]:
    ranges = {"Ipv6Ranges": [{"CidrIpv6": cidr}]} if ":" in cidr else {"IpRanges": [{"CidrIp": cidr}]}
    return {"IpProtocol": "tcp", "FromPort": low, "ToPort": high, **ranges}


def _seed_groups(clients: AwsClients, estate: ComplianceEstate) -> None:
    ec2 = clients.client("ec2", REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ssh = _group(ec2, vpc_id, "bastion-ssh", [_tcp(22, 22)])
    rdp = _group(ec2, vpc_id, "windows-rdp", [_tcp(3389, 3389, "::/0"), _tcp(443, 443)])
    everything = _group(
        ec2, vpc_id, "debug-all", [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    legacy = _group(ec2, vpc_id, "legacy-range", [_tcp(20, 25)])
    estate.safe_group = _group(ec2, vpc_id, "web-safe", [_tcp(443, 443), _tcp(22, 22, "10.0.0.0/8")])
    estate.open_rules = {
        ssh: ("22", "0.0.0.0/0"),
        rdp: ("3389", "::/0"),
        everything: ("22,23,2375,2376,3389,5900,5985,5986,6443,10250", "0.0.0.0/0"),
        legacy: ("22,23", "0.0.0.0/0"),
    }


def _seed_volumes(clients: AwsClients, estate: ComplianceEstate) -> None:
    ec2 = clients.client("ec2", REGION)
    zone = f"{REGION}a"
    estate.encrypted_volume = ec2.create_volume(
        AvailabilityZone=zone, Size=50, VolumeType="gp3", Encrypted=True
    )["VolumeId"]
    estate.unencrypted_volumes = sorted(
        ec2.create_volume(AvailabilityZone=zone, Size=size, VolumeType=kind)["VolumeId"]
        for size, kind in ((20, "gp2"), (500, "st1"))
    )


FULL_BLOCK = {
    name: True
    for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
}


def _seed_buckets(clients: AwsClients, estate: ComplianceEstate) -> None:
    s3 = clients.client("s3", REGION)
    for name in ("acme-public-assets", "acme-policy-public", "acme-private", "acme-neutralised", "acme-logs"):
        s3.create_bucket(Bucket=name)
    s3.put_bucket_acl(Bucket="acme-public-assets", ACL="public-read")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::acme-policy-public/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="acme-policy-public", Policy=json.dumps(policy))
    s3.put_public_access_block(
        Bucket="acme-policy-public",
        PublicAccessBlockConfiguration=FULL_BLOCK
        | {"BlockPublicPolicy": False, "RestrictPublicBuckets": False},
    )
    s3.put_public_access_block(Bucket="acme-private", PublicAccessBlockConfiguration=FULL_BLOCK)
    s3.put_bucket_acl(Bucket="acme-neutralised", ACL="public-read")
    s3.put_public_access_block(Bucket="acme-neutralised", PublicAccessBlockConfiguration=FULL_BLOCK)
    estate.bucket_rows = {
        "acme-logs": (False, "missing"),
        "acme-policy-public": (True, "off: BlockPublicPolicy, RestrictPublicBuckets"),
        "acme-public-assets": (True, "missing"),
    }
    estate.hidden_buckets = ["acme-neutralised", "acme-private"]


def _fixture_finding(name: str) -> dict[str, Any]:
    event = json.loads((FIXTURES / name).read_text())
    return copy.deepcopy(event["detail"]["findings"][0])


def _variant(base: dict[str, Any], suffix: str, label: str, **changes: Any) -> dict[str, Any]:
    finding = copy.deepcopy(base)
    finding["Id"] = f"{base['Id']}-{suffix}"
    finding["Severity"] = {**finding["Severity"], "Label": label, "Original": label}
    finding.update(changes)
    return finding


def _seed_findings(clients: AwsClients, estate: ComplianceEstate) -> None:
    cloudtrail = _fixture_finding("securityhub_findings_imported_fsbp_cloudtrail2_failed.json")
    iam = _fixture_finding("securityhub_findings_imported_fsbp_iam4_passed.json")
    findings = [
        _variant(cloudtrail, "high", "HIGH"),
        _variant(cloudtrail, "critical", "CRITICAL", Workflow={"Status": "NOTIFIED"}),
        cloudtrail,  # MEDIUM, as published
        _variant(cloudtrail, "resolved", "HIGH", Workflow={"Status": "RESOLVED"}),
        _variant(iam, "passed", "HIGH", Workflow={"Status": "NEW"}),  # a passed check is no problem
    ]
    hub = clients.client("securityhub", REGION)
    reply = hub.batch_import_findings(Findings=findings)
    assert reply["FailedCount"] == 0, reply
    estate.open_findings = [findings[0]["Id"], findings[1]["Id"]]
    estate.closed_findings = [finding["Id"] for finding in findings[2:]]


def _seed_audit(path: Path, now: float, estate: ComplianceEstate) -> None:
    entries: list[tuple[float, str, dict[str, Any]]] = [
        (
            now - 2 * HOUR,
            "action",
            _action("inc-a/0", "scale_asg", "ok", {"asg_name": "web-asg", "desired_capacity": 4}),
        ),
        (now - 30 * HOUR, "action", _action("inc-old/0", "block_ip", "ok", {"ip": "203.0.113.9"})),
        (now - HOUR, "action", _action("inc-b/0", "stop_instance", "failed", {"instance_id": "i-0abc"})),
        (now - HOUR, "action", _action("inc-c/0", "isolate_instance", "dry_run", {"instance_id": "i-0abd"})),
        (now - HOUR, "approval_vote", {"user": "U0ALICE", "approvers": ["U0ALICE"]}),
        (
            now - 23 * HOUR,
            "action",
            _action("inc-d/0", "isolate_instance", "ok", {"instance_id": "i-0123456789abcdef0"}),
        ),
        (now + HOUR, "action", _action("inc-future/0", "tag_resource", "ok", {"resource_id": "i-0abc"})),
    ]
    for at, kind, data in entries:
        AuditLog(path, clock=_fixed(at)).append(kind, str(data.get("action_id", "t")).split("/")[0], data)
    estate.recent_changes = ["inc-a/0", "inc-d/0"]


def _action(action_id: str, action: str, status: str, params: dict[str, Any]) -> dict[str, Any]:
    resources = [str(value) for key, value in params.items() if key in ("asg_name", "instance_id", "ip")]
    return {
        "action_id": action_id,
        "action": action,
        "status": status,
        "params": {**params, "region": REGION},
        "resources": resources,
        "record": {},
    }


def _fixed(at: float) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(at, UTC)


# ------------------------------------------------------------------------------------ capacity + cost


@dataclass(frozen=True)
class GroupSeed:
    name: str
    desired: int
    min_size: int
    max_size: int
    week_cpu: tuple[float, ...]  # samples in the last 7 days
    older_cpu: tuple[float, ...] = ()  # samples 8-14 days ago (the cost review's window only)


GROUPS = (
    GroupSeed("web-asg", 4, 1, 10, (5.0, 10.0, 15.0, 30.0), older_cpu=(35.0,)),
    GroupSeed("api-asg", 2, 2, 8, (75.0, 80.0, 85.0, 95.0)),
    GroupSeed("batch-asg", 2, 1, 4, (40.0, 50.0)),
    GroupSeed("tiny-asg", 1, 1, 3, (5.0, 10.0)),
    GroupSeed("new-asg", 1, 1, 2, ()),
)
GROUP_TYPE = "t3.medium"


@dataclass(frozen=True)
class InstanceSeed:
    name: str
    instance_type: str
    cpu: tuple[float, ...]
    stopped: bool = False


INSTANCES = (
    InstanceSeed("idle-reporting", "t3.large", (1.0, 2.0, 3.0)),
    InstanceSeed("legacy-ftp", "t1.micro", (0.5, 1.5)),  # idle, but the price table has no t1.micro
    InstanceSeed("busy-worker", "m5.large", (50.0, 60.0)),
    InstanceSeed("edge-case", "t3.small", (5.0, 5.0)),  # exactly 5%: not under 5%, so not idle
    InstanceSeed("no-metrics", "t3.micro", ()),
    InstanceSeed("parked", "t3.xlarge", (0.1,), stopped=True),
)


@dataclass
class CapacityCostEstate:
    instances: dict[str, str] = field(default_factory=dict)  # name -> id
    unattached: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (size, type)
    attached_volume: str = ""
    old_snapshots: dict[str, tuple[int, int]] = field(default_factory=dict)  # id -> (size, age days)
    recent_snapshot: str = ""


def seed_capacity_and_cost(clients: AwsClients, now: float) -> CapacityCostEstate:
    estate = CapacityCostEstate()
    _seed_groups_with_cpu(clients, now)
    _seed_instances(clients, now, estate)
    _seed_storage(clients, now, estate)
    return estate


def _put_cpu(clients: AwsClients, dimension: str, value: str, samples: list[tuple[float, float]]) -> None:
    if not samples:
        return
    clients.client("cloudwatch", REGION).put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": dimension, "Value": value}],
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "Value": cpu,
                "Unit": "Percent",
            }
            for at, cpu in samples
        ],
    )


def _spread(now: float, values: tuple[float, ...], first_hours_ago: float) -> list[tuple[float, float]]:
    """One sample every 7 hours going back from ``first_hours_ago`` hours before ``now``."""
    return [(now - (first_hours_ago + 7 * index) * HOUR, value) for index, value in enumerate(values)]


def _seed_groups_with_cpu(clients: AwsClients, now: float) -> None:
    ec2 = clients.client("ec2", REGION)
    ec2.create_launch_template(
        LaunchTemplateName="review-lt", LaunchTemplateData={"ImageId": AMI, "InstanceType": GROUP_TYPE}
    )
    autoscaling = clients.client("autoscaling", REGION)
    for group in GROUPS:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=group.name,
            MinSize=group.min_size,
            MaxSize=group.max_size,
            DesiredCapacity=group.desired,
            LaunchTemplate={"LaunchTemplateName": "review-lt", "Version": "$Latest"},
            AvailabilityZones=[f"{REGION}a"],
        )
        samples = _spread(now, group.week_cpu, 2) + _spread(now, group.older_cpu, 10 * 24)
        _put_cpu(clients, "AutoScalingGroupName", group.name, samples)


def _seed_instances(clients: AwsClients, now: float, estate: CapacityCostEstate) -> None:
    ec2 = clients.client("ec2", REGION)
    for seed in INSTANCES:
        reply = ec2.run_instances(
            ImageId=AMI,
            MinCount=1,
            MaxCount=1,
            InstanceType=seed.instance_type,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": seed.name}]}],
        )
        instance_id = str(reply["Instances"][0]["InstanceId"])
        estate.instances[seed.name] = instance_id
        _put_cpu(clients, "InstanceId", instance_id, _spread(now, seed.cpu, 3))
        if seed.stopped:
            ec2.stop_instances(InstanceIds=[instance_id])


def _seed_storage(clients: AwsClients, now: float, estate: CapacityCostEstate) -> None:
    ec2 = clients.client("ec2", REGION)
    zone = f"{REGION}a"
    for size, kind in ((100, "gp3"), (20, "gp2")):
        volume_id = ec2.create_volume(AvailabilityZone=zone, Size=size, VolumeType=kind)["VolumeId"]
        estate.unattached[volume_id] = (size, kind)
    attached = ec2.create_volume(AvailabilityZone=zone, Size=30, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=attached, InstanceId=estate.instances["busy-worker"], Device="/dev/sdf")
    estate.attached_volume = attached
    sources = {size: volume for volume, (size, _) in estate.unattached.items()}
    for size, age_days in ((100, 120), (20, 91)):
        snapshot_id = ec2.create_snapshot(VolumeId=sources[size], Description=f"nightly {size} GiB")[
            "SnapshotId"
        ]
        age_snapshot(snapshot_id, now - age_days * DAY - HOUR)
        estate.old_snapshots[snapshot_id] = (size, age_days)
    recent = ec2.create_snapshot(VolumeId=sources[20], Description="last month")["SnapshotId"]
    age_snapshot(recent, now - 30 * DAY)
    estate.recent_snapshot = recent


def age_snapshot(snapshot_id: str, started: float) -> None:
    """Set a snapshot's start time in moto's in-process backend (naive UTC, as moto keeps it)."""
    from moto.ec2.models import ec2_backends

    snapshot = ec2_backends[ACCOUNT][REGION].snapshots[snapshot_id]
    snapshot.start_time = datetime.fromtimestamp(started, UTC).replace(tzinfo=None)


def days_ago(now: float, days: float) -> datetime:
    return datetime.fromtimestamp(now, UTC) - timedelta(days=days)
