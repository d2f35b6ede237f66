"""create_segment / delete_segment against botocore's Network Manager model (moto lacks these APIs).

Each test queues the exact requests the action must make on a Stubber-wrapped real client: a request
that does not match the model or the expected parameters fails the test.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from network_support import (
    CORE_NETWORK_ID,
    LIVE_DOCUMENT,
    document_with,
    document_without,
    expect_live_base,
    expect_put_and_execute,
    network_pipeline,
    policy_response,
    start_with_intent,
    stubbed_networkmanager,
)
from pipeline_support import ONCALL, SECURITY, executions
from pydantic import ValidationError

from graph.models import Intent
from policies.decision import DecisionFacts
from policies.engine import decide, load_policy
from tools.base import AwsClients, ExecContext, ToolError
from tools.cloudwan import SegmentArgs, create_segment, delete_segment, segment_references

NETWORK = "U0NETWORK01"
CTX = ExecContext(incident_id="inc-42")


def args(segment: str) -> SegmentArgs:
    return SegmentArgs(core_network_id=CORE_NETWORK_ID, segment=segment)


def new_segment(name: str) -> dict[str, object]:
    return {"name": name, "description": "created by opsbot (inc-42)", "require-attachment-acceptance": True}


# --- arguments ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["1prod", "prod-east", "prod_east", "", "p" * 65, "pröd"])
def test_segment_names_follow_cloud_wan_rules(name: str) -> None:
    with pytest.raises(ValidationError, match="segment name"):
        args(name)


def test_a_valid_segment_and_core_network_id_and_the_home_region() -> None:
    parsed = args("Payments2")
    assert (parsed.segment, parsed.region) == ("Payments2", "us-west-2")
    assert args("p" * 64).segment == "p" * 64
    with pytest.raises(ValidationError, match="core network id"):
        SegmentArgs(core_network_id="core-network-XYZ", segment="prod")
    with pytest.raises(ValidationError, match="AWS region"):
        SegmentArgs(core_network_id=CORE_NETWORK_ID, segment="prod", region="mars")


# --- create_segment ----------------------------------------------------------------------------------


def test_create_puts_a_version_with_the_segment_and_executes_it(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    created = document_with(new_segment("payments"))
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    expect_put_and_execute(stubber, 7, created, token=f"opsbot-inc-42-create-{CORE_NETWORK_ID}-payments")
    with stubber:
        record = create_segment.run(clients, args("payments"), CTX)
        stubber.assert_no_pending_responses()
    assert record["changed"] is True
    assert (record["previous_version"], record["policy_version"]) == (7, 8)

    stubber = stubbed_networkmanager(clients)
    stubber.add_response(
        "get_core_network_policy",
        policy_response(8, created, "EXECUTION_SUCCEEDED"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LIVE"},
    )
    with stubber:
        check = create_segment.verify(clients, args("payments"), record)
    assert check.ok, check.detail


def test_verify_says_when_the_change_is_not_live_yet(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    stubber.add_response(
        "get_core_network_policy",
        policy_response(7, LIVE_DOCUMENT, "EXECUTION_SUCCEEDED"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LIVE"},
    )
    stubber.add_response(
        "get_core_network_policy",
        policy_response(8, document_with(new_segment("payments")), "EXECUTING", "LATEST"),
        {"CoreNetworkId": CORE_NETWORK_ID, "PolicyVersionId": 8},
    )
    with stubber:
        check = create_segment.verify(clients, args("payments"), {"changed": True, "policy_version": 8})
    assert not check.ok
    assert "EXECUTING" in check.detail


def test_rolling_back_a_create_deletes_the_segment_again(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    live = document_with(new_segment("payments"))
    expect_live_base(stubber, 8, live)
    expect_put_and_execute(stubber, 8, LIVE_DOCUMENT)
    record = {"changed": True, "previous_version": 7, "policy_version": 8}
    with stubber:
        undone = create_segment.rollback(clients, args("payments"), record, CTX)
        stubber.assert_no_pending_responses()
    assert undone["deleted"] is True
    assert undone["removed_segment"] == new_segment("payments")


def test_an_existing_segment_is_not_created_twice_nor_deleted_by_rollback(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    with stubber:
        record = create_segment.run(clients, args("prod"), CTX)
        undone = create_segment.rollback(clients, args("prod"), record, CTX)
        stubber.assert_no_pending_responses()
    assert record["changed"] is False
    assert undone["deleted"] is False


def test_dry_run_only_reads(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    with stubber:
        record = create_segment.run(
            clients, args("payments"), ExecContext(incident_id="inc-42", dry_run=True)
        )
        stubber.assert_no_pending_responses()
    assert record["dry_run"] is True
    assert record["would_create"] is True


def test_a_pending_version_from_someone_else_is_never_executed(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    stubber.add_response(
        "get_core_network_policy",
        policy_response(7, LIVE_DOCUMENT, "EXECUTION_SUCCEEDED"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LIVE"},
    )
    stubber.add_response(
        "get_core_network_policy",
        policy_response(9, document_without("legacy"), "READY_TO_EXECUTE", "LATEST"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LATEST"},
    )
    with stubber, pytest.raises(ToolError, match=r"version 9 .*not execute someone else's pending change"):
        create_segment.run(clients, args("payments"), CTX)


def test_a_policy_cloud_wan_cannot_build_is_reported_and_not_executed(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    created = document_with(new_segment("payments"))
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    failed = policy_response(8, created, "FAILED_GENERATION", "LATEST")
    stubber.add_response("put_core_network_policy", failed)
    failed_detail = copy.deepcopy(failed)
    failed_detail["CoreNetworkPolicy"]["PolicyErrors"] = [
        {"ErrorCode": "SEGMENT_LIMIT", "Message": "the core network has too many segments"}
    ]
    stubber.add_response("get_core_network_policy", failed_detail)
    with (
        stubber,
        pytest.raises(ToolError, match="could not build policy version 8: the core network has too"),
    ):
        create_segment.run(clients, args("payments"), CTX)
    stubber.assert_no_pending_responses()  # and no execute_core_network_change_set was queued or made


# --- delete_segment ----------------------------------------------------------------------------------


def test_delete_records_the_segment_and_rollback_puts_it_back_where_it_was(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    expect_put_and_execute(
        stubber, 7, document_without("legacy"), token=f"opsbot-inc-42-delete-{CORE_NETWORK_ID}-legacy"
    )
    with stubber:
        record = delete_segment.run(clients, args("legacy"), CTX)
        stubber.assert_no_pending_responses()
    assert record["changed"] is True
    assert record["removed_segment"] == LIVE_DOCUMENT["segments"][2]
    assert record["removed_index"] == 2

    stubber = stubbed_networkmanager(clients)
    stubber.add_response(
        "get_core_network_policy",
        policy_response(8, document_without("legacy"), "EXECUTION_SUCCEEDED"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LIVE"},
    )
    with stubber:
        assert delete_segment.verify(clients, args("legacy"), record).ok

    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 8, document_without("legacy"))
    expect_put_and_execute(stubber, 8, LIVE_DOCUMENT)  # the very same document as before, same order
    with stubber:
        undone = delete_segment.rollback(clients, args("legacy"), record, CTX)
        stubber.assert_no_pending_responses()
    assert undone["restored"] is True


@pytest.mark.parametrize(
    ("segment", "used_by"),
    [
        ("shared", "segment action 1 \\(share\\)"),
        ("prod", "attachment policy rule 100, the filters of segment sandbox"),
    ],
)
def test_a_segment_the_policy_still_uses_is_not_deleted(
    clients: AwsClients, segment: str, used_by: str
) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    with (
        stubber,
        pytest.raises(ToolError, match=f"Segment {segment} of {CORE_NETWORK_ID} is still used by {used_by}"),
    ):
        delete_segment.run(clients, args(segment), CTX)
    stubber.assert_no_pending_responses()  # only the two reads: nothing was put


def test_references_are_found_wherever_the_policy_names_a_segment() -> None:
    document = copy.deepcopy(LIVE_DOCUMENT)
    document["segment-actions"].append(
        {"action": "share", "segment": "shared", "share-with": {"except": ["legacy"]}}
    )
    document["segment-actions"].append(
        {
            "action": "send-via",
            "segment": "prod",
            "via": {"network-function-groups": ["inspection"]},
            "when-sent-to": {"segments": ["sandbox"]},
        }
    )
    assert segment_references(document, "legacy") == ["segment action 2 (share)"]
    assert segment_references(document, "sandbox") == ["segment action 3 (send-via)"]
    assert segment_references(document, "payments") == []


def test_a_missing_segment_is_not_deleted(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    with stubber:
        record = delete_segment.run(clients, args("payments"), CTX)
    assert record["changed"] is False


# --- policy and approvals ----------------------------------------------------------------------------


def test_policy_create_needs_network_and_delete_needs_each_of_three_groups() -> None:
    policy = load_policy()
    params = {"core_network_id": CORE_NETWORK_ID, "segment": "legacy"}
    create = decide(policy, DecisionFacts(action="create_segment", params=params))
    assert (create.decision, create.approvers, create.count, create.each_group) == (
        "approval",
        ["network"],
        1,
        False,
    )
    delete = decide(policy, DecisionFacts(action="delete_segment", params=params))
    assert (delete.decision, delete.approvers, delete.count, delete.each_group, delete.allow_requester) == (
        "approval",
        ["network", "security", "compliance"],
        3,
        True,
        False,
    )


def segment_intent(action: str, segment: str, requester: str) -> Intent:
    return Intent(
        action=action,
        params={"core_network_id": CORE_NETWORK_ID, "segment": segment},
        text=f"{action.replace('_', ' ')} {segment} in {CORE_NETWORK_ID}",
        requester=requester,
        named_resources=[CORE_NETWORK_ID, segment],
    )


def test_create_segment_through_the_pipeline_waits_for_network(
    tmp_path: Path, aws_endpoint: str, clients: AwsClients
) -> None:
    pipeline = network_pipeline(tmp_path, aws_endpoint, clients)
    stubber = stubbed_networkmanager(pipeline.ctx.clients)
    run = start_with_intent(pipeline, "t-seg", segment_intent("create_segment", "payments", ONCALL))
    assert run.pending is not None
    assert run.pending["groups"] == ["network"]
    refused = pipeline.vote("t-seg", SECURITY, approve=True)
    assert not refused.accepted
    assert "not authorised" in refused.message
    incident_segment = {**new_segment("payments"), "description": "created by opsbot (t-seg)"}  # thread id
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    expect_put_and_execute(stubber, 7, document_with(incident_segment))
    stubber.add_response(
        "get_core_network_policy",
        policy_response(8, document_with(incident_segment), "EXECUTION_SUCCEEDED"),
        {"CoreNetworkId": CORE_NETWORK_ID, "Alias": "LIVE"},
    )
    with stubber:
        approved = pipeline.vote("t-seg", NETWORK, approve=True)
        stubber.assert_no_pending_responses()
    assert approved.run is not None
    assert approved.run.state["outcome"] == "executed"
    assert [check["ok"] for check in approved.run.state["verification"]] == [True]
    assert len(executions(pipeline, "t-seg")) == 1
