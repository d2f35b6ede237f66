"""grant_vendor_access / revoke_vendor_access on moto's EC2, and their approval rules in the policy."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from policies.decision import DecisionFacts
from policies.engine import decide, load_policy
from tools.base import AwsClients, ExecContext, ToolError
from tools.registry import REGISTRY
from tools.vendor_access import (
    GrantVendorAccessArgs,
    RevokeVendorAccessArgs,
    grant_vendor_access,
    revoke_vendor_access,
)

CTX = ExecContext(incident_id="slack-C0OPS-1700000000.000100")
VENDOR_CIDR = "203.0.113.0/24"
DESCRIPTION_RE = re.compile(r"^opsbot vendor acme until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$")


@pytest.fixture
def aws(aws_endpoint: str, clients: AwsClients) -> AwsClients:
    """The session's clients (a new boto3 session per test is slow), on a freshly reset moto."""
    return clients


def make_group(clients: AwsClients) -> str:
    ec2 = clients.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_security_group(GroupName="db", Description="database", VpcId=vpc)["GroupId"])


def ingress(clients: AwsClients, group_id: str) -> list[dict[str, Any]]:
    """The group's ingress rules as (cidr, port, description), read back from EC2."""
    ec2 = clients.client("ec2", "us-east-1")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return sorted(
        (
            {"cidr": r.get("CidrIpv4"), "port": r.get("FromPort"), "description": r.get("Description", "")}
            for r in rules["SecurityGroupRules"]
            if not r["IsEgress"]
        ),
        key=lambda rule: (str(rule["cidr"]), int(rule["port"])),
    )


def grant_args(group_id: str, **overrides: Any) -> GrantVendorAccessArgs:
    params = {"vendor": "acme", "cidr": VENDOR_CIDR, "port": 5432, "security_group_id": group_id, "hours": 4}
    return GrantVendorAccessArgs.model_validate({**params, **overrides})


def revoke_args(group_id: str, **overrides: Any) -> RevokeVendorAccessArgs:
    params = {"vendor": "acme", "cidr": VENDOR_CIDR, "port": 5432, "security_group_id": group_id}
    return RevokeVendorAccessArgs.model_validate({**params, **overrides})


def test_a_grant_is_one_described_rule_that_expires_in_the_hours_asked(aws: AwsClients) -> None:
    group = make_group(aws)
    started = time.time()

    record = grant_vendor_access.run(aws, grant_args(group), CTX)

    [rule] = ingress(aws, group)
    assert (rule["cidr"], rule["port"]) == (VENDOR_CIDR, 5432)
    match = DESCRIPTION_RE.match(rule["description"])
    assert match, rule["description"]
    until = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert started + 4 * 3600 - 2 <= until <= time.time() + 4 * 3600
    assert record["expires_at"] == until
    assert record["expires_at_iso"] == match.group(1)
    assert len(record["rule_ids"]) == 1
    check = grant_vendor_access.verify(aws, grant_args(group), record)
    assert check.ok, check.detail


def test_revoke_removes_exactly_the_vendors_rule(aws: AwsClients) -> None:
    group = make_group(aws)
    ec2 = aws.client("ec2", "us-east-1")
    human = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": VENDOR_CIDR}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[human])  # same CIDR, another port
    grant_vendor_access.run(aws, grant_args(group), CTX)
    grant_vendor_access.run(aws, grant_args(group, vendor="globex", cidr="198.51.100.7"), CTX)

    record = revoke_vendor_access.run(aws, revoke_args(group), CTX)

    left = ingress(aws, group)
    assert [(r["cidr"], r["port"]) for r in left] == [("198.51.100.7/32", 5432), (VENDOR_CIDR, 22)]
    assert left[0]["description"].startswith("opsbot vendor globex until ")
    assert len(record["revoked_rule_ids"]) == 1
    assert record["changed"] is True
    check = revoke_vendor_access.verify(aws, revoke_args(group), record)
    assert check.ok, check.detail


def test_revoking_what_is_gone_is_a_calm_no_op(aws: AwsClients) -> None:
    group = make_group(aws)
    record = revoke_vendor_access.run(aws, revoke_args(group), CTX)
    assert record["revoked_rule_ids"] == []
    assert record["detail"] == "acme had no opsbot access there (already revoked or expired)."
    assert revoke_vendor_access.verify(aws, revoke_args(group), record).ok


def test_a_rule_that_is_not_opsbots_is_never_revoked(aws: AwsClients) -> None:
    group = make_group(aws)
    ec2 = aws.client("ec2", "us-east-1")
    theirs = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": VENDOR_CIDR}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[theirs])

    assert revoke_vendor_access.run(aws, revoke_args(group), CTX)["revoked_rule_ids"] == []
    assert [(r["cidr"], r["port"]) for r in ingress(aws, group)] == [(VENDOR_CIDR, 5432)]
    with pytest.raises(ToolError, match=r"already allows 203\.0\.113\.0/24 on TCP 5432 \(no description\)"):
        grant_vendor_access.run(aws, grant_args(group), CTX)


