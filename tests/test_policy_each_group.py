"""The "one approver from each of these groups" rule: the policy syntax, the matching of voters to groups,
the decision, the vote counting in the pipeline (delete_segment through the real graph) and the Slack text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from network_support import (
    CORE_NETWORK_ID,
    LIVE_DOCUMENT,
    document_without,
    expect_live_base,
    expect_put_and_execute,
    network_pipeline,
    policy_response,
    start_with_intent,
    stubbed_networkmanager,
)
from pipeline_support import ONCALL, STRANGER, executions

from bot.approval_blocks import approval_blocks, decided_blocks
from graph.models import Intent
from graph.nodes.approve import judge_answer
from policies.decision import DecisionFacts, assign_to_groups
from policies.engine import DEFAULT_POLICY_PATH, PolicyError, decide, decide_plan, load_policy
from runtime.pipeline import Pipeline
from tools.base import AwsClients

NETWORK_1 = "U0NETWORK01"
NETWORK_2 = "U0NETWORK02"  # in @network-team
BOTH = "U0NETSEC001"  # in @network-team and @security-oncall: counts for one of them only
SECURITY_1 = "U0SECURITY1"
SECURITY_2 = "U0SECURITY2"
COMPLIANCE = "U0COMPLY001"
GROUPS = ["network", "security", "compliance"]
SLACK_USER_GROUPS = {"@network-team": [NETWORK_2, BOTH], "@security-oncall": [BOTH]}


def expand(handle: str) -> list[str]:
    """Slack user groups as the bot expands them."""
    return SLACK_USER_GROUPS.get(handle, [])


# --- the policy file -----------------------------------------------------------------------------------


def shipped() -> dict[str, Any]:
    return dict(yaml.safe_load(DEFAULT_POLICY_PATH.read_text()))


def load_changed(tmp_path: Path, change: dict[str, Any], groups: dict[str, Any] | None = None) -> None:
    data = shipped()
    data["actions"]["delete_segment"]["otherwise"] = change
    data["groups"].update(groups or {})
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    load_policy(path)


def test_the_shipped_rule_for_delete_segment() -> None:
    outcome = load_policy().actions["delete_segment"].otherwise
    assert (outcome.each_group, outcome.groups, outcome.allow_requester) == (True, GROUPS, False)
    assert outcome.approvers_needed == 3


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (
            {"decide": "approval", "groups": GROUPS, "each_group": True, "count": 2, "reason": "r"},
            "actions.delete_segment.otherwise: 'count' must not be given with 'each_group: true'",
        ),
        (
            {"decide": "auto", "each_group": True, "reason": "r"},
            "actions.delete_segment.otherwise: 'groups', 'count', 'each_group' and 'allow_requester' "
            "only apply to approval, not auto",
        ),
        (
            {"decide": "approval", "groups": ["network", "network"], "each_group": True, "reason": "r"},
            "'each_group: true' needs each group in 'groups' listed once",
        ),
        (
            {"decide": "approval", "groups": GROUPS, "each_group": "yes", "reason": "r"},
            "actions.delete_segment.otherwise.each_group: Input should be a valid boolean",
        ),
    ],
)
def test_invalid_each_group_rules_are_refused_naming_the_key(
    tmp_path: Path, change: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(PolicyError) as error:
        load_changed(tmp_path, change)
    assert complaint in str(error.value)


def test_groups_of_people_that_cannot_each_give_someone_are_refused(tmp_path: Path) -> None:
    rule = {"decide": "approval", "groups": ["dbas", "auditors"], "each_group": True, "reason": "r"}
    with pytest.raises(PolicyError) as error:
        load_changed(tmp_path, rule, {"dbas": ["U0ALICE001"], "auditors": ["U0ALICE001"]})
    assert (
        "actions.delete_segment.otherwise.each_group: groups dbas, auditors cannot each give a different"
        in str(error.value)
    )
    assert "auditors is left without an approver" in str(error.value)
    # one more person makes it possible; a Slack user group could hold anyone, so it is never refused
    load_changed(tmp_path, rule, {"dbas": ["U0ALICE001"], "auditors": ["U0ALICE001", "U0BOB00001"]})
    load_changed(tmp_path, rule, {"dbas": ["U0ALICE001"], "auditors": ["@auditors"]})


# --- matching voters to groups -------------------------------------------------------------------------


def test_matching_moves_a_two_group_person_to_the_group_only_they_can_cover() -> None:
    people = {"A": {"network", "security"}, "B": {"network"}, "C": {"compliance"}}
    assert assign_to_groups(GROUPS, people) == {"network": "B", "security": "A", "compliance": "C"}


def test_one_person_covers_one_group_and_outsiders_cover_none() -> None:
    assert len(assign_to_groups(GROUPS, {"A": set(GROUPS)})) == 1
    assert assign_to_groups(GROUPS, {"A": {"network"}, "B": {"network"}}) == {"network": "A"}
    assert assign_to_groups(GROUPS, {"X": set()}) == {}


# --- the decision --------------------------------------------------------------------------------------


def test_a_plan_with_an_each_group_step_needs_one_from_every_group_it_names() -> None:
    policy = load_policy()
    params = {"core_network_id": CORE_NETWORK_ID, "segment": "legacy"}
    create = DecisionFacts(action="create_segment", params=params)
    delete = DecisionFacts(action="delete_segment", params=params)
    merged = decide_plan(policy, [create, delete])
    assert (merged.decision, merged.approvers, merged.count, merged.each_group) == (
        "approval",
        GROUPS,
        3,
        True,
    )
    assert merged.allow_requester is False
    alone = decide(policy, create)
    assert (alone.each_group, alone.count) == (False, 1)


def test_the_approve_node_checks_the_answer_covers_every_group_with_different_people() -> None:
    pending = {
        "groups": GROUPS,
        "count": 3,
        "each_group": True,
        "allow_requester": False,
        "requester": ONCALL,
        "expires_at": 2e9,
        "run_id": "r1",
    }
    voters = [NETWORK_2, BOTH, COMPLIANCE]
    good = {"network": NETWORK_2, "security": BOTH, "compliance": COMPLIANCE}
    answer = {"status": "approved", "approvers": voters, "run_id": "r1"}
    assert judge_answer(pending, {**answer, "by_group": good}, 1e9)["status"] == "approved"
    assert "does not say" in judge_answer(pending, answer, 1e9)["reason"]
    twice = {**good, "security": NETWORK_2}
    assert (
        "one person counts for one group only"
        in judge_answer(pending, {**answer, "by_group": twice}, 1e9)["reason"]
    )
    short = {"network": NETWORK_2, "security": BOTH}
    assert "still missing: compliance" in judge_answer(pending, {**answer, "by_group": short}, 1e9)["reason"]


# --- votes through the pipeline ------------------------------------------------------------------------


@pytest.fixture
def pipeline(tmp_path: Path, aws_endpoint: str, clients: AwsClients) -> Pipeline:
    return network_pipeline(tmp_path, aws_endpoint, clients)


def ask_to_delete(pipeline: Pipeline, thread_id: str, requester: str) -> dict[str, Any]:
    intent = Intent(
        action="delete_segment",
        params={"core_network_id": CORE_NETWORK_ID, "segment": "legacy"},
        text=f"delete segment legacy in {CORE_NETWORK_ID}",
        requester=requester,
        named_resources=[CORE_NETWORK_ID, "legacy"],
    )
    run = start_with_intent(pipeline, thread_id, intent)
    assert run.pending is not None
    return run.pending


def expect_deletion(pipeline: Pipeline) -> Any:
    stubber = stubbed_networkmanager(pipeline.ctx.clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    expect_put_and_execute(stubber, 7, document_without("legacy"))
    stubber.add_response(
        "get_core_network_policy",
        policy_response(8, document_without("legacy"), "EXECUTION_SUCCEEDED"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LIVE"},
    )
    return stubber


def vote(pipeline: Pipeline, thread_id: str, user: str) -> Any:
    return pipeline.vote(thread_id, user, approve=True, expand_usergroup=expand)


def test_two_from_one_group_do_not_suffice_and_three_right_people_complete_it(pipeline: Pipeline) -> None:
    pending = ask_to_delete(pipeline, "t-del", SECURITY_2)
    assert (pending["groups"], pending["count"], pending["each_group"]) == (GROUPS, 3, True)

    selfish = vote(pipeline, "t-del", SECURITY_2)
    assert (selfish.accepted, selfish.message) == (
        False,
        "not authorised: the requester may not approve this action",
    )
    outsider = vote(pipeline, "t-del", STRANGER)
    assert not outsider.accepted
    assert "not authorised" in outsider.message

    first = vote(pipeline, "t-del", NETWORK_1)
    second = vote(pipeline, "t-del", NETWORK_2)
    assert (first.accepted, first.run, second.accepted, second.run) == (True, None, True, None)
    assert second.message == (
        "approval 1 of 3 recorded; still needed: one approver from each of security and compliance"
    )
    assert second.missing_groups == ["security", "compliance"]
    third = vote(pipeline, "t-del", SECURITY_1)
    assert third.message == "approval 2 of 3 recorded; still needed: one approver from compliance"
    assert executions(pipeline, "t-del") == []

    stubber = expect_deletion(pipeline)
    with stubber:
        done = vote(pipeline, "t-del", COMPLIANCE)
        stubber.assert_no_pending_responses()  # the policy version without "legacy" was put and executed
    assert done.run is not None
    assert done.run.state["outcome"] == "executed"
    assert done.run.state["approval"]["by_group"] == {
        "network": NETWORK_1,
        "security": SECURITY_1,
        "compliance": COMPLIANCE,
    }
    (execution,) = executions(pipeline, "t-del")
    assert execution["record"]["removed_segment"]["name"] == "legacy"


def test_one_person_in_two_groups_counts_for_one_of_them(pipeline: Pipeline) -> None:
    ask_to_delete(pipeline, "t-both", ONCALL)
    assert vote(pipeline, "t-both", BOTH).missing_groups == ["security", "compliance"]
    second = vote(pipeline, "t-both", COMPLIANCE)
    assert second.run is None
    assert second.message == "approval 2 of 3 recorded; still needed: one approver from security"
    assert executions(pipeline, "t-both") == []

    stubber = expect_deletion(pipeline)
    with stubber:
        done = vote(pipeline, "t-both", NETWORK_2)  # network now, so the two-group person covers security
    assert done.run is not None
    assert done.run.state["outcome"] == "executed"
    assert done.run.state["approval"]["by_group"] == {
        "network": NETWORK_2,
        "security": BOTH,
        "compliance": COMPLIANCE,
    }


def test_a_reject_from_any_group_member_ends_it(pipeline: Pipeline) -> None:
    ask_to_delete(pipeline, "t-no", ONCALL)
    vote(pipeline, "t-no", NETWORK_1)
    rejected = pipeline.vote("t-no", COMPLIANCE, approve=False, expand_usergroup=expand)
    assert rejected.run is not None
    assert rejected.run.state["approval"]["status"] == "rejected"
    assert executions(pipeline, "t-no") == []


# --- what Slack shows ----------------------------------------------------------------------------------


def test_the_slack_message_names_the_groups_still_missing(pipeline: Pipeline) -> None:
    pending = ask_to_delete(pipeline, "t-slack", ONCALL)
    request = json.dumps(approval_blocks(pending), ensure_ascii=False)
    assert "needs one approver from each of *network*, *security*, *compliance*" in request
    assert "Still needed: one approver from each of *network*, *security* and *compliance*" in request
    result = vote(pipeline, "t-slack", BOTH)
    partial = json.dumps(
        decided_blocks(pending, "partial", result.approvers, missing=result.missing_groups),
        ensure_ascii=False,
    )
    line = "Approval 1 of 3 recorded (<@U0NETSEC001>) — still needed: one approver from each of *security*"
    assert f"{line} and *compliance*" in partial
    assert "opsbot_approve" in partial  # the buttons stay while groups are missing
