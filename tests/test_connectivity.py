"""Connectivity between two endpoints, worked out from a real VPC layout in moto."""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pipeline_support import Recorder, make_pipeline

from tools.base import AwsClients, ToolError
from tools.connectivity import check_connectivity, render_report
from tools.network_rules import Peer, acl_decisions, best_route, groups_allow

REGION = "us-east-1"
AMI = "ami-12c6146b"
DB_IP = "10.0.3.4"


@dataclass
class Layout:
    ec2: Any
    clients: AwsClients
    vpc_id: str
    app_subnet: str
    db_subnet: str
    app_group: str
    db_group: str
    app: str
    app_ip: str
    db: str


def _instance(ec2: Any, subnet: str, group: str, ip: str | None = None) -> dict[str, Any]:
    extra = {"PrivateIpAddress": ip} if ip else {}
    reply = ec2.run_instances(
        ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet, SecurityGroupIds=[group], **extra
    )
    return dict(reply["Instances"][0])


@pytest.fixture
def layout(aws_endpoint: str, clients: AwsClients) -> Layout:
    return build_layout(clients)


def build_layout(clients: AwsClients) -> Layout:
    """An app subnet and a db subnet; the db group lets the app group in on 5432."""
    ec2 = clients.client("ec2", REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    app_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    db_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.3.0/24")["Subnet"]["SubnetId"]
    app_group = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    db_group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=db_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": app_group}],
            }
        ],
    )
    app = _instance(ec2, app_subnet, app_group)
    db = _instance(ec2, db_subnet, db_group, DB_IP)
    return Layout(
        ec2,
        clients,
        vpc,
        app_subnet,
        db_subnet,
        app_group,
        db_group,
        app["InstanceId"],
        app["PrivateIpAddress"],
        db["InstanceId"],
    )


def _own_acl(layout: Layout, subnet: str, entries: list[dict[str, Any]]) -> str:
    """Give ``subnet`` a new network ACL holding ``entries``."""
    ec2 = layout.ec2
    acl = ec2.create_network_acl(VpcId=layout.vpc_id)["NetworkAcl"]["NetworkAclId"]
    for entry in entries:
        ec2.create_network_acl_entry(NetworkAclId=acl, **entry)
    current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
    association = next(
        a["NetworkAclAssociationId"]
        for a in current["NetworkAcls"][0]["Associations"]
        if a["SubnetId"] == subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    return str(acl)


def _allow_all(number: int = 100) -> list[dict[str, Any]]:
    return [
        {
            "RuleNumber": number,
            "Protocol": "-1",
            "RuleAction": "allow",
            "Egress": egress,
            "CidrBlock": "0.0.0.0/0",
        }
        for egress in (False, True)
    ]


def test_reachable_through_group_reference_and_local_route(layout: Layout) -> None:
    report = check_connectivity(layout.clients, layout.app, DB_IP, 5432, region=REGION)

    assert report.verdict == "reachable", render_report(report)
    assert report.blocking is None
    assert report.destination.instance_id == layout.db
    details = [check.detail for check in report.checks]
    assert (
        f"security group {layout.db_group} of the destination allows tcp 5432 from {layout.app_group}"
        in details
    )
    assert any(d.startswith("route table rtb-") and "to local (route 10.0.0.0/16)" in d for d in details)
    assert any("replies tcp 1024-65535" in d for d in details)  # stateless NACLs: the reply is checked


def test_nacl_deny_rule_is_named(layout: Layout) -> None:
    deny = {
        "RuleNumber": 90,
        "Protocol": "6",
        "RuleAction": "deny",
        "Egress": False,
        "CidrBlock": "10.0.1.0/24",
        "PortRange": {"From": 5432, "To": 5432},
    }
    acl = _own_acl(layout, layout.db_subnet, [deny, *_allow_all()])

    report = check_connectivity(layout.clients, layout.app, DB_IP, 5432, region=REGION)

    assert report.verdict == "blocked"
    assert report.blocking is not None
    assert report.blocking.detail == f"NACL {acl} inbound rule 90 denies tcp 5432 from 10.0.1.0/24"
    assert report.blocking.resource_id == acl
    assert "add an allow rule numbered below 90" in report.blocking.fix
    # another port is not caught by rule 90: rule 100 allows it (and the db group does not)
    other = check_connectivity(layout.clients, layout.app, DB_IP, 6379, region=REGION)
    assert other.blocking is not None
    assert other.blocking.layer == "security_group"


def test_missing_security_group_rule(layout: Layout) -> None:
    report = check_connectivity(layout.clients, layout.app, layout.db, 6379, region=REGION)

    assert report.verdict == "blocked"
    assert report.blocking is not None
    assert report.blocking.detail == (
        f"security group {layout.db_group} of the destination allows no tcp 6379 "
        f"from the source ({layout.app_ip})"
    )
    assert (
        report.blocking.fix
        == f"add an inbound rule to {layout.db_group} allowing tcp 6379 from {layout.app_group}"
    )


def test_source_egress_rule_missing(layout: Layout) -> None:
    layout.ec2.revoke_security_group_egress(
        GroupId=layout.app_group,
        IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    report = check_connectivity(layout.clients, layout.app, DB_IP, 5432, region=REGION)
    assert report.blocking is not None
    assert report.blocking.detail == (
        f"security group {layout.app_group} of the source allows no tcp 5432 to the destination ({DB_IP})"
    )


def test_missing_route_to_another_vpc_then_missing_return_route(layout: Layout) -> None:
    ec2 = layout.ec2
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.1.1.0/24")["Subnet"]["SubnetId"]
    other_group = ec2.create_security_group(GroupName="peer", Description="peer", VpcId=other_vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=other_group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}
        ],
    )
    peer = _instance(ec2, other_subnet, other_group, "10.1.1.20")
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [layout.vpc_id]}])["RouteTables"][
        0
    ]

    report = check_connectivity(layout.clients, layout.app, peer["InstanceId"], 443, region=REGION)
    assert report.blocking is not None
    assert report.blocking.detail == f"route table {main['RouteTableId']} has no route to 10.1.1.20"

    pcx = ec2.create_vpc_peering_connection(VpcId=layout.vpc_id, PeerVpcId=other_vpc)["VpcPeeringConnection"]
    ec2.create_route(
        RouteTableId=main["RouteTableId"],
        DestinationCidrBlock="10.1.0.0/16",
        VpcPeeringConnectionId=pcx["VpcPeeringConnectionId"],
    )
    report = check_connectivity(layout.clients, layout.app, "10.1.1.20", 443, region=REGION)
    assert report.blocking is not None
    other_main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [other_vpc]}])[
        "RouteTables"
    ][0]
    assert (
        report.blocking.detail == f"route table {other_main['RouteTableId']} has no route to {layout.app_ip}"
    )
    assert f"sends 10.1.1.20 to {pcx['VpcPeeringConnectionId']} (route 10.1.0.0/16)" in render_report(report)