def test_rollback_of_a_grant_revokes_it(aws: AwsClients) -> None:
    group = make_group(aws)
    record = grant_vendor_access.run(aws, grant_args(group), CTX)
    assert grant_vendor_access.rollback is not None
    undo = grant_vendor_access.rollback(aws, grant_args(group), record, CTX)
    assert undo == {"revoked": record["rule_ids"]}
    assert ingress(aws, group) == []
    assert grant_vendor_access.rollback(aws, grant_args(group), record, CTX)["revoked"] == []


def test_a_dry_run_grant_changes_nothing(aws: AwsClients) -> None:
    group = make_group(aws)
    record = grant_vendor_access.run(aws, grant_args(group), ExecContext(incident_id="t", dry_run=True))
    assert record["dry_run"] is True
    assert ingress(aws, group) == []


def test_a_missing_group_is_said_plainly(aws: AwsClients) -> None:
    with pytest.raises(
        ToolError, match=r"^Security group sg-0123456789abcdef0 was not found in us-east-1\.$"
    ):
        grant_vendor_access.run(aws, grant_args("sg-0123456789abcdef0"), CTX)


@pytest.mark.parametrize(
    ("overrides", "phrase"),
    [
        ({"hours": 0}, "greater than or equal to 1"),
        ({"hours": 73}, "less than or equal to 72"),
        ({"port": 70000}, "less than or equal to 65535"),
        ({"vendor": "acme corp"}, "is not a vendor name"),
        ({"vendor": "acme;drop"}, "is not a vendor name"),
        ({"cidr": "203.0.113.5/24"}, "host bits set"),
        ({"security_group_id": "sg-nope"}, "is not a security group id"),
    ],
)
def test_bad_arguments_are_refused(overrides: dict[str, Any], phrase: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(phrase)):
        grant_args("sg-0123456789abcdef0", **overrides)


def test_arguments_are_normalised_and_registered() -> None:
    args = grant_args("sg-0123456789abcdef0", vendor="ACME", cidr="203.0.113.9")
    assert (args.vendor, args.cidr) == ("acme", "203.0.113.9/32")
    assert REGISTRY["grant_vendor_access"] is grant_vendor_access
    assert REGISTRY["revoke_vendor_access"] is revoke_vendor_access
    assert grant_vendor_access.reversible
    assert not revoke_vendor_access.reversible  # undoing a revoke is a new grant, which security approves
    assert grant_vendor_access.resources(args) == ["sg-0123456789abcdef0", "203.0.113.9/32"]


# --- the approval rules, through the shipped policy ----------------------------------------------------


def decision_for(action: str, params: dict[str, Any], **facts: Any) -> tuple[str, list[str]]:
    result = decide(load_policy(), DecisionFacts(action=action, params=params, **facts))
    return result.decision, result.approvers


GRANT = {
    "vendor": "acme",
    "cidr": VENDOR_CIDR,
    "port": 5432,
    "security_group_id": "sg-0123456789abcdef0",
    "hours": 4,
}
REVOKE = {key: value for key, value in GRANT.items() if key != "hours"}


def test_security_approves_a_grant() -> None:
    assert decision_for("grant_vendor_access", GRANT) == ("approval", ["security"])
    assert decision_for("grant_vendor_access", GRANT, requester="U0SECURITY1") == ("approval", ["security"])


def test_a_grant_wider_than_a_slash_16_is_rejected() -> None:
    assert decision_for("grant_vendor_access", {**GRANT, "cidr": "10.0.0.0/8"})[0] == "reject"
    assert decision_for("grant_vendor_access", {**GRANT, "cidr": "0.0.0.0/0"})[0] == "reject"
    assert decision_for("grant_vendor_access", {**GRANT, "cidr": "198.51.0.0/16"})[0] == "approval"


def test_grants_are_rate_limited() -> None:
    assert decision_for("grant_vendor_access", GRANT, rate_used=9)[0] == "approval"
    assert decision_for("grant_vendor_access", GRANT, rate_used=10)[0] == "reject"


def test_a_revoke_is_automatic_within_its_rate_limit() -> None:
    assert decision_for("revoke_vendor_access", REVOKE) == ("auto", [])
    assert decision_for("revoke_vendor_access", REVOKE, requester="opsbot:expiry") == ("auto", [])
    assert decision_for("revoke_vendor_access", REVOKE, rate_used=60)[0] == "reject"
    assert decision_for("revoke_vendor_access", REVOKE, paused=True)[0] == "reject"
