"""AWS throttling, 5xx and an AWS error mid-plan, for real: botocore's retries against a fault proxy.

Every AWS call of the pipeline goes through ``AwsFaultProxy`` in front of moto's server, which answers
the chosen operation the way AWS does when it throttles (EC2 ``RequestLimitExceeded``, Auto Scaling
``Throttling``) or fails (503). AWS state is read back from moto directly, past the proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_fault_proxy import AwsFaultProxy
from botocore.exceptions import ClientError
from pipeline_support import (
    ONCALL,
    PLATFORM,
    Recorder,
    crypto_event,
    desired,
    make_estate,
    make_pipeline,
)

from runtime.audit_log import entries, verify
from runtime.pipeline import Pipeline
from tools.base import AwsClients

MODIFY_ENI = "ModifyNetworkInterfaceAttribute"


@pytest.fixture(autouse=True)
def _no_knowledge_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runbook retrieval plays no part in how AWS failures are handled; leave it out to keep these fast."""
    monkeypatch.setenv("OPSBOT_EMBEDDING", "off")


@pytest.fixture
def proxy(aws_endpoint: str) -> Iterator[AwsFaultProxy]:
    fault_proxy = AwsFaultProxy(aws_endpoint)
    yield fault_proxy
    fault_proxy.stop()


def pipeline_through(proxy: AwsFaultProxy, tmp_path: Path, max_attempts: int = 5) -> Pipeline:
    pipeline = make_pipeline(tmp_path, proxy.url, notifier=Recorder())
    pipeline.ctx = replace(
        pipeline.ctx, clients=AwsClients(endpoint_url=proxy.url, max_attempts=max_attempts)
    )
    return pipeline


def ec2_direct(aws_endpoint: str) -> Any:
    return boto3.client("ec2", endpoint_url=aws_endpoint, region_name="us-east-1")


def only_groups(ec2: Any, instance_id: str) -> list[str]:
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return sorted(group["GroupId"] for eni in instance["NetworkInterfaces"] for group in eni["Groups"])


def audit_of(pipeline: Pipeline, thread_id: str) -> list[tuple[str, str, str]]:
    """(kind, action or action_id, status) of the thread's action and rollback entries, in order."""
    return [
        (e["kind"], str(e["data"].get("action", e["data"].get("action_id"))), str(e["data"]["status"]))
        for e in entries(pipeline.ctx.audit.path, thread_id=thread_id)
        if e["kind"] in ("action", "rollback")
    ]


def test_throttled_isolation_is_retried_with_backoff_and_runs_once(
    proxy: AwsFaultProxy, tmp_path: Path, aws_endpoint: str
) -> None:
    pipeline = pipeline_through(proxy, tmp_path)  # the shipped retry policy: adaptive, 5 retries
    estate = make_estate(pipeline)
    proxy.fail(MODIFY_ENI, times=2, kind="throttle")
    run = pipeline.start("t-throttled", {"event": crypto_event(estate.miner_instance)})
    assert run.state["outcome"] == "executed"
    assert proxy.seen(MODIFY_ENI) == 3  # two RequestLimitExceeded answers, then the one that went through
    groups = only_groups(ec2_direct(aws_endpoint), estate.miner_instance)
    assert len(groups) == 1
    assert estate.web_group_id not in groups
    assert audit_of(pipeline, "t-throttled") == [
        ("action", "snapshot_instance", "ok"),
        ("action", "isolate_instance", "ok"),
    ]


def test_an_approved_scale_survives_503s_and_runs_once(proxy: AwsFaultProxy, tmp_path: Path) -> None:
    pipeline = pipeline_through(proxy, tmp_path)
    estate = make_estate(pipeline)
    run = pipeline.start("t-503", {"text": f"scale {estate.asg_name} to 6", "requester": ONCALL})
    assert run.pending is not None
    proxy.fail("SetDesiredCapacity", times=3, kind="unavailable")
    vote = pipeline.vote("t-503", PLATFORM, approve=True)
    assert vote.run is not None
    assert vote.run.state["outcome"] == "executed"
    assert proxy.seen("SetDesiredCapacity") == 4
    assert desired(pipeline, estate.asg_name) == 6
    assert audit_of(pipeline, "t-503") == [("action", "scale_asg", "ok")]


def test_throttling_beyond_the_retries_fails_the_step_and_rolls_back_the_completed_one(
    proxy: AwsFaultProxy, tmp_path: Path, aws_endpoint: str
) -> None:
    # Fewer retries than shipped (same path, less waiting). botocore's max_attempts counts the retries
    # after the first call: 2 means 3 calls.
    pipeline = pipeline_through(proxy, tmp_path, max_attempts=2)
    estate = make_estate(pipeline)
    ec2 = ec2_direct(aws_endpoint)
    before = only_groups(ec2, estate.miner_instance)
    proxy.fail(MODIFY_ENI, times=None, kind="throttle")
    run = pipeline.start("t-mid-plan", {"event": crypto_event(estate.miner_instance)})

    assert run.state["outcome"] == "rolled_back"
    assert proxy.seen(MODIFY_ENI) == 3  # the call and its two retries, then botocore gave up
    snapshot, isolate = run.state["executions"]
    assert (snapshot["action"], snapshot["status"]) == ("snapshot_instance", "ok")
    assert (isolate["action"], isolate["status"]) == ("isolate_instance", "failed")
    assert isolate["error"] == (
        f"AWS refused to change the security groups of {estate.miner_instance}: Request limit exceeded."
    )
    # Step 1 was undone in AWS: its snapshots are gone; the instance's groups never changed.
    for taken in snapshot["record"]["snapshots"]:
        with pytest.raises(ClientError):
            ec2.describe_snapshots(SnapshotIds=[taken["snapshot_id"]])
    assert only_groups(ec2, estate.miner_instance) == before
    assert run.state["rollbacks"] == [{"action_id": snapshot["action_id"], "status": "rolled back"}]
    assert audit_of(pipeline, "t-mid-plan") == [
        ("action", "snapshot_instance", "ok"),
        ("action", "isolate_instance", "failed"),
        ("rollback", snapshot["action_id"], "rolled back"),
    ]
    assert verify(pipeline.ctx.audit.path).ok
    reply = pipeline.ctx.notifier.posts[-1][1]  # type: ignore[attr-defined]
    assert "Request limit exceeded" in reply
    assert f"Rolled back {snapshot['action_id']}: rolled back" in reply
    assert "Outcome: rolled_back" in reply