def test_return_traffic_needs_ephemeral_ports(layout: Layout) -> None:
    inbound = {
        "RuleNumber": 100,
        "Protocol": "-1",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
    }
    only_low = {
        "RuleNumber": 100,
        "Protocol": "6",
        "RuleAction": "allow",
        "Egress": True,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 0, "To": 1023},
    }
    acl = _own_acl(layout, layout.db_subnet, [inbound, only_low])

    report = check_connectivity(layout.clients, layout.app, DB_IP, 5432, region=REGION)
    assert report.blocking is not None
    assert report.blocking.detail == (
        f"NACL {acl} outbound has no rule allowing replies tcp 1024-65535 to {layout.app_ip}; "
        "rule * denies it"
    )

    layout.ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=110,
        Protocol="6",
        RuleAction="allow",
        Egress=True,
        CidrBlock="10.0.0.0/16",
        PortRange={"From": 32768, "To": 65535},
    )
    partial = check_connectivity(layout.clients, layout.app, DB_IP, 5432, region=REGION)
    assert partial.verdict == "unknown"
    assert "replies to ports 32768-65535 are allowed" in partial.headline()


def test_stopped_destination_and_unused_address(layout: Layout) -> None:
    layout.ec2.stop_instances(InstanceIds=[layout.db])
    stopped = check_connectivity(layout.clients, layout.app, layout.db, 5432, region=REGION)
    assert stopped.blocking is not None
    assert stopped.blocking.detail == f"the destination instance {layout.db} is stopped"

    unused = check_connectivity(layout.clients, layout.app, "10.0.3.99", 5432, region=REGION)
    assert unused.blocking is not None
    assert unused.blocking.detail == (
        f"nothing in {layout.vpc_id} has the address 10.0.3.99: no network interface uses it"
    )


def test_address_outside_the_account_is_unknown(layout: Layout) -> None:
    ec2 = layout.ec2
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=layout.vpc_id)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [layout.vpc_id]}])["RouteTables"][
        0
    ]
    ec2.create_route(RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)

    report = check_connectivity(layout.clients, layout.app, "203.0.113.9", 443, region=REGION)

    assert report.verdict == "unknown"
    assert report.headline().endswith(
        f"the destination 203.0.113.9 is outside what opsbot can see (the route leads to {igw}); "
        "its own rules are not checked"
    )
    # the other way round: the destination's side is checked, the outside source is not
    inbound = check_connectivity(layout.clients, "203.0.113.9", layout.db, 5432, region=REGION)
    assert inbound.blocking is not None
    assert inbound.blocking.detail.startswith(
        f"security group {layout.db_group} of the destination allows no"
    )


