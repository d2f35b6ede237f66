"""VPC Flow Log records through CloudWatch Logs (moto), in the record format AWS documents.

The lines follow the examples of "Flow log record examples" in the Amazon VPC user guide
(https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-records-examples.html), with this
test's interface ids and addresses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tools.base import AwsClients
from tools.flow_logs import DEFAULT_FORMAT, fields_of, instance_flows, parse_flow_record

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789010:role/flow-logs-delivery"
DOC_ACCEPT = (
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 "
    "1418530010 1418530070 ACCEPT OK"
)
DOC_REJECT = (
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 "
    "1418530010 1418530070 REJECT OK"
)
DOC_NODATA = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA"


@dataclass
class Host:
    clients: AwsClients
    logs: Any
    vpc_id: str
    instance_id: str
    eni_id: str
    ip: str


@pytest.fixture
def host(aws_endpoint: str, clients: AwsClients) -> Host:
    ec2 = clients.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=subnet)[
        "Instances"
    ][0]
    eni = instance["NetworkInterfaces"][0]
    return Host(
        clients,
        clients.client("logs", REGION),
        vpc,
        instance["InstanceId"],
        eni["NetworkInterfaceId"],
        eni["PrivateIpAddress"],
    )


def _line(eni: str, src: str, dst: str, srcport: int, dstport: int, action: str) -> str:
    now = int(time.time())
    return f"2 123456789010 {eni} {src} {dst} {srcport} {dstport} 6 3 180 {now - 60} {now} {action} OK"


def _seed(host: Host, group: str, stream: str, lines: list[str], age_seconds: int = 30) -> None:
    logs = host.logs
    existing = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]]
    if group not in existing:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    stamp = int((time.time() - age_seconds) * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": stamp + i, "message": line} for i, line in enumerate(lines)],
    )


def test_documented_records_parse() -> None:
    fields = fields_of(DEFAULT_FORMAT)
    accepted = parse_flow_record(DOC_ACCEPT, fields)
    assert accepted is not None
    assert (accepted.srcaddr, accepted.dstaddr, accepted.dstport, accepted.action) == (
        "172.31.16.139",
        "172.31.16.21",
        22,
        "ACCEPT",
    )
    assert accepted.interface_id == "eni-1235b8ca123456789"
    rejected = parse_flow_record(DOC_REJECT, fields)
    assert rejected is not None
    assert (rejected.dstport, rejected.action) == (3389, "REJECT")
    assert parse_flow_record(DOC_NODATA, fields) is None
    assert parse_flow_record("not a flow log line", fields) is None


def test_discovered_flow_log_group_is_read_and_summarised(host: Host) -> None:
    ec2 = host.clients.client("ec2", REGION)
    ec2.create_flow_logs(
        ResourceIds=[host.vpc_id],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="prod-vpc-flows",
        DeliverLogsPermissionArn=ROLE,
    )
    rejects = [_line(host.eni_id, host.ip, "10.0.3.4", 40000 + n, 5432, "REJECT") for n in range(12)]
    accepts = [_line(host.eni_id, host.ip, "10.0.3.4", 41000 + n, 443, "ACCEPT") for n in range(3)]
    nodata = f"2 123456789010 {host.eni_id} - - - - - - - 1431280876 1431280934 - NODATA"
    _seed(host, "prod-vpc-flows", f"{host.eni_id}-all", [*rejects, *accepts, nodata])
    _seed(
        host,
        "prod-vpc-flows",
        "eni-0fffffffffffffff0-all",
        [_line("eni-0fffffffffffffff0", "10.0.9.9", "10.0.3.4", 1, 5432, "REJECT")],
    )
    _seed(host, "prod-vpc-flows", f"{host.eni_id}-old", rejects, age_seconds=3600)  # outside the window

    summary = instance_flows(host.clients, host.instance_id, REGION, minutes=15)

    assert summary.log_groups == ["prod-vpc-flows"]
    assert summary.count("REJECT") == 12
    assert summary.count("ACCEPT", "10.0.3.4", 443) == 3
    lines = summary.lines("10.0.3.4", 5432)
    assert lines[0] == "12 REJECTs and 0 ACCEPTs to 10.0.3.4:5432 in the last 15 min"
    assert lines[1:] == ["12 REJECTs to 10.0.3.4:5432 (tcp)", "3 ACCEPTs to 10.0.3.4:443 (tcp)"]


def test_custom_record_format_from_describe_flow_logs(host: Host) -> None:
    custom = "${interface-id} ${action} ${dstaddr} ${dstport} ${srcaddr} ${protocol} ${flow-direction}"
    ec2 = host.clients.client("ec2", REGION)
    ec2.create_flow_logs(
        ResourceIds=[host.eni_id],
        ResourceType="NetworkInterface",
        TrafficType="REJECT",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="eni-flows",
        DeliverLogsPermissionArn=ROLE,
        LogFormat=custom,
    )
    _seed(host, "eni-flows", host.eni_id, [f"{host.eni_id} REJECT 10.0.3.4 5432 {host.ip} 6 egress"] * 2)

    summary = instance_flows(host.clients, host.instance_id, REGION)

    assert summary.log_groups == ["eni-flows"]
    assert [(r.dstaddr, r.dstport, r.srcaddr, r.action) for r in summary.records] == [
        ("10.0.3.4", 5432, host.ip, "REJECT")
    ] * 2


def test_default_group_when_none_is_described(host: Host) -> None:
    empty = instance_flows(host.clients, host.instance_id, REGION)
    assert empty.records == []
    assert empty.lines() == [
        f"No flow-log records for {host.eni_id} in the last 15 min (/vpc/flow-logs)",
        "log group /vpc/flow-logs does not exist: no VPC flow logs are delivered there",
    ]

    _seed(
        host,
        "/vpc/flow-logs",
        host.eni_id,
        [_line(host.eni_id, "198.51.100.7", host.ip, 50000, 22, "REJECT")],
    )
    found = instance_flows(host.clients, host.instance_id, REGION, now=datetime.now(UTC))
    assert found.notes == []
    assert found.lines() == [f"1 REJECT to {host.ip}:22 (tcp)"]
