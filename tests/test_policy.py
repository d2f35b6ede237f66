"""The shipped decision matrix, row by row, and the loader's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

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

INSTANCE = "i-0abc1234def567890"


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


def scale(current: int, desired: int, asg_max: int | None, cost: float | None) -> DecisionFacts:
    return DecisionFacts(
        action="scale_asg",
        params={"asg_name": "web", "desired_capacity": desired},
        requester="U0REQUESTER",
        asg_current=current,
        asg_max=asg_max,
        monthly_cost_delta=cost,
    )


class Expect(NamedTuple):
    decision: str
    approvers: list[str]
    count: int
    allow_requester: bool


AUTO = Expect("auto", [], 0, True)
REJECTED = Expect("reject", [], 0, True)
LOGGED = Expect("log_only", [], 0, True)
NO_STEPS = Expect("none", [], 0, True)
SECURITY = Expect("approval", ["security"], 1, True)
PLATFORM = Expect("approval", ["platform"], 1, True)
SEC_OR_PLAT = Expect("approval", ["security", "platform"], 1, True)
TWO_NOT_REQUESTER = Expect("approval", ["security", "platform"], 2, False)


def row(name: str, facts: DecisionFacts, expected: Expect, phrase: str) -> Any:
    """One rule of the shipped matrix: what it decides, and a phrase its reasons must contain."""
    return pytest.param(facts, expected, phrase, id=name)


def paused(facts: DecisionFacts) -> DecisionFacts:
    return facts.model_copy(update={"paused": True})


def invalid(facts: DecisionFacts, error: str) -> DecisionFacts:
    return facts.model_copy(update={"errors": [error]})


def used(facts: DecisionFacts, rate_used: int) -> DecisionFacts:
    return facts.model_copy(update={"rate_used": rate_used})


ROWS: list[Any] = [
    # always automatic
    row("snapshot-auto", request("snapshot_instance", instance_id=INSTANCE), AUTO, "snapshot_instance rule"),
    row("tag-auto", request("tag_resource", resource_id="i-0abc1234"), AUTO, "tag_resource rule 'otherwise'"),
    row("restart-auto", request("restart_service", instance_id=INSTANCE), AUTO, "routine"),
    # isolate_instance: auto on a real high-severity GuardDuty finding, else security approves
    row("isolate-gd8-auto", guardduty("isolate_instance", 8), AUTO, "confirmed-guardduty-finding"),
    row("isolate-gd7-boundary-auto", guardduty("isolate_instance", 7), AUTO, "confirmed-guardduty-finding"),
    row("isolate-gd8-sample", guardduty("isolate_instance", 8, sample=True), SECURITY, "rule 'otherwise'"),
    row("isolate-request", request("isolate_instance", instance_id=INSTANCE), SECURITY, "security approves"),
    row("isolate-gd6.9", guardduty("isolate_instance", 6.9), SECURITY, "rule 'otherwise'"),
    # block_ip: never non-public ranges, never wider than /16
    row("block-rfc1918", request("block_ip", cidr="10.1.2.3/32"), REJECTED, "non-public-range"),
    row("block-rfc1918-172-gd", guardduty("block_ip", 8, cidr="172.20.0.0/16"), REJECTED, "non-public-range"),
    row("block-rfc1918-192-gd", guardduty("block_ip", 9, ip="192.168.1.10"), REJECTED, "non-public-range"),
    row("block-cgnat-gd", guardduty("block_ip", 8, cidr="100.64.1.1/32"), REJECTED, "carrier-grade"),
    row("block-loopback", request("block_ip", cidr="127.0.0.1/32"), REJECTED, "loopback"),
    row("block-link-local", request("block_ip", cidr="169.254.169.254/32"), REJECTED, "link-local"),
    row("block-multicast", request("block_ip", cidr="224.0.0.251/32"), REJECTED, "multicast"),
    row("block-reserved", request("block_ip", cidr="240.0.0.1/32"), REJECTED, "reserved"),
    row("block-this-network", request("block_ip", cidr="0.1.2.3/32"), REJECTED, "non-public-range"),
    row("block-ipv6-ula", request("block_ip", cidr="fd00::1/128"), REJECTED, "non-public-range"),
    row("block-ipv4-mapped", request("block_ip", cidr="::ffff:10.0.0.1/128"), REJECTED, "non-public-range"),
    row("block-slash15", request("block_ip", cidr="203.0.113.0/15"), REJECTED, "too-wide"),
    row("block-slash8-gd", guardduty("block_ip", 8, cidr="8.0.0.0/8"), REJECTED, "wider than a /16"),
    row("block-slash16-gd", guardduty("block_ip", 8, cidr="198.51.0.0/16"), AUTO, "names this address"),
    row("block-public-gd8", guardduty("block_ip", 8, cidr="203.0.113.45/32"), AUTO, "names this address"),
    row("block-ipv6-gd8", guardduty("block_ip", 8, cidr="2001:db8::1/128"), AUTO, "names this address"),
    row("block-gd8-sample", guardduty("block_ip", 8, sample=True, ip="203.0.113.45"), SECURITY, "otherwise"),
    row("block-request", request("block_ip", cidr="203.0.113.45/32"), SECURITY, "block_ip rule 'otherwise'"),
    row("block-unreadable", request("block_ip", cidr="not-an-address"), REJECTED, "not an IP address"),
    row("block-no-address", request("block_ip"), REJECTED, "names no IP address"),
    # scale_asg: auto within max, at most x2, at most $100/month; else platform approves
    row("scale-4-to-8", scale(4, 8, 10, 20.0), AUTO, "small-bounded-scale"),
    row("scale-down", scale(4, 2, 10, -40.0), AUTO, "small-bounded-scale"),
    row("scale-cost-100-boundary", scale(4, 8, 10, 100.0), AUTO, "small-bounded-scale"),
    row("scale-4-to-9", scale(4, 9, 10, 20.0), PLATFORM, "scale_asg rule 'otherwise'"),
    row("scale-beyond-max", scale(4, 8, 6, 20.0), PLATFORM, "scale_asg rule 'otherwise'"),
    row("scale-cost-150", scale(4, 8, 10, 150.0), PLATFORM, "scale_asg rule 'otherwise'"),
    row("scale-cost-unknown", scale(4, 8, 10, None), PLATFORM, "cost-unknown"),
    row("scale-max-unknown", scale(4, 8, None, 20.0), PLATFORM, "otherwise"),
    # security or platform approves; terminate needs two, never the requester
    row("unblock", request("unblock_ip", cidr="203.0.113.45/32"), SEC_OR_PLAT, "reopens access"),
    row("allow-egress", request("allow_egress", cidr="203.0.113.0/24"), SEC_OR_PLAT, "outbound"),
    row("stop", request("stop_instance", instance_id=INSTANCE), SEC_OR_PLAT, "out of service"),
    row("terminate", request("terminate_instance", instance_id=INSTANCE), TWO_NOT_REQUESTER, "two people"),
    row("terminate-gd9", guardduty("terminate_instance", 9), TWO_NOT_REQUESTER, "two people"),
    # gates that come before the rules
    row("paused", paused(request("snapshot_instance")), REJECTED, "automation is paused"),
    row("paused-beats-auto", paused(guardduty("isolate_instance", 9)), REJECTED, "automation is paused"),
    row("rate-limit-reached", used(request("restart_service"), 5), REJECTED, "5 times per hour"),
    row("rate-limit-below", used(request("restart_service"), 4), AUTO, "routine"),
    row("terminate-rate-limit", used(request("terminate_instance"), 2), REJECTED, "2 times per hour"),
    row("errors", invalid(request("isolate_instance"), "bad id 'x'"), REJECTED, "bad id 'x'"),
    row("unknown-action", request("reboot_all"), REJECTED, "no policy rule for action reboot_all"),
    row("control-intent-is-no-action", request("status"), REJECTED, "default deny"),
    # alert gating
    row("alert-sev2", alert("restart_service", 2), LOGGED, "below 4"),
    row("alert-sev3-even-terminate", guardduty("terminate_instance", 3), LOGGED, "below 4"),
    row("alert-sev5-snapshot", alert("snapshot_instance", 5), SEC_OR_PLAT, "below 7"),
    row("alert-sev4-restart", alert("restart_service", 4), SEC_OR_PLAT, "need approval"),
    row("alert-sev5-isolate", guardduty("isolate_instance", 5), SECURITY, "rule 'otherwise'"),
    row("alert-sev7-restart", alert("restart_service", 7), AUTO, "routine"),
    row("alert-unknown-severity", alert("snapshot_instance", None), SEC_OR_PLAT, "severity is unknown"),
    row("alarm-resolved", alert("restart_service", 7, resolved=True), LOGGED, "resolved"),
    row("securityhub-passed", alert("isolate_instance", 9, resolved=True), LOGGED, "check passed"),
]


@pytest.mark.parametrize(("facts", "expected", "phrase"), ROWS)
def test_shipped_policy_decides(policy: Policy, facts: DecisionFacts, expected: Expect, phrase: str) -> None:
    result = decide(policy, facts)
    assert Expect(result.decision, result.approvers, result.count, result.allow_requester) == expected
    assert any(phrase in reason for reason in result.reasons), result.reasons


def test_real_guardduty_findings_drive_the_decision(policy: Policy) -> None:
    """Severity and the sample flag as GuardDuty puts them in its EventBridge events."""

    def facts_from(name: str, action: str, **params: Any) -> DecisionFacts:
        detail = load_fixture(f"aws/{name}")["detail"]
        sample = detail["service"]["additionalInfo"].get("sample", False)
        return guardduty(action, detail["severity"], sample=sample, **params)

    crypto = load_fixture("aws/guardduty_crypto_bitcoin_dns.json")["detail"]
    isolate = facts_from(
        "guardduty_crypto_bitcoin_dns.json", "isolate_instance", instance_id="i-00aa97663294ffbbd"
    )
    assert crypto["resource"]["instanceDetails"]["instanceId"] == "i-00aa97663294ffbbd"
    assert decide(policy, isolate).decision == "auto"
    recon = facts_from(
        "guardduty_iam_recon_malicious_ip_caller_custom_sample.json", "block_ip", ip="198.51.100.0"
    )
    assert (decide(policy, recon).decision, decide(policy, recon).approvers) == ("approval", ["security"])
    brute = facts_from("guardduty_ssh_bruteforce_sample.json", "block_ip", ip="198.51.100.0")
    assert decide(policy, brute).decision == "log_only"


# ---------------------------------------------------------------------------------------------------------
# Plans

STEP_AUTO = request("snapshot_instance")
STEP_SECURITY = request("isolate_instance")
STEP_PLATFORM = scale(4, 9, 10, 20.0)
STEP_TERMINATE = request("terminate_instance")
STEP_REJECT = request("block_ip", cidr="10.0.0.0/8")
STEP_LOG_ONLY = alert("restart_service", 2)

PLANS: list[Any] = [
    pytest.param([STEP_AUTO, STEP_AUTO], AUTO, id="all-auto"),
    pytest.param([STEP_AUTO, STEP_LOG_ONLY], LOGGED, id="log-only-beats-auto"),
    pytest.param([STEP_AUTO, STEP_SECURITY], SECURITY, id="approval-beats-auto"),
    pytest.param(
        [STEP_PLATFORM, STEP_LOG_ONLY, STEP_SECURITY],
        Expect("approval", ["platform", "security"], 1, True),
        id="union-in-step-order",
    ),
    pytest.param([STEP_SECURITY, STEP_TERMINATE], TWO_NOT_REQUESTER, id="max-count-all-allow-requester"),
    pytest.param([STEP_TERMINATE, STEP_SECURITY], TWO_NOT_REQUESTER, id="union-is-stable"),
    pytest.param([STEP_SECURITY, STEP_REJECT, STEP_AUTO], REJECTED, id="any-reject-rejects"),
    pytest.param([], NO_STEPS, id="empty-plan-none"),
    pytest.param([STEP_AUTO] * 7, REJECTED, id="more-steps-than-blast-radius"),
]


@pytest.mark.parametrize(("steps", "expected"), PLANS)
def test_plan_takes_the_most_restrictive_step(
    policy: Policy, steps: list[DecisionFacts], expected: Expect
) -> None:
    result = decide_plan(policy, steps)
    assert Expect(result.decision, result.approvers, result.count, result.allow_requester) == expected
    assert result.reasons


def test_plan_reasons_name_the_deciding_step(policy: Policy) -> None:
    result = decide_plan(policy, [STEP_AUTO, STEP_REJECT])
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
    assert set(policy.groups) == {
        "security",
        "platform",
        "network",
        "oncall",
        "compliance",
        "incident-commander",
    }
    expected_limits = {"restart_service": 5, "isolate_instance": 10, "scale_asg": 10, "terminate_instance": 2}
    expected_limits |= {"block_ip": 20}
    assert {action: rate_limit(policy, action) for action in expected_limits} == expected_limits
    assert rate_limit(policy, "reboot_everything") is None
    assert all(rate_limit(policy, action) is not None for action in policy.actions)


def test_every_registered_action_has_a_rule_and_every_rule_names_a_real_action(policy: Policy) -> None:
    from tools.registry import REGISTRY

    assert set(REGISTRY) - set(policy.actions) == set(), "registered actions without a policy rule"
    assert set(policy.actions) - set(REGISTRY) == set(), "policy rules for actions nobody registered"


ONCALL_HANDLE_MEMBERS = {
    "@oncall": ["U0PAGED0001"],
    "S0ONCALL001": ["U0PAGED0002"],
    "@security-oncall": ["U0SECPAGED1"],
}


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
def test_membership_and_control(
    policy: Policy, user: str, expander: Any, groups: set[str], may_pause: bool
) -> None:
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
    assert "Pricing API" in prices.source
    assert prices.as_of
    assert prices.region == "us-east-1"


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
        pytest.param(
            broken_unknown_condition,
            ["actions.block_ip.rules.1.when.cidr_wider_then", "unknown key"],
            id="unknown-condition",
        ),
        pytest.param(
            broken_undefined_group,
            ["actions.stop_instance.otherwise.groups", "'sre' is not defined"],
            id="undefined-group",
        ),
        pytest.param(
            broken_undefined_control_group,
            ["control.pause", "'admins' is not defined"],
            id="undefined-control-group",
        ),
        pytest.param(
            broken_decide_value, ["actions.tag_resource.otherwise.decide", "'approval'"], id="invalid-decide"
        ),
        pytest.param(
            broken_count_zero,
            ["actions.terminate_instance.otherwise.count", "greater than or equal to 1"],
            id="count-zero",
        ),
        pytest.param(
            broken_condition_type, ["finding_severity_at_least", "valid number"], id="condition-not-a-number"
        ),
        pytest.param(broken_sample_type, ["when.sample", "valid boolean"], id="condition-not-a-boolean"),
        pytest.param(
            broken_approval_without_groups,
            ["actions.unblock_ip.otherwise", "at least one group"],
            id="approval-without-groups",
        ),
        pytest.param(
            broken_empty_when, ["actions.scale_asg.rules.0.when", "names no condition"], id="empty-when"
        ),
        pytest.param(
            broken_rate_limit_for_unknown_action,
            ["rate_limits.reboot_everything"],
            id="rate-limit-unknown-action",
        ),
        pytest.param(
            broken_unreachable_count,
            ["terminate_instance.otherwise.count", "only 1 people"],
            id="count-unreachable",
        ),
        pytest.param(broken_member, ["groups.network", "alice@example.com"], id="member-not-a-slack-id"),
        pytest.param(
            broken_missing_otherwise,
            ["actions.restart_service.otherwise", "required key is missing"],
            id="missing-otherwise",
        ),
    ],
)
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
        pytest.param(
            "- security\n- platform\n",
            "top level must be a YAML mapping of keys to values, not a list",
            id="list",
        ),
        pytest.param("just a string\n", "not a string", id="scalar"),
        pytest.param("", "the file is empty", id="empty"),
        pytest.param("groups: [unclosed\n", "not valid YAML", id="bad-yaml"),
        pytest.param("version: 1\nversion: 1\n", "key 'version' appears more than once", id="duplicate-key"),
    ],
)
def test_loader_rejects_a_file_that_is_not_a_mapping(tmp_path: Path, text: str, phrase: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}: ")
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
    path.write_text(
        "source: x\nas_of: '2024-11-01'\nregion: us-east-1\ncurrency: USD\nhourly: {t3.micro: -1}\n"
    )
    with pytest.raises(PolicyError, match=r"prices\.yaml: hourly\.t3\.micro: .*greater than 0"):
        load_prices(path)


def test_a_group_handle_or_id_is_never_taken_for_a_person() -> None:
    """Found by the eval harness: '@security-oncall' used to match its own group as if it were a user."""
    policy = load_policy()
    assert approver_groups_of(policy, "@security-oncall") == set()
    assert approver_groups_of(policy, "S0ONCALL001", lambda _group: ["S0ONCALL001"]) == set()
    assert not can_control(policy, "@oncall", "pause")


def test_members_of_a_slack_user_group_count_only_through_the_expander() -> None:
    policy = load_policy()
    members = {"S0ONCALL001": ["U0ONCALL042"], "@oncall": []}
    assert approver_groups_of(policy, "U0ONCALL042") == set()
    assert approver_groups_of(policy, "U0ONCALL042", lambda group: members.get(group, [])) == {"oncall"}
    assert can_control(policy, "U0ONCALL042", "pause", lambda group: members.get(group, []))
