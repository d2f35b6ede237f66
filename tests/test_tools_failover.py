"""regional_failover on moto's Route 53: weighted records whose SetIdentifier is the region name."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies.decision import DecisionFacts
from policies.engine import decide, load_policy
from tools.base import AwsClients, ExecContext, ToolError
from tools.failover import RegionalFailoverArgs, regional_failover
from tools.registry import REGISTRY

CTX = ExecContext(incident_id="inc-0123456789abcdef")
NAME = "api.example.com"


def weighted(name: str, kind: str, region: str, weight: int, value: str) -> dict[str, Any]:
    return {
        "Action": "CREATE",
        "ResourceRecordSet": {
            "Name": name,
            "Type": kind,
            "SetIdentifier": region,
            "Weight": weight,
            "TTL": 60,
            "ResourceRecords": [{"Value": value}],
        },
    }


def make_zone(clients: AwsClients, east: int = 100, west: int = 0) -> str:
    """A zone where api.example.com is served from us-east-1 (A and AAAA), us-west-2 and eu-west-1."""
    route53 = clients.client("route53", "us-east-1")
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="failover-test")["HostedZone"]["Id"]
    changes = [
        weighted(NAME, "A", "us-east-1", east, "192.0.2.10"),
        weighted(NAME, "A", "us-west-2", west, "198.51.100.10"),
        weighted(NAME, "AAAA", "us-east-1", east, "2001:db8::10"),
        weighted(NAME, "AAAA", "us-west-2", west, "2001:db8:1::10"),
        weighted(NAME, "A", "eu-west-1", 50, "203.0.113.10"),
        weighted("web.example.com", "A", "us-east-1", 100, "192.0.2.20"),
        weighted("web.example.com", "A", "us-west-2", 0, "198.51.100.20"),
    ]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return str(zone).removeprefix("/hostedzone/")


def weights(clients: AwsClients, zone: str) -> dict[tuple[str, str, str], int]:
    """(name, type, set identifier) -> weight, read back from Route 53."""
    route53 = clients.client("route53", "us-east-1")
    sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {(s["Name"], s["Type"], s["SetIdentifier"]): int(s["Weight"]) for s in sets if "Weight" in s}


def failover_args(zone: str, **overrides: Any) -> RegionalFailoverArgs:
    params = {
        "from_region": "us-east-1",
        "to_region": "us-west-2",
        "hosted_zone_id": zone,
        "record_name": NAME,
    }
    return RegionalFailoverArgs.model_validate({**params, **overrides})


@pytest.fixture
def aws(aws_endpoint: str, clients: AwsClients) -> AwsClients:
    """The session's clients (a new boto3 session per test is slow), on a freshly reset moto."""
    return clients


def test_fails_over_every_record_type_and_rollback_restores_the_weights(aws: AwsClients) -> None:
    zone = make_zone(aws)
    before = weights(aws, zone)
    args = failover_args(zone)

    record = regional_failover.run(aws, args, CTX)

    after = weights(aws, zone)
    assert after[("api.example.com.", "A", "us-east-1")] == 0
    assert after[("api.example.com.", "A", "us-west-2")] == 100
    assert after[("api.example.com.", "AAAA", "us-east-1")] == 0
    assert after[("api.example.com.", "AAAA", "us-west-2")] == 100
    assert after[("api.example.com.", "A", "eu-west-1")] == 50  # another region is left alone
    assert after[("web.example.com.", "A", "us-east-1")] == 100  # another name is left alone
    assert record["changed"] is True
    assert sorted((w["type"], w["set_identifier"], w["weight"]) for w in record["prior_weights"]) == [
        ("A", "us-east-1", 100),
        ("A", "us-west-2", 0),
        ("AAAA", "us-east-1", 100),
        ("AAAA", "us-west-2", 0),
    ]
    check = regional_failover.verify(aws, args, record)
    assert check.ok, check.detail

    assert regional_failover.rollback is not None
    undo = regional_failover.rollback(aws, args, record, CTX)

    assert undo["restored"] is True
    assert weights(aws, zone) == before
    assert not regional_failover.verify(aws, args, record).ok  # verify reads the weights, not the record