def test_same_subnet_skips_nacls_and_unknown_ends_are_errors(layout: Layout) -> None:
    neighbour = _instance(layout.ec2, layout.db_subnet, layout.app_group)
    deny_all = [
        {"RuleNumber": 1, "Protocol": "-1", "RuleAction": "deny", "Egress": egress, "CidrBlock": "0.0.0.0/0"}
        for egress in (False, True)
    ]
    _own_acl(layout, layout.db_subnet, deny_all)
    report = check_connectivity(layout.clients, neighbour["InstanceId"], DB_IP, 5432, region=REGION)
    assert report.verdict == "reachable", render_report(report)
    assert f"both ends are in {layout.db_subnet}: network ACLs do not apply" in render_report(report)

    with pytest.raises(ToolError, match="i-0123456789abcdef0 was not found"):
        check_connectivity(layout.clients, "i-0123456789abcdef0", DB_IP, 5432, region=REGION)
    with pytest.raises(ToolError, match=r"Neither 198\.51\.100\.1 nor 203\.0\.113\.9"):
        check_connectivity(layout.clients, "198.51.100.1", "203.0.113.9", 443, region=REGION)


# --- the rules of evaluation, on AWS-shaped describe output -------------------------------------------


def test_route_longest_prefix_and_blackhole() -> None:
    table = {  # shape of describe_route_tables (EC2 API reference, Route)
        "RouteTableId": "rtb-0a1b2c3d4e5f60718",
        "Routes": [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-0a1b2c3d4e5f60718", "State": "active"},
            {
                "DestinationCidrBlock": "10.20.0.0/16",
                "NetworkInterfaceId": "eni-0a1b2c3d4e5f60718",
                "State": "blackhole",
            },
            {
                "DestinationCidrBlock": "10.20.5.0/24",
                "TransitGatewayId": "tgw-0a1b2c3d4e5f60718",
                "State": "active",
            },
        ],
    }
    address = ipaddress.ip_address
    assert best_route(table, address("10.20.5.9")).target == "tgw-0a1b2c3d4e5f60718"  # type: ignore[union-attr]
    hole = best_route(table, address("10.20.1.9"))
    assert hole is not None
    assert hole.state == "blackhole"
    assert hole.target == "eni-0a1b2c3d4e5f60718"
    assert best_route(table, address("10.0.9.9")).target == "local"  # type: ignore[union-attr]
    assert best_route(table, address("8.8.8.8")).destination == "0.0.0.0/0"  # type: ignore[union-attr]
    assert best_route({"Routes": table["Routes"][:1]}, address("8.8.8.8")) is None


def test_nacl_lowest_rule_decides_and_groups_with_prefix_lists_are_undecided() -> None:
    acl = {
        "NetworkAclId": "acl-0a1b2c3d4e5f60718",
        "Entries": [
            {"RuleNumber": 200, "Protocol": "-1", "RuleAction": "allow", "Egress": False,
             "CidrBlock": "0.0.0.0/0"},
            {"RuleNumber": 150, "Protocol": "6", "RuleAction": "deny", "Egress": False,
             "CidrBlock": "10.0.1.0/24", "PortRange": {"From": 5000, "To": 6000}},
            {"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "deny", "Egress": False,
             "CidrBlock": "0.0.0.0/0"},
        ],
    }  # fmt: skip
    peer = ipaddress.ip_address("10.0.1.7")
    (one,) = acl_decisions(acl, False, "tcp", (5432, 5432), peer)
    assert (one.allowed, one.rule_number) == (False, 150)
    (udp,) = acl_decisions(acl, False, "udp", (5432, 5432), peer)
    assert (udp.allowed, udp.rule_number) == (True, 200)
    spans = acl_decisions(acl, False, "tcp", (1024, 65535), peer)
    assert [(d.low, d.high, d.rule_number) for d in spans] == [
        (1024, 4999, 200),
        (5000, 6000, 150),
        (6001, 65535, 200),
    ]

    group = {
        "GroupId": "sg-0a1b2c3d4e5f60718",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "PrefixListIds": [{"PrefixListId": "pl-63a5400a"}],
            }
        ],
    }
    verdict = groups_allow([group], False, "tcp", 443, Peer(peer))
    assert verdict.allowed is None
    assert verdict.group_id == "sg-0a1b2c3d4e5f60718"
    assert groups_allow([group], False, "tcp", 22, Peer(peer)).allowed is False


