"""The shipped decision matrix, row by row, and the loader's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import (
    DecisionFacts,
    Policy,
    PolicyDecision,
    PolicyError,
    approver_groups_of,
    can_approve,
    can_control,
    decide,
    decide_plan,
    load_policy,
    load_prices,
    monthly_cost_delta,
    rate_limit,
)
from policies.engine import DEFAULT_POLICY_PATH
from tests.conftest import load_fixture

SEC = ["security"]
SEC_PLAT = ["security", "platform"]
PLAT = ["platform"]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def request(action: str, **params: Any) -> DecisionFacts:
    return DecisionFacts(action=action, params=params, requester="U0REQUESTER")


def guardduty(action: str, severity: float, *, sample: bool = False, **params: Any) -> DecisionFacts:
    return DecisionFacts(
        action=action,
        params=params,
        source="alert",
        alert_kind="guardduty",
        alert_severity=severity,
        finding_severity=severity,
        sample=sample,
    )


def alert(action: str, severity: float | None, **changes: Any) -> DecisionFacts:
    facts = DecisionFacts(action=action, source="alert", alert_kind="cloudwatch", alert_severity=severity)
    return facts.model_copy(update=changes)


def scale(current: int, desired: int, asg_max: int, cost: float | None) -> DecisionFacts:
    return DecisionFacts(
        action="scale_asg",
        params={"asg_name": "web", "desired_capacity": desired},
        requester="U0REQUESTER",
        asg_current=current,
        asg_max=asg_max,
        monthly_cost_delta=cost,
    )


# (facts, decision, approvers, count, allow_requester, a phrase the reasons must contain)
ROWS: list[Any] = [
    # always automatic
    pytest.param(request("snapshot_instance", instance_id="i-0abc1234"), "auto", [], 0, True, "snapshot_instance rule 'otherwise'", id="snapshot-auto"),
    pytest.param(request("tag_resource", resource_id="i-0abc1234"), "auto", [], 0, True, "tag_resource rule 'otherwise'", id="tag-auto"),
    pytest.param(request("restart_service", instance_id="i-0abc1234"), "auto", [], 0, True, "routine", id="restart-auto"),
    # isolate_instance
    pytest.param(guardduty("isolate_instance", 8), "auto", [], 0, True, "confirmed-guardduty-finding", id="isolate-gd8-auto"),
    pytest.param(guardduty("isolate_instance", 7), "auto", [], 0, True, "confirmed-guardduty-finding", id="isolate-gd7-boundary-auto"),
    pytest.param(guardduty("isolate_instance", 8, sample=True), "approval", SEC, 1, True, "isolate_instance rule 'otherwise'", id="isolate-gd8-sample-approval"),
    pytest.param(request("isolate_instance", instance_id="i-0abc1234"), "approval", SEC, 1, True, "security approves", id="isolate-request-approval"),
    pytest.param(guardduty("isolate_instance", 6.9), "approval", SEC, 1, True, "isolate_instance rule 'otherwise'", id="isolate-gd6.9-approval"),
    # block_ip: never non-public ranges, never wider than /16
    pytest.param(request("block_ip", cidr="10.1.2.3/32"), "reject", [], 0, True, "non-public-range", id="block-rfc1918-reject"),
    pytest.param(guardduty("block_ip", 8, cidr="172.20.0.0/16"), "reject", [], 0, True, "non-public-range", id="block-rfc1918-172-gd-reject"),
    pytest.param(guardduty("block_ip", 9, ip="192.168.1.10"), "reject", [], 0, True, "non-public-range", id="block-rfc1918-192-reject"),
    pytest.param(guardduty("block_ip", 8, cidr="100.64.1.1/32"), "reject", [], 0, True, "carrier-grade", id="block-cgnat-reject"),
    pytest.param(request("block_ip", cidr="127.0.0.1/32"), "reject", [], 0, True, "loopback", id="block-loopback-reject"),
    pytest.param(request("block_ip", cidr="169.254.169.254/32"), "reject", [], 0, True, "link-local", id="block-link-local-reject"),
    pytest.param(request("block_ip", cidr="224.0.0.251/32"), "reject", [], 0, True, "multicast", id="block-multicast-reject"),
    pytest.param(request("block_ip", cidr="240.0.0.1/32"), "reject", [], 0, True, "reserved", id="block-reserved-reject"),
    pytest.param(request("block_ip", cidr="0.1.2.3/32"), "reject", [], 0, True, "non-public-range", id="block-this-network-reject"),
    pytest.param(request("block_ip", cidr="fd00::1/128"), "reject", [], 0, True, "non-public-range", id="block-ipv6-ula-reject"),
    pytest.param(request("block_ip", cidr="::ffff:10.0.0.1/128"), "reject", [], 0, True, "non-public-range", id="block-ipv4-mapped-private-reject"),
    pytest.param(request("block_ip", cidr="203.0.113.0/15"), "reject", [], 0, True, "too-wide", id="block-wider-than-16-reject"),
    pytest.param(guardduty("block_ip", 8, cidr="8.0.0.0/8"), "reject", [], 0, True, "wider than a /16", id="block-slash8-gd-reject"),
    pytest.param(guardduty("block_ip", 8, cidr="198.51.0.0/16"), "auto", [], 0, True, "confirmed-guardduty-finding", id="block-exactly-16-gd-auto"),
    pytest.param(guardduty("block_ip", 8, cidr="203.0.113.45/32"), "auto", [], 0, True, "names this address", id="block-public-gd8-auto"),
    pytest.param(guardduty("block_ip", 8, cidr="2001:db8::1/128"), "auto", [], 0, True, "confirmed-guardduty-finding", id="block-public-ipv6-gd8-auto"),
    pytest.param(guardduty("block_ip", 8, sample=True, cidr="203.0.113.45/32"), "approval", SEC, 1, True, "block_ip rule 'otherwise'", id="block-gd8-sample-approval"),
    pytest.param(request("block_ip", cidr="203.0.113.45/32"), "approval", SEC, 1, True, "block_ip rule 'otherwise'", id="block-request-approval"),
    pytest.param(request("block_ip", cidr="not-an-address"), "reject", [], 0, True, "not an IP address", id="block-unreadable-fails-closed"),
    pytest.param(request("block_ip"), "reject", [], 0, True, "names no IP address", id="block-no-address-fails-closed"),
    # scale_asg: within max, at most x2, at most $100/month
    pytest.param(scale(4, 8, 10, 20.0), "auto", [], 0, True, "small-bounded-scale", id="scale-4-to-8-auto"),
    pytest.param(scale(4, 2, 10, -40.0), "auto", [], 0, True, "small-bounded-scale", id="scale-down-auto"),
    pytest.param(scale(4, 9, 10, 20.0), "approval", PLAT, 1, True, "scale_asg rule 'otherwise'", id="scale-more-than-double-approval"),
    pytest.param(scale(4, 8, 6, 20.0), "approval", PLAT, 1, True, "scale_asg rule 'otherwise'", id="scale-beyond-max-approval"),
    pytest.param(scale(4, 8, 10, 150.0), "approval", PLAT, 1, True, "scale_asg rule 'otherwise'", id="scale-cost-150-approval"),
    pytest.param(scale(4, 8, 10, 100.0), "auto", [], 0, True, "small-bounded-scale", id="scale-cost-100-boundary-auto"),
    pytest.param(scale(4, 8, 10, None), "approval", PLAT, 1, True, "cost-unknown", id="scale-cost-unknown-approval"),
    pytest.param(scale(4, 8, 10, 20.0).model_copy(update={"asg_max": None}), "approval", PLAT, 1, True, "otherwise", id="scale-max-unknown-approval"),
    # approval by security or platform
    pytest.param(request("unblock_ip", cidr="203.0.113.45/32"), "approval", SEC_PLAT, 1, True, "reopens access", id="unblock-approval"),
    pytest.param(request("allow_egress", cidr="203.0.113.0/24"), "approval", SEC_PLAT, 1, True, "outbound", id="allow-egress-approval"),
    pytest.param(request("stop_instance", instance_id="i-0abc1234"), "approval", SEC_PLAT, 1, True, "out of service", id="stop-approval"),
    pytest.param(request("terminate_instance", instance_id="i-0abc1234"), "approval", SEC_PLAT, 2, False, "two people", id="terminate-two-approvers"),
    pytest.param(guardduty("terminate_instance", 9), "approval", SEC_PLAT, 2, False, "two people", id="terminate-gd9-still-two-approvers"),
    # gates that come before the rules
    pytest.param(request("snapshot_instance").model_copy(update={"paused": True}), "reject", [], 0, True, "automation is paused", id="paused-reject"),
    pytest.param(guardduty("isolate_instance", 9).model_copy(update={"paused": True}), "reject", [], 0, True, "automation is paused", id="paused-beats-auto"),
    pytest.param(request("restart_service").model_copy(update={"rate_used": 5}), "reject", [], 0, True, "5 times per hour", id="rate-limit-reached-reject"),
    pytest.param(request("restart_service").model_copy(update={"rate_used": 4}), "auto", [], 0, True, "routine", id="rate-limit-below-auto"),
    pytest.param(request("terminate_instance").model_copy(update={"rate_used": 2}), "reject", [], 0, True, "2 times per hour", id="terminate-rate-limit-reject"),
    pytest.param(request("isolate_instance").model_copy(update={"errors": ["instance_id 'x' is not an EC2 instance id"]}), "reject", [], 0, True, "instance_id 'x'", id="errors-reject"),
    pytest.param(request("reboot_everything"), "reject", [], 0, True, "no policy rule for action reboot_everything (default deny)", id="unknown-action-reject"),
    pytest.param(request("status"), "reject", [], 0, True, "default deny", id="control-intent-not-an-action-reject"),
    # alert gating
    pytest.param(alert("restart_service", 2), "log_only", [], 0, True, "below 4", id="alert-sev2-log-only"),
    pytest.param(guardduty("terminate_instance", 3), "log_only", [], 0, True, "below 4", id="alert-sev3-log-only-even-terminate"),
    pytest.param(alert("snapshot_instance", 5), "approval", SEC_PLAT, 1, True, "below 7", id="alert-sev5-snapshot-approval"),
    pytest.param(alert("restart_service", 4), "approval", SEC_PLAT, 1, True, "automatic actions need approval", id="alert-sev4-restart-approval"),
    pytest.param(guardduty("isolate_instance", 5), "approval", SEC, 1, True, "isolate_instance rule 'otherwise'", id="alert-sev5-isolate-security"),
    pytest.param(alert("restart_service", 7), "auto", [], 0, True, "routine", id="alert-sev7-restart-auto"),
    pytest.param(alert("snapshot_instance", None), "approval", SEC_PLAT, 1, True, "severity is unknown", id="alert-unknown-severity-approval"),
    pytest.param(alert("restart_service", 7, resolved=True), "log_only", [], 0, True, "resolved", id="alarm-resolved-log-only"),
    pytest.param(alert("isolate_instance", 9, alert_kind="securityhub", resolved=True), "log_only", [], 0, True, "check passed", id="securityhub-passed-log-only"),
]  # fmt: skip


@pytest.mark.parametrize(("facts", "decision", "approvers", "count", "allow_requester", "phrase"), ROWS)
def test_shipped_policy_decides(
    policy: Policy,
    facts: DecisionFacts,
    decision: str,
    approvers: list[str],
    count: int,
    allow_requester: bool,
    phrase: str,
) -> None:
    result = decide(policy, facts)
    assert (result.decision, result.approvers, result.count, result.allow_requester) == (
        decision,
        approvers,
        count,
        allow_requester,
    )
    assert any(phrase in reason for reason in result.reasons), result.reasons


def test_real_guardduty_findings_drive_the_decision(policy: Policy) -> None:
    """Severity and the sample flag as GuardDuty puts them in its EventBridge events."""

    def facts_from(name: str, action: str, **params: Any) -> DecisionFacts:
        detail = load_fixture(f"aws/{name}")["detail"]
        return guardduty(
            action, detail["severity"], sample=detail["service"]["additionalInfo"].get("sample", False), **params
        )

    crypto = load_fixture("aws/guardduty_crypto_bitcoin_dns.json")["detail"]
    instance_id = crypto["resource"]["instanceDetails"]["instanceId"]
    assert decide(policy, facts_from("guardduty_crypto_bitcoin_dns.json", "isolate_instance", instance_id=instance_id)).decision == "auto"
    recon = facts_from("guardduty_iam_recon_malicious_ip_caller_custom_sample.json", "block_ip", ip="198.51.100.0")
    assert (decide(policy, recon).decision, decide(policy, recon).approvers) == ("approval", ["security"])
    brute = facts_from("guardduty_ssh_bruteforce_sample.json", "block_ip", ip="198.51.100.0")
    assert decide(policy, brute).decision == "log_only"  # fmt: skip


# ---------------------------------------------------------------------------------------------------------
# Plans

AUTO = request("snapshot_instance")
APPROVE_SEC = request("isolate_instance")
APPROVE_PLAT = scale(4, 9, 10, 20.0)
TERMINATE = request("terminate_instance")
REJECT = request("block_ip", cidr="10.0.0.0/8")
LOG_ONLY = alert("restart_service", 2)

PLANS: list[Any] = [
    pytest.param([AUTO, AUTO], "auto", [], 0, True, id="all-auto"),
    pytest.param([AUTO, LOG_ONLY], "log_only", [], 0, True, id="log-only-beats-auto"),
    pytest.param([AUTO, APPROVE_SEC], "approval", ["security"], 1, True, id="approval-beats-auto"),
    pytest.param([APPROVE_PLAT, LOG_ONLY, APPROVE_SEC], "approval", ["platform", "security"], 1, True, id="union-keeps-step-order"),
    pytest.param([APPROVE_SEC, TERMINATE], "approval", ["security", "platform"], 2, False, id="max-count-all-allow-requester"),
    pytest.param([APPROVE_SEC, REJECT, AUTO], "reject", [], 0, True, id="any-reject-rejects"),
    pytest.param([], "none", [], 0, True, id="empty-plan-none"),
    pytest.param([AUTO] * 7, "reject", [], 0, True, id="more-steps-than-blast-radius"),
]  # fmt: skip


@pytest.mark.parametrize(("steps", "decision", "approvers", "count", "allow_requester"), PLANS)
def test_plan_takes_the_most_restrictive_step(
    policy: Policy,
    steps: list[DecisionFacts],
    decision: str,
    approvers: list[str],
    count: int,
    allow_requester: bool,
) -> None:
    result = decide_plan(policy, steps)
    assert (result.decision, result.approvers, result.count, result.allow_requester) == (
        decision,
        approvers,
        count,
        allow_requester,
    )
    assert result.reasons


def test_plan_reasons_name_the_deciding_step(policy: Policy) -> None:
    result = decide_plan(policy, [AUTO, REJECT])
    assert result.reasons == [
        "step 2 (block_ip): block_ip rule 'non-public-range': the address is private, loopback, link-local, "
        "multicast, reserved or carrier-grade NAT; blocking it would cut off our own traffic"
    ]


# ---------------------------------------------------------------------------------------------------------
# Shipped settings, membership and prices


def test_shipped_settings(policy: Policy) -> None:
    assert policy.approval_ttl_seconds == 3600
    assert (policy.blast_radius.max_steps_per_plan, policy.blast_radius.max_instances_per_plan) == (6, 5)
    assert policy.blast_radius.max_block_prefix == 16
    assert policy.control.pause == policy.control.resume == ["security", "platform", "oncall"]
    assert set(policy.groups) == {"security", "platform", "network", "oncall"}
    limits = {a: rate_limit(policy, a) for a in ("restart_service", "isolate_instance", "scale_asg", "terminate_instance", "block_ip")}
    assert limits == {"restart_service": 5, "isolate_instance": 10, "scale_asg": 10, "terminate_instance": 2, "block_ip": 20}  # fmt: skip
    assert rate_limit(policy, "reboot_everything") is None
    assert all(rate_limit(policy, action) is not None for action in policy.actions)


def test_every_registered_action_has_a_rule_and_every_rule_names_a_real_action(policy: Policy) -> None:
    from tools.registry import REGISTRY

    assert set(REGISTRY) - set(policy.actions) == set(), "registered actions without a policy rule"
    assert set(policy.actions) - set(REGISTRY) == set(), "policy rules for actions nobody registered"


ONCALL_HANDLE_MEMBERS = {"@oncall": ["U0PAGED0001"], "S0ONCALL001": ["U0PAGED0002"], "@security-oncall": ["U0SECPAGED1"]}


def expand(usergroup: str) -> list[str]:
    return ONCALL_HANDLE_MEMBERS.get(usergroup, [])


@pytest.mark.parametrize(
    ("user", "expander", "groups", "may_pause"),
    [
        pytest.param("U0SECURITY1", None, {"security"}, True, id="listed-by-id"),
        pytest.param("U0PAGED0001", expand, {"oncall"}, True, id="through-a-handle"),
        pytest.param("U0PAGED0002", expand, {"oncall"}, True, id="through-a-usergroup-id"),
        pytest.param("U0SECPAGED1", expand, {"security"}, True, id="through-a-security-handle"),
        pytest.param("U0PAGED0001", None, set(), False, id="handles-need-expanding"),
        pytest.param("U0NETWORK01", None, {"network"}, False, id="network-may-not-pause"),
        pytest.param("U0STRANGER1", expand, set(), False, id="stranger"),
        pytest.param("", expand, set(), False, id="no-user"),
    ],
)
def test_membership_and_control(policy: Policy, user: str, expander: Any, groups: set[str], may_pause: bool) -> None:
    assert approver_groups_of(policy, user, expander) == groups
    assert can_control(policy, user, "pause", expander) is may_pause
    assert can_control(policy, user, "resume", expander) is may_pause


def test_can_approve_respects_groups_and_requester(policy: Policy) -> None:
    terminate = decide(policy, request("terminate_instance"))
    assert can_approve(policy, terminate, "U0PLATFORM1", requester="U0REQUESTER")
    assert not can_approve(policy, terminate, "U0PLATFORM1", requester="U0PLATFORM1")
    assert not can_approve(policy, terminate, "U0NETWORK01", requester="U0REQUESTER")
    isolate = decide(policy, request("isolate_instance"))
    assert can_approve(policy, isolate, "U0SECURITY2", requester="U0SECURITY2")
    assert not can_approve(policy, isolate, "U0PLATFORM1", requester="U0REQUESTER")
    assert not can_approve(policy, PolicyDecision(decision="auto"), "U0SECURITY1", requester="U0REQUESTER")


@pytest.mark.parametrize(
    ("instance_type", "delta", "expected"),
    [
        pytest.param("t3.micro", 4, 30.37, id="t3.micro-x4"),
        pytest.param("m5.large", 1, 70.08, id="m5.large-x1"),
        pytest.param("c5.xlarge", -2, -248.2, id="c5.xlarge-minus-2"),
        pytest.param("r5.4xlarge", 0, 0.0, id="no-change"),
        pytest.param("x9.mega", 1, None, id="unknown-type"),
    ],
)
def test_monthly_cost_delta(instance_type: str, delta: int, expected: float | None) -> None:
    assert monthly_cost_delta(load_prices(), instance_type, delta) == expected


def test_price_table_covers_common_types_and_says_where_it_came_from() -> None:
    prices = load_prices()
    for family in ("t2", "t3", "t3a"):
        for size in ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"):
            assert f"{family}.{size}" in prices.hourly
    for family in ("m5", "m6i", "c5", "c6i", "r5"):
        for size in ("large", "xlarge", "2xlarge", "4xlarge"):
            assert f"{family}.{size}" in prices.hourly
    assert "Pricing API" in prices.source and prices.as_of and prices.region == "us-east-1"


# ---------------------------------------------------------------------------------------------------------
# The loader fails fast, naming the file and the key


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    return data


def broken_unknown_top_key(d: dict[str, Any]) -> None:
    d["aproval_ttl"] = 60


def broken_unknown_condition(d: dict[str, Any]) -> None:
    d["actions"]["block_ip"]["rules"][1]["when"] = {"cidr_wider_then": 16}


def broken_undefined_group(d: dict[str, Any]) -> None:
    d["actions"]["stop_instance"]["otherwise"]["groups"] = ["security", "sre"]


def broken_undefined_control_group(d: dict[str, Any]) -> None:
    d["control"]["pause"] = ["admins"]


def broken_decide_value(d: dict[str, Any]) -> None:
    d["actions"]["tag_resource"]["otherwise"]["decide"] = "maybe"


def broken_count_zero(d: dict[str, Any]) -> None:
    d["actions"]["terminate_instance"]["otherwise"]["count"] = 0


def broken_condition_type(d: dict[str, Any]) -> None:
    d["actions"]["isolate_instance"]["rules"][0]["when"]["finding_severity_at_least"] = "high"


def broken_sample_type(d: dict[str, Any]) -> None:
    d["actions"]["isolate_instance"]["rules"][0]["when"]["sample"] = "no"


def broken_approval_without_groups(d: dict[str, Any]) -> None:
    del d["actions"]["unblock_ip"]["otherwise"]["groups"]


def broken_empty_when(d: dict[str, Any]) -> None:
    d["actions"]["scale_asg"]["rules"][0]["when"] = {}


def broken_rate_limit_for_unknown_action(d: dict[str, Any]) -> None:
    d["rate_limits"]["reboot_everything"] = 1


def broken_unreachable_count(d: dict[str, Any]) -> None:
    d["groups"]["security"] = ["U0SECURITY1"]
    d["actions"]["terminate_instance"]["otherwise"]["groups"] = ["security"]


def broken_member(d: dict[str, Any]) -> None:
    d["groups"]["network"] = ["alice@example.com"]


def broken_missing_otherwise(d: dict[str, Any]) -> None:
    del d["actions"]["restart_service"]["otherwise"]


@pytest.mark.parametrize(
    ("breakage", "phrases"),
    [
        pytest.param(broken_unknown_top_key, ["aproval_ttl", "unknown key"], id="unknown-top-level-key"),
        pytest.param(broken_unknown_condition, ["actions.block_ip.rules.1.when.cidr_wider_then", "unknown key"], id="unknown-condition"),
        pytest.param(broken_undefined_group, ["actions.stop_instance.otherwise.groups", "'sre' is not defined"], id="undefined-group"),
        pytest.param(broken_undefined_control_group, ["control.pause", "'admins' is not defined"], id="undefined-control-group"),
        pytest.param(broken_decide_value, ["actions.tag_resource.otherwise.decide", "'approval'"], id="invalid-decide"),
        pytest.param(broken_count_zero, ["actions.terminate_instance.otherwise.count", "greater than or equal to 1"], id="count-zero"),
        pytest.param(broken_condition_type, ["finding_severity_at_least", "valid number"], id="condition-not-a-number"),
        pytest.param(broken_sample_type, ["when.sample", "valid boolean"], id="condition-not-a-boolean"),
        pytest.param(broken_approval_without_groups, ["actions.unblock_ip.otherwise", "at least one group"], id="approval-without-groups"),
        pytest.param(broken_empty_when, ["actions.scale_asg.rules.0.when", "names no condition"], id="empty-when"),
        pytest.param(broken_rate_limit_for_unknown_action, ["rate_limits.reboot_everything"], id="rate-limit-unknown-action"),
        pytest.param(broken_unreachable_count, ["terminate_instance.otherwise.count", "only 1 people"], id="count-unreachable"),
        pytest.param(broken_member, ["groups.network", "alice@example.com"], id="member-not-a-slack-id"),
        pytest.param(broken_missing_otherwise, ["actions.restart_service.otherwise", "required key is missing"], id="missing-otherwise"),
    ],
)  # fmt: skip
def test_loader_rejects_a_broken_policy(tmp_path: Path, breakage: Any, phrases: list[str]) -> None:
    data = shipped()
    breakage(data)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    for phrase in phrases:
        assert phrase in message


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        pytest.param("- security\n- platform\n", "top level must be a YAML mapping of keys to values, not a list", id="list"),
        pytest.param("just a string\n", "not a string", id="scalar"),
        pytest.param("", "the file is empty", id="empty"),
        pytest.param("groups: [unclosed\n", "not valid YAML", id="bad-yaml"),
        pytest.param("version: 1\nversion: 1\n", "key 'version' appears more than once", id="duplicate-key"),
    ],
)  # fmt: skip
def test_loader_rejects_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match="policy.yaml: ") as caught:
        load_policy(path)
    assert phrase in str(caught.value)


def test_loader_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the file"):
        load_policy(tmp_path / "nope.yaml")


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


def test_shipped_policy_round_trips_through_a_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    path.write_text(yaml.safe_dump(shipped()))
    assert load_policy(path) == load_policy()


def test_price_loader_rejects_a_bad_price(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text("source: x\nas_of: '2024-11-01'\nregion: us-east-1\ncurrency: USD\nhourly: {t3.micro: -1}\n")
    with pytest.raises(PolicyError, match=r"prices.yaml: hourly.t3.micro: .*greater than 0"):
        load_prices(path)