def test_the_other_records_keep_their_values(aws: AwsClients) -> None:
    zone = make_zone(aws)
    regional_failover.run(aws, failover_args(zone), CTX)
    route53 = aws.client("route53", "us-east-1")
    sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    west = next(s for s in sets if s["Name"] == "api.example.com." and s.get("SetIdentifier") == "us-west-2")
    assert west["ResourceRecords"] == [{"Value": "198.51.100.10"}]
    assert west["TTL"] == 60


def test_already_failed_over_changes_nothing_and_rollback_keeps_it(aws: AwsClients) -> None:
    zone = make_zone(aws, east=0, west=100)
    args = failover_args(zone)
    record = regional_failover.run(aws, args, CTX)
    assert record["changed"] is False
    assert regional_failover.rollback is not None
    assert regional_failover.rollback(aws, args, record, CTX)["restored"] is False
    assert weights(aws, zone)[("api.example.com.", "A", "us-west-2")] == 100


def test_a_dry_run_says_what_would_change_and_changes_nothing(aws: AwsClients) -> None:
    zone = make_zone(aws)
    before = weights(aws, zone)
    record = regional_failover.run(aws, failover_args(zone), ExecContext(incident_id="t", dry_run=True))
    assert record["dry_run"] is True
    assert {(w["set_identifier"], w["weight"]) for w in record["would_set"]} == {
        ("us-east-1", 0),
        ("us-west-2", 100),
    }
    assert weights(aws, zone) == before


def test_a_region_without_a_record_is_named(aws: AwsClients) -> None:
    zone = make_zone(aws)
    with pytest.raises(ToolError) as raised:
        regional_failover.run(aws, failover_args(zone, to_region="ap-southeast-2"), CTX)
    assert str(raised.value) == (
        "api.example.com has no weighted records for both us-east-1 and ap-southeast-2 in hosted zone "
        f"{zone} (found: A us-east-1, AAAA us-east-1)."
    )


def test_a_missing_zone_is_said_plainly(aws: AwsClients) -> None:
    with pytest.raises(ToolError, match=r"^AWS refused to read api\.example\.com in hosted zone ZNOSUCHZONE"):
        regional_failover.run(aws, failover_args("ZNOSUCHZONE"), CTX)


def test_arguments() -> None:
    assert failover_args("/hostedzone/z0123456789abc").hosted_zone_id == "Z0123456789ABC"
    assert failover_args("Z1", record_name="API.Example.com.").record_name == "api.example.com"
    with pytest.raises(ValidationError, match="both us-east-1: fail over to another region"):
        failover_args("Z1", to_region="us-east-1")
    with pytest.raises(ValidationError, match="is not an AWS region name"):
        failover_args("Z1", to_region="mars-1")
    with pytest.raises(ValidationError, match="is not a Route 53 hosted zone id"):
        failover_args("zone one")
    with pytest.raises(ValidationError, match="give the full name"):
        failover_args("Z1", record_name=".example.com")
    with pytest.raises(ValidationError, match="has a scheme"):
        failover_args("Z1", record_name="https://api.example.com")


def test_registered_with_its_resources() -> None:
    spec = REGISTRY["regional_failover"]
    assert spec is regional_failover
    assert spec.reversible
    assert spec.resources(failover_args("Z1")) == ["Z1", "api.example.com"]


# --- the approval rule, through the shipped policy -----------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "decision"),
    [
        pytest.param({"source": "request", "requester": "U0INCIDENT1"}, "approval", id="even-from-the-ic"),
        pytest.param(
            {"source": "alert", "alert_kind": "guardduty", "alert_severity": 10.0, "finding_severity": 10.0},
            "approval",
            id="never-auto-even-for-a-critical-alert",
        ),
        pytest.param({"source": "request", "rate_used": 2}, "reject", id="two-an-hour-at-most"),
        pytest.param({"source": "request", "paused": True}, "reject", id="paused"),
    ],
)
def test_only_an_incident_commander_approves_a_failover(facts: dict[str, Any], decision: str) -> None:
    policy = load_policy()
    params = {
        "from_region": "us-east-1",
        "to_region": "us-west-2",
        "hosted_zone_id": "Z1",
        "record_name": NAME,
    }
    result = decide(policy, DecisionFacts(action="regional_failover", params=params, **facts))
    assert result.decision == decision
    if decision == "approval":
        assert result.approvers == ["incident-commander"]
        assert result.count == 1
    assert policy.rate_limits["regional_failover"] == 2
