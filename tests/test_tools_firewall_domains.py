"""allow_egress_domain on AWS Network Firewall, which moto does not implement: botocore's Stubber checks every
request against the service model (and the exact parameters we expect), and the answers are shaped by it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from policies.decision import DecisionFacts
from policies.engine import decide, load_policy
from tools.base import AwsClients, ExecContext, ToolError
from tools.firewall_domains import AllowEgressDomainArgs, allow_egress_domain, normalise_domain
from tools.registry import REGISTRY

REGION = "us-east-1"
ARN = "arn:aws:network-firewall:us-east-1:123456789012:stateful-rulegroup/prod-api"
CTX = ExecContext(incident_id="slack-C0OPS-1700000000.000100")


def described(
    targets: list[str],
    token: str = "tok-1",  # noqa: S107 - an UpdateToken, not a secret
    kind: str = "ALLOWLIST",
) -> dict[str, Any]:
    """A DescribeRuleGroup answer for a domain-list rule group with rule variables to preserve."""
    return {
        "UpdateToken": token,
        "RuleGroup": {
            "RuleVariables": {"IPSets": {"HOME_NET": {"Definition": ["10.0.0.0/16"]}}},
            "RulesSource": {
                "RulesSourceList": {
                    "Targets": list(targets),
                    "TargetTypes": ["TLS_SNI", "HTTP_HOST"],
                    "GeneratedRulesType": kind,
                }
            },
            "StatefulRuleOptions": {"RuleOrder": "STRICT_ORDER"},
        },
        "RuleGroupResponse": {
            "RuleGroupArn": ARN,
            "RuleGroupName": "prod-api",
            "RuleGroupId": "b5f3e6a1-0c52-4c8e-9d1a-5e0b1f2a3c4d",
            "Description": "Egress allow list for prod-api",
            "Type": "STATEFUL",
            "Capacity": 100,
            "RuleGroupStatus": "ACTIVE",
            "NumberOfAssociations": 1,
            "LastModifiedTime": datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
        },
    }


def update_request(before: dict[str, Any], targets: list[str], dry_run: bool = False) -> dict[str, Any]:
    """The exact UpdateRuleGroup request: the same group, new targets, the description kept."""
    rule_group = copy.deepcopy(before["RuleGroup"])
    rule_group["RulesSource"]["RulesSourceList"]["Targets"] = targets
    request = {
        "UpdateToken": before["UpdateToken"],
        "RuleGroupArn": ARN,
        "Type": "STATEFUL",
        "RuleGroup": rule_group,
        "Description": "Egress allow list for prod-api",
    }
    return {**request, "DryRun": True} if dry_run else request


def updated(token: str) -> dict[str, Any]:
    return {"UpdateToken": token, "RuleGroupResponse": described([])["RuleGroupResponse"]}


DESCRIBE = {"RuleGroupName": "prod-api", "Type": "STATEFUL"}


@pytest.fixture
def firewall() -> Iterator[tuple[AwsClients, Stubber]]:
    client = boto3.client("network-firewall", region_name=REGION)
    clients = AwsClients()
    clients.use("network-firewall", REGION, client)
    with Stubber(client) as stubber:
        yield clients, stubber
        stubber.assert_no_pending_responses()


def args(domain: str = "salesforce.com") -> AllowEgressDomainArgs:
    return AllowEgressDomainArgs(domain=domain, rule_group="prod-api", region=REGION)


def test_adds_the_domain_verifies_it_and_rollback_removes_it(firewall: tuple[AwsClients, Stubber]) -> None:
    clients, stub = firewall
    before = described([".amazonaws.com", "github.com"])
    after = described([".amazonaws.com", "github.com", "salesforce.com"], token="tok-2")
    stub.add_response("describe_rule_group", before, DESCRIBE)
    stub.add_response(
        "update_rule_group",
        updated("tok-2"),
        update_request(before, [".amazonaws.com", "github.com", "salesforce.com"]),
    )
    stub.add_response("describe_rule_group", after, DESCRIBE)  # verify reads it back
    stub.add_response("describe_rule_group", after, DESCRIBE)  # rollback reads it again
    stub.add_response(
        "update_rule_group", updated("tok-3"), update_request(after, [".amazonaws.com", "github.com"])
    )

    record = allow_egress_domain.run(clients, args(), CTX)
    assert record == {
        "rule_group": "prod-api",
        "domain": "salesforce.com",
        "already_present": False,
        "changed": True,
    }
    check = allow_egress_domain.verify(clients, args(), record)
    assert check.ok, check.detail
    assert check.detail == "Rule group prod-api allows salesforce.com."
    assert allow_egress_domain.rollback is not None
    assert allow_egress_domain.rollback(clients, args(), record, CTX) == {"removed": True}


def test_a_domain_already_listed_is_left_alone_and_kept_on_rollback(
    firewall: tuple[AwsClients, Stubber],
) -> None:
    clients, stub = firewall
    stub.add_response("describe_rule_group", described(["salesforce.com"]), DESCRIBE)

    record = allow_egress_domain.run(clients, args("SalesForce.com"), CTX)

    assert record["changed"] is False
    assert record["already_present"] is True
    assert allow_egress_domain.rollback is not None
    undo = allow_egress_domain.rollback(clients, args(), record, CTX)
    assert undo == {"removed": False, "detail": "The domain was on the list before opsbot ran; it is kept."}


def test_verify_fails_when_the_domain_is_not_there(firewall: tuple[AwsClients, Stubber]) -> None:
    clients, stub = firewall
    stub.add_response("describe_rule_group", described(["github.com"]), DESCRIBE)
    check = allow_egress_domain.verify(clients, args(), {"changed": True})
    assert not check.ok
    assert check.detail == "Rule group prod-api does not allow salesforce.com."


def test_a_stale_update_token_is_read_again_and_retried(firewall: tuple[AwsClients, Stubber]) -> None:
    clients, stub = firewall
    first = described(["github.com"], token="tok-1")
    second = described(["github.com", "example.org"], token="tok-9")  # someone else added a domain meanwhile
    stub.add_response("describe_rule_group", first, DESCRIBE)
    stub.add_client_error(
        "update_rule_group",
        service_error_code="InvalidTokenException",
        service_message="Update token is not valid",
        http_status_code=400,
        expected_params=update_request(first, ["github.com", "salesforce.com"]),
    )
    stub.add_response("describe_rule_group", second, DESCRIBE)
    stub.add_response(
        "update_rule_group",
        updated("tok-10"),
        update_request(second, ["github.com", "example.org", "salesforce.com"]),
    )

    assert allow_egress_domain.run(clients, args(), CTX)["changed"] is True


def test_a_dry_run_asks_aws_with_dryrun_and_changes_nothing(firewall: tuple[AwsClients, Stubber]) -> None:
    clients, stub = firewall
    before = described(["github.com"])
    stub.add_response("describe_rule_group", before, DESCRIBE)
    stub.add_response(
        "update_rule_group", updated("tok-1"), update_request(before, ["github.com", "salesforce.com"], True)
    )

    record = allow_egress_domain.run(clients, args(), ExecContext(incident_id="t", dry_run=True))

    assert record["dry_run"] is True
    assert record["changed"] is False
    assert allow_egress_domain.verify(clients, args(), record).ok  # nothing to read back after a dry run


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        pytest.param(
            described(["github.com"], kind="DENYLIST"),
            "Rule group prod-api is a DENYLIST domain list, so adding a domain would not allow it.",
            id="deny-list",
        ),
        pytest.param(
            {
                **described([]),
                "RuleGroup": {"RulesSource": {"RulesString": "pass tls any any -> any any (sid:1;)"}},
            },
            "Rule group prod-api is not a domain list; opsbot only edits domain lists.",
            id="suricata-rules",
        ),
    ],
)
def test_only_a_domain_allow_list_is_edited(
    firewall: tuple[AwsClients, Stubber], answer: dict[str, Any], message: str
) -> None:
    clients, stub = firewall
    stub.add_response("describe_rule_group", answer, DESCRIBE)
    with pytest.raises(ToolError) as raised:
        allow_egress_domain.run(clients, args(), CTX)
    assert str(raised.value) == message


def test_a_missing_rule_group_is_said_plainly(firewall: tuple[AwsClients, Stubber]) -> None:
    clients, stub = firewall
    stub.add_client_error(
        "describe_rule_group",
        service_error_code="ResourceNotFoundException",
        service_message="Resource not found",
        http_status_code=400,
        expected_params=DESCRIBE,
    )
    with pytest.raises(
        ToolError, match=r"^Network Firewall rule group prod-api was not found in us-east-1\.$"
    ):
        allow_egress_domain.run(clients, args(), CTX)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("salesforce.com", "salesforce.com"),
        ("  SalesForce.COM ", "salesforce.com"),
        (".example.com", ".example.com"),
        ("login.salesforce.com.", "login.salesforce.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
        (".".join(["abcdefghi"] * 25) + ".com", ".".join(["abcdefghi"] * 25) + ".com"),  # 253 characters
    ],
)
def test_domains_are_normalised(given: str, expected: str) -> None:
    assert normalise_domain(given) == expected
    assert args(given).domain == expected


@pytest.mark.parametrize(
    ("given", "phrase"),
    [
        ("*.example.com", "write a wildcard as a leading dot"),
        ("api.*.example.com", "write a wildcard as a leading dot"),
        ("https://salesforce.com", "has a scheme"),
        ("salesforce.com/login", "not a bare domain"),
        ("salesforce.com:443", "not a bare domain"),
        ("user@salesforce.com", "not a bare domain"),
        ("sales force.com", "not a bare domain"),
        ("localhost", "not a valid domain name"),
        ("-bad.example.com", "not a valid domain name"),
        ("bad_label.example.com", "not a valid domain name"),
        ("203.0.113.7", "not a valid domain name"),
        ("..example.com", "not a valid domain name"),
        ("a" * 64 + ".com", "not a valid domain name"),
        (".".join(["abcdefghi"] * 26) + ".com", "longer than 253 characters"),
    ],
)
def test_bad_domains_are_refused_with_a_reason(given: str, phrase: str) -> None:
    with pytest.raises(ValidationError) as raised:
        args(given)
    assert phrase in str(raised.value)


def test_a_bad_rule_group_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not a rule group name"):
        AllowEgressDomainArgs(domain="salesforce.com", rule_group="prod api", region=REGION)


def test_registered_with_its_resources() -> None:
    spec = REGISTRY["allow_egress_domain"]
    assert spec is allow_egress_domain
    assert spec.reversible
    assert spec.risk == "write"
    assert spec.resources(args()) == ["prod-api", "salesforce.com"]


# --- the approval rule, through the shipped policy -----------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "decision", "approvers"),
    [
        pytest.param({"source": "request"}, "approval", ["security"], id="a-request"),
        pytest.param(
            {"source": "alert", "alert_severity": 9.0, "finding_severity": 9.0},
            "approval",
            ["security"],
            id="an-alert",
        ),
        pytest.param({"source": "request", "rate_used": 10}, "reject", [], id="rate-limited"),
        pytest.param({"source": "request", "paused": True}, "reject", [], id="paused"),
    ],
)
def test_security_approves_every_new_domain(
    facts: dict[str, Any], decision: str, approvers: list[str]
) -> None:
    policy = load_policy()
    params = {"domain": "salesforce.com", "rule_group": "prod-api"}
    result = decide(policy, DecisionFacts(action="allow_egress_domain", params=params, **facts))
    assert (result.decision, result.approvers) == (decision, approvers)
    assert result.count in (0, 1)
