"""update_route against moto's server: the effect read back from EC2, its rollback, the health facts the
policy uses, and its approval rule through the real policy engine and the pipeline."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import load_fixture
from network_support import network_pipeline, start_with_intent
from pipeline_support import ONCALL, SECURITY, executions
from pydantic import ValidationError

from cli.estate import AMI
from graph.models import Intent
from graph.parsing import intent_from_event
from policies.decision import DecisionFacts
from policies.engine import decide, load_policy
from runtime.pipeline import Pipeline
from tools.base import AwsClients, ExecContext, ToolError
from tools.routes import UpdateRouteArgs, route_facts, target_health, update_route

NETWORK = "U0NETWORK01"
DESTINATION = "0.0.0.0/0"
CTX = ExecContext(incident_id="inc-7")


@dataclass
class Appliances:
    """A VPC whose default route goes through an inspection appliance, a standby appliance beside it."""

    ec2: Any
    vpc_id: str
    subnet_id: str
    route_table_id: str
    failed_instance: str
    failed_eni: str
    standby_instance: str
    standby_eni: str


def build_appliances(clients: AwsClients) -> Appliances:
    ec2 = clients.client("ec2", "us-east-1")
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    route_table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    instances = ec2.run_instances(
        ImageId=AMI, MinCount=2, MaxCount=2, InstanceType="c6in.large", SubnetId=subnet_id
    )["Instances"]
    ids = [instance["InstanceId"] for instance in instances]
    enis = [instance["NetworkInterfaces"][0]["NetworkInterfaceId"] for instance in instances]
    ec2.create_route(
        RouteTableId=route_table_id, DestinationCidrBlock=DESTINATION, NetworkInterfaceId=enis[0]
    )
    return Appliances(ec2, vpc_id, subnet_id, route_table_id, ids[0], enis[0], ids[1], enis[1])


def route_to(estate: Appliances, destination: str = DESTINATION) -> dict[str, Any] | None:
    table = estate.ec2.describe_route_tables(RouteTableIds=[estate.route_table_id])["RouteTables"][0]
    return next((r for r in table["Routes"] if r.get("DestinationCidrBlock") == destination), None)


def route_args(estate: Appliances, target: str, destination: str = DESTINATION) -> UpdateRouteArgs:
    return UpdateRouteArgs(route_table_id=estate.route_table_id, destination_cidr=destination, target=target)


@pytest.fixture
def estate(clients: AwsClients, aws_endpoint: str) -> Appliances:
    return build_appliances(clients)  # aws_endpoint: on a freshly reset moto


@pytest.fixture
def pipeline(tmp_path: Path, aws_endpoint: str, clients: AwsClients) -> Pipeline:
    return network_pipeline(tmp_path, aws_endpoint, clients)


# --- arguments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "complaint"),
    [
        ("route_table_id", "rtb-xyz", "not a route table id"),
        ("route_table_id", "vpc-0123456789abcdef0", "not a route table id"),
        ("destination_cidr", "10.0.0.1/8", "host bits"),
        ("destination_cidr", "10.0.0.0/33", "not an IPv4 address"),
        ("target", "sg-0123456789abcdef0", "not a route target id"),
        ("target", "eni-12", "not a route target id"),
    ],
)
def test_bad_arguments_are_named(field: str, value: str, complaint: str) -> None:
    raw = {
        "route_table_id": "rtb-0123456789abcdef0",
        "destination_cidr": "10.0.0.0/8",
        "target": "eni-0123456789abcdef0",
    }
    with pytest.raises(ValidationError, match=complaint) as error:
        UpdateRouteArgs.model_validate({**raw, field: value})
    assert error.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("prefix", ["eni", "igw", "nat", "tgw", "vpce", "pcx", "i"])
def test_every_contracted_target_kind_is_accepted(prefix: str) -> None:
    parsed = UpdateRouteArgs(
        route_table_id="rtb-0123456789abcdef0",
        destination_cidr="10.1.2.3",
        target=f"{prefix}-0123456789abcdef0",
    )
    assert parsed.destination_cidr == "10.1.2.3/32"


# --- effect, verify, rollback --------------------------------------------------------------------------


def test_replacing_the_route_records_the_old_target_and_rollback_restores_it(
    clients: AwsClients, estate: Appliances
) -> None:
    args = route_args(estate, estate.standby_eni)
    record = update_route.run(clients, args, CTX)
    assert record["previous"] == {"kind": "NetworkInterfaceId", "id": estate.failed_eni}
    assert record["operation"] == "replace_route"
    assert route_to(estate)["NetworkInterfaceId"] == estate.standby_eni
    check = update_route.verify(clients, args, record)
    assert check.ok, check.detail
    update_route.rollback(clients, args, record, CTX)
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni
    assert not update_route.verify(clients, args, record).ok


def test_a_new_route_is_created_and_rollback_deletes_it(clients: AwsClients, estate: Appliances) -> None:
    igw = estate.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    estate.ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=estate.vpc_id)
    args = route_args(estate, igw, "198.51.100.0/24")
    record = update_route.run(clients, args, CTX)
    assert record["previous"] == "absent"
    assert route_to(estate, "198.51.100.0/24")["GatewayId"] == igw
    assert update_route.verify(clients, args, record).ok
    assert update_route.rollback(clients, args, record, CTX) == {"restored": True, "deleted": True}
    assert route_to(estate, "198.51.100.0/24") is None


def test_a_nat_gateway_target_and_back(clients: AwsClients, estate: Appliances) -> None:
    allocation = estate.ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = estate.ec2.create_nat_gateway(SubnetId=estate.subnet_id, AllocationId=allocation)["NatGateway"]
    args = route_args(estate, nat["NatGatewayId"])
    record = update_route.run(clients, args, CTX)
    assert route_to(estate)["NatGatewayId"] == nat["NatGatewayId"]
    update_route.rollback(clients, args, record, CTX)
    restored = route_to(estate)
    assert restored["NetworkInterfaceId"] == estate.failed_eni
    assert "NatGatewayId" not in restored


def test_the_same_target_changes_nothing(clients: AwsClients, estate: Appliances) -> None:
    args = route_args(estate, estate.failed_eni)
    record = update_route.run(clients, args, CTX)
    assert record["changed"] is False
    assert update_route.rollback(clients, args, record, CTX)["restored"] is False
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni


def test_dry_run_changes_nothing(clients: AwsClients, estate: Appliances) -> None:
    args = route_args(estate, estate.standby_eni)
    record = update_route.run(clients, args, ExecContext(incident_id="inc-7", dry_run=True))
    assert record["dry_run"] is True
    assert record["would"] == "replace_route"
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni


def test_rollback_leaves_a_route_someone_changed_since(clients: AwsClients, estate: Appliances) -> None:
    args = route_args(estate, estate.standby_eni)
    record = update_route.run(clients, args, CTX)
    igw = estate.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    estate.ec2.replace_route(
        RouteTableId=estate.route_table_id, DestinationCidrBlock=DESTINATION, GatewayId=igw
    )
    with pytest.raises(ToolError, match=f"was changed since opsbot set it \\(it goes to {igw} now\\)"):
        update_route.rollback(clients, args, record, CTX)
    assert route_to(estate)["GatewayId"] == igw


def test_missing_table_or_target_and_the_local_route_are_refused(
    clients: AwsClients, estate: Appliances
) -> None:
    with pytest.raises(ToolError, match="Route table rtb-0123456789abcdef0 was not found"):
        update_route.run(
            clients,
            UpdateRouteArgs(
                route_table_id="rtb-0123456789abcdef0",
                destination_cidr=DESTINATION,
                target=estate.standby_eni,
            ),
            CTX,
        )
    with pytest.raises(ToolError, match="Route target eni-0123456789abcdef0 was not found"):
        update_route.run(clients, route_args(estate, "eni-0123456789abcdef0"), CTX)
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni
    with pytest.raises(ToolError, match="local route"):
        update_route.run(clients, route_args(estate, estate.standby_eni, "10.20.0.0/16"), CTX)


# --- the health facts ----------------------------------------------------------------------------------


def test_target_health(clients: AwsClients, estate: Appliances) -> None:
    assert target_health(clients, estate.standby_instance, "us-east-1")["healthy"] is True
    assert target_health(clients, estate.standby_eni, "us-east-1")["healthy"] is True
    estate.ec2.stop_instances(InstanceIds=[estate.standby_instance])
    assert target_health(clients, estate.standby_instance, "us-east-1")["healthy"] is False
    stopped = target_health(clients, estate.standby_eni, "us-east-1")
    assert stopped["healthy"] is False
    assert "stopped" in stopped["detail"]
    loose = estate.ec2.create_network_interface(SubnetId=estate.subnet_id)["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    assert target_health(clients, loose, "us-east-1")["healthy"] is False
    allocation = estate.ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = estate.ec2.create_nat_gateway(SubnetId=estate.subnet_id, AllocationId=allocation)["NatGateway"]
    assert target_health(clients, nat["NatGatewayId"], "us-east-1")["healthy"] is True
    igw = estate.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    assert target_health(clients, igw, "us-east-1")["healthy"] is None  # unknown: never enough for auto


def test_route_facts_name_the_current_target(clients: AwsClients, estate: Appliances) -> None:
    estate.ec2.create_route(
        RouteTableId=estate.route_table_id,
        DestinationCidrBlock="10.99.0.0/16",
        InstanceId=estate.failed_instance,
    )
    facts = route_facts(clients, route_args(estate, estate.standby_eni, "10.99.0.0/16"))
    assert estate.failed_instance in facts["current_targets"]
    assert facts["new_target_healthy"] is True


# --- the policy ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "alarmed", "healthy", "expected"),
    [
        ("alert", True, True, "auto"),
        ("alert", False, True, "approval"),  # the alarm is about something else
        ("alert", True, False, "approval"),  # the new target is down
        ("alert", True, None, "approval"),  # the new target's health is unknown
        ("request", True, True, "approval"),  # a person asked: network approves
    ],
)
def test_policy_auto_only_around_an_alarmed_target_to_a_healthy_one(
    source: str, alarmed: bool, healthy: bool | None, expected: str
) -> None:
    facts = DecisionFacts(
        action="update_route",
        params={
            "route_table_id": "rtb-0123456789abcdef0",
            "destination_cidr": DESTINATION,
            "target": "eni-0123456789abcdef1",
        },
        source=source,  # type: ignore[arg-type]
        alert_severity=7.0 if source == "alert" else None,
        alert_resources=["i-0123456789abcdef0"] if alarmed else ["i-0fffffffffffffff0"],
        route_targets=["eni-0123456789abcdef0", "i-0123456789abcdef0"],
        new_target_healthy=healthy,
    )
    decision = decide(load_policy(), facts)
    assert decision.decision == expected, decision.reasons
    if expected == "approval":
        assert decision.approvers == ["network"]


def alarm_intent(estate: Appliances, target: str, named_instance: str) -> Intent:
    """The CloudWatch alarm fixture, about ``named_instance``, read as a request to route around it."""
    event = copy.deepcopy(load_fixture("aws/cloudwatch_alarm_state_change_metric.json"))
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["InstanceId"] = (
        named_instance
    )
    alert = intent_from_event(event)
    return alert.model_copy(
        update={
            "action": "update_route",
            "params": {
                "route_table_id": estate.route_table_id,
                "destination_cidr": DESTINATION,
                "target": target,
            },
            "named_resources": [*alert.named_resources, estate.route_table_id, target],
        }
    )


def test_an_alarm_on_the_failed_appliance_reroutes_automatically(
    pipeline: Pipeline, estate: Appliances
) -> None:
    run = start_with_intent(
        pipeline, "t-route-auto", alarm_intent(estate, estate.standby_eni, estate.failed_instance)
    )
    assert run.state["decision"]["decision"] == "auto", (run.state["decision"], run.state["context"])
    assert run.pending is None
    assert run.state["outcome"] == "executed"
    assert route_to(estate)["NetworkInterfaceId"] == estate.standby_eni
    assert [check["ok"] for check in run.state["verification"]] == [True]


def test_an_alarm_with_an_unhealthy_standby_waits_for_network(pipeline: Pipeline, estate: Appliances) -> None:
    estate.ec2.stop_instances(InstanceIds=[estate.standby_instance])
    run = start_with_intent(
        pipeline, "t-route-sick", alarm_intent(estate, estate.standby_eni, estate.failed_instance)
    )
    assert run.pending is not None
    assert run.pending["groups"] == ["network"]
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni


def test_an_alarm_about_another_instance_waits_for_network(pipeline: Pipeline, estate: Appliances) -> None:
    run = start_with_intent(
        pipeline, "t-route-other", alarm_intent(estate, estate.standby_eni, estate.standby_instance)
    )
    assert run.pending is not None
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni


def test_a_person_asking_needs_a_network_approver(pipeline: Pipeline, estate: Appliances) -> None:
    intent = Intent(
        action="update_route",
        params={
            "route_table_id": estate.route_table_id,
            "destination_cidr": DESTINATION,
            "target": estate.standby_eni,
        },
        text=f"route {DESTINATION} in {estate.route_table_id} via {estate.standby_eni}",
        requester=ONCALL,
        named_resources=[estate.route_table_id, DESTINATION, estate.standby_eni],
    )
    run = start_with_intent(pipeline, "t-route-ask", intent)
    assert run.pending is not None
    assert run.pending["groups"] == ["network"]
    assert not pipeline.vote("t-route-ask", SECURITY, approve=True).accepted
    assert route_to(estate)["NetworkInterfaceId"] == estate.failed_eni
    approved = pipeline.vote("t-route-ask", NETWORK, approve=True)
    assert approved.run is not None
    assert approved.run.state["outcome"] == "executed"
    assert route_to(estate)["NetworkInterfaceId"] == estate.standby_eni
    (execution,) = executions(pipeline, "t-route-ask")
    assert execution["record"]["previous"] == {"kind": "NetworkInterfaceId", "id": estate.failed_eni}