# --- the troubleshoot_connectivity intent, through the whole graph -------------------------------------


def test_troubleshoot_request_answers_read_only_with_evidence(tmp_path: Path, aws_endpoint: str) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, notifier=Recorder())
    clients = pipeline.ctx.clients
    layout = build_layout(clients)
    layout.ec2.revoke_security_group_ingress(
        GroupId=layout.db_group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": layout.app_group}],
            }
        ],
    )
    app_eni = layout.ec2.describe_instances(InstanceIds=[layout.app])["Reservations"][0]["Instances"][0][
        "NetworkInterfaces"
    ][0]["NetworkInterfaceId"]
    now = int(time.time())
    logs = clients.client("logs", REGION)
    logs.create_log_group(logGroupName="/vpc/flow-logs")
    logs.create_log_stream(logGroupName="/vpc/flow-logs", logStreamName=app_eni)
    line = (  # the default record format (Amazon VPC user guide, "Flow log record examples")
        f"2 123456789012 {app_eni} {layout.app_ip} {DB_IP} {{port}} 5432 6 3 180 {now - 60} {now} REJECT OK"
    )
    logs.put_log_events(
        logGroupName="/vpc/flow-logs",
        logStreamName=app_eni,
        logEvents=[{"timestamp": now * 1000, "message": line.format(port=40000 + n)} for n in range(7)],
    )
    trail = boto3.client("cloudtrail", region_name=REGION)
    clients.use("cloudtrail", REGION, trail)
    revoked = {
        "groupId": layout.db_group,
        "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432}]},
    }
    with Stubber(trail) as stubber:
        stubber.add_response(
            "lookup_events",
            {
                "Events": [
                    {
                        "EventId": "3c5f2b1e-6a0d-4e52-9f43-0d8c2e1f7a10",
                        "EventName": "RevokeSecurityGroupIngress",
                        "ReadOnly": "false",
                        "EventTime": datetime(2024, 5, 1, 10, 2, tzinfo=UTC),
                        "EventSource": "ec2.amazonaws.com",
                        "Username": "alice",
                        "Resources": [
                            {"ResourceType": "AWS::EC2::SecurityGroup", "ResourceName": layout.db_group}
                        ],
                        "CloudTrailEvent": json.dumps(
                            {
                                "userIdentity": {"type": "IAMUser", "userName": "alice"},
                                "requestParameters": revoked,
                            }
                        ),
                    }
                ]
            },
            {
                "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": layout.db_group}],
                "MaxResults": 50,
            },
        )
        text = f"why can't {layout.app} reach {DB_IP}:5432?"
        run = pipeline.start("t-why", {"text": text, "requester": "U0ONCALL042"})

    reply = run.state["reply"]
    assert run.state["intent"]["action"] == "troubleshoot_connectivity"
    assert run.state["decision"]["decision"] == "none"
    assert run.state.get("plan", []) == []
    blocking = f"security group {layout.db_group} of the destination allows no tcp 5432 from the source"
    assert f"{layout.app} ({layout.app_ip}) -> {layout.db} ({DB_IP}) tcp/5432: blocked. {blocking}" in reply
    assert f"  [BLOCKED] {blocking} ({layout.app_ip})" in reply
    assert f"7 REJECTs and 0 ACCEPTs to {DB_IP}:5432 in the last 15 min" in reply
    assert f"Recent changes to {layout.db_group} (CloudTrail):" in reply
    assert (
        "2024-05-01 10:02 UTC alice RevokeSecurityGroupIngress: ipProtocol=tcp fromPort=5432 toPort=5432"
        in reply
    )
    assert (
        "Suggested fix (not done; ask for it as its own request, under policy): "
        f"add an inbound rule to {layout.db_group} allowing tcp 5432 from {layout.app_group}"
    ) in reply
    group = layout.ec2.describe_security_groups(GroupIds=[layout.db_group])["SecurityGroups"][0]
    assert group["IpPermissions"] == []  # read-only: nothing was changed


def test_troubleshoot_request_with_a_missing_port_says_what_to_add(tmp_path: Path, aws_endpoint: str) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    run = pipeline.start("t-why-port", {"text": "why can't i-0123456789abcdef0 reach 10.0.3.4?"})
    assert run.state["reply"] == (
        "I cannot check that connectivity: troubleshoot_connectivity needs a port "
        "(like 'why can't i-0123456789abcdef0 reach 10.0.3.4:5432?')."
    )
