"""The whole graph against moto's server: auto, approval, veto, exactly-once, expiry, pause, rollback."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pipeline_support import (
    ONCALL,
    PLATFORM,
    PLATFORM_2,
    SECURITY,
    FakeClock,
    Recorder,
    crypto_event,
    desired,
    executions,
    group_ids,
    make_estate,
    make_pipeline,
)

from cli.demo import injected_alarm
from runtime.audit_log import verify


@pytest.fixture
def pipeline(tmp_path: Path, aws_endpoint: str):
    return make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())


def test_guardduty_crypto_finding_isolates_automatically(pipeline) -> None:
    estate = make_estate(pipeline)
    before = group_ids(pipeline, estate.miner_instance)
    run = pipeline.start("t-crypto", {"event": crypto_event(estate.miner_instance)})
    assert run.pending is None
    assert run.state["decision"]["decision"] == "auto"
    assert [s["action"] for s in run.state["plan"]] == ["snapshot_instance", "isolate_instance"]
    assert run.state["outcome"] == "executed"
    after = group_ids(pipeline, estate.miner_instance)
    assert after != before
    assert estate.web_group_id not in after
    assert estate.web_group_id in group_ids(pipeline, estate.web_instances[0])  # shared group untouched
    assert all(check["ok"] for check in run.state["verification"])
    report = verify(pipeline.ctx.audit.path)
    assert report.ok
    assert report.entries >= 8
    posted = pipeline.ctx.notifier.posts  # type: ignore[attr-defined]
    assert posted
    assert "Outcome: executed" in posted[-1][1]


def test_scale_request_waits_for_an_authorised_approver_and_executes_once(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-scale", {"text": f"scale {estate.asg_name} to 6", "requester": ONCALL})
    assert run.pending is not None
    assert run.pending["groups"] == ["platform"]
    assert desired(pipeline, estate.asg_name) == 2
    refused = pipeline.vote("t-scale", "U0STRANGER1", approve=True)
    assert not refused.accepted
    assert "not authorised" in refused.message
    assert desired(pipeline, estate.asg_name) == 2
    approved = pipeline.vote("t-scale", PLATFORM, approve=True)
    assert approved.accepted
    assert approved.run is not None
    assert approved.run.state["outcome"] == "executed"
    assert desired(pipeline, estate.asg_name) == 6
    again = pipeline.vote("t-scale", PLATFORM, approve=True)
    assert not again.accepted
    assert len(executions(pipeline, "t-scale")) == 1


def test_twenty_concurrent_approvals_execute_once(pipeline) -> None:
    estate = make_estate(pipeline)
    pipeline.start("t-race", {"text": f"scale {estate.asg_name} to 5", "requester": ONCALL})
    barrier = threading.Barrier(20)
    results = []

    def click(user: str) -> None:
        barrier.wait()
        results.append(pipeline.vote("t-race", user, approve=True))

    threads = [threading.Thread(target=click, args=([PLATFORM, PLATFORM_2][i % 2],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len([r for r in results if r.run is not None]) == 1
    assert len(executions(pipeline, "t-race")) == 1
    assert desired(pipeline, estate.asg_name) == 5


def test_terminate_needs_two_people_and_never_the_requester(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-term", {"text": f"terminate {estate.web_instances[1]}", "requester": PLATFORM})
    assert run.pending is not None
    assert run.pending["count"] == 2
    selfish = pipeline.vote("t-term", PLATFORM, approve=True)
    assert not selfish.accepted
    assert "requester" in selfish.message
    first = pipeline.vote("t-term", SECURITY, approve=True)
    assert first.accepted
    assert first.run is None
    assert "1 of 2" in first.message
    double = pipeline.vote("t-term", SECURITY, approve=True)
    assert double.run is None
    assert executions(pipeline, "t-term") == []
    second = pipeline.vote("t-term", PLATFORM_2, approve=True)
    assert second.run is not None
    assert second.run.state["outcome"] == "executed"
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    state = ec2.describe_instances(InstanceIds=[estate.web_instances[1]])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] in ("shutting-down", "terminated")


def test_expired_approval_never_executes(pipeline) -> None:
    estate = make_estate(pipeline)
    pipeline.start("t-expire", {"text": f"scale {estate.asg_name} to 7", "requester": ONCALL})
    pipeline.ctx.clock.now += pipeline.ctx.policy.approval_ttl_seconds + 1  # type: ignore[attr-defined]
    late = pipeline.vote("t-expire", PLATFORM, approve=True)
    assert not late.accepted
    assert "expired" in late.message
    assert late.run is not None
    assert late.run.state["outcome"] == "expired"
    assert desired(pipeline, estate.asg_name) == 2
    assert executions(pipeline, "t-expire") == []


def test_expiry_sweep_closes_pending_approvals(pipeline) -> None:
    estate = make_estate(pipeline)
    pipeline.start("t-sweep", {"text": f"scale {estate.asg_name} to 8", "requester": ONCALL})
    assert pipeline.expire_due() == []
    pipeline.ctx.clock.now += 10_000  # type: ignore[attr-defined]
    closed = pipeline.expire_due()
    assert [run.thread_id for run in closed] == ["t-sweep"]
    assert pipeline.pending("t-sweep") is None
    assert not pipeline.vote("t-sweep", PLATFORM, approve=True).accepted


def test_pause_blocks_execution_and_resume_restores_it(pipeline) -> None:
    estate = make_estate(pipeline)
    paused = pipeline.start("t-pause", {"text": "pause", "requester": SECURITY})
    assert "PAUSED" in paused.state["reply"]
    run = pipeline.start("t-paused-crypto", {"event": crypto_event(estate.miner_instance)})
    assert run.state["decision"]["decision"] == "reject"
    assert any("paused" in reason for reason in run.state["decision"]["reasons"])
    assert estate.web_group_id in group_ids(pipeline, estate.miner_instance)
    denied = pipeline.start("t-resume-denied", {"text": "resume", "requester": "U0STRANGER1"})
    assert "may not resume" in denied.state["reply"]
    pipeline.start("t-resume", {"text": "resume", "requester": SECURITY})
    again = pipeline.start("t-crypto-after", {"event": crypto_event(estate.miner_instance)})
    assert again.state["outcome"] == "executed"


def test_injected_alarm_is_vetoed_and_nothing_executes(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-inject", {"event": injected_alarm(estate)})
    assert run.state["audit"]["verdict"] == "veto"
    assert run.state["decision"]["decision"] == "reject"
    assert run.state["outcome"] == "vetoed"
    assert executions(pipeline, "t-inject") == []
    assert desired(pipeline, estate.asg_name) == 2


def test_rollback_applies_the_recorded_inverse_under_the_original_rule(pipeline) -> None:
    estate = make_estate(pipeline)
    before = group_ids(pipeline, estate.miner_instance)
    run = pipeline.start("t-iso", {"event": crypto_event(estate.miner_instance)})
    isolate = next(e for e in run.state["executions"] if e["action"] == "isolate_instance")
    undo = pipeline.start("t-undo", {"text": f"roll back {isolate['action_id']}", "requester": ONCALL})
    assert undo.pending is not None
    assert undo.pending["groups"] == ["security"]
    done = pipeline.vote("t-undo", SECURITY, approve=True)
    assert done.run is not None
    assert done.run.state["outcome"] == "executed"
    assert group_ids(pipeline, estate.miner_instance) == before
    again = pipeline.start("t-undo-2", {"text": f"roll back {isolate['action_id']}", "requester": ONCALL})
    assert again.pending is None
    assert again.state["decision"]["decision"] == "reject"
    assert any("already been rolled back" in reason for reason in again.state["decision"]["reasons"])


def test_a_restart_during_a_pending_approval_still_resumes(tmp_path: Path, aws_endpoint: str) -> None:
    first = make_pipeline(tmp_path, aws_endpoint)
    estate = make_estate(first)
    first.start("t-restart", {"text": f"scale {estate.asg_name} to 9", "requester": ONCALL})
    second = make_pipeline(tmp_path, aws_endpoint)  # a new process: new connections, same files
    vote = second.vote("t-restart", PLATFORM, approve=True)
    assert vote.run is not None
    assert vote.run.state["outcome"] == "executed"
    assert desired(second, estate.asg_name) == 9


def test_redis_store_gives_the_same_exactly_once(tmp_path: Path, aws_endpoint: str, redis_url: str) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, redis_url=redis_url)
    estate = make_estate(pipeline)
    pipeline.start("t-redis", {"text": f"scale {estate.asg_name} to 8", "requester": ONCALL})
    results = [pipeline.vote("t-redis", PLATFORM, approve=True) for _ in range(3)]
    assert [r.run is not None for r in results] == [True, False, False]
    assert len(executions(pipeline, "t-redis")) == 1


def test_redis_down_fails_closed(tmp_path: Path, aws_endpoint: str) -> None:
    from runtime.store import StoreUnavailable

    setup = make_pipeline(tmp_path / "setup", aws_endpoint)
    estate = make_estate(setup)
    dead = make_pipeline(tmp_path / "dead", aws_endpoint, redis_url=f"unix://{tmp_path}/no-redis.sock")
    with pytest.raises(StoreUnavailable):
        dead.start("t-dead", {"event": crypto_event(estate.miner_instance)})
    assert estate.web_group_id in group_ids(setup, estate.miner_instance)  # nothing executed


def test_dry_run_mode_executes_nothing(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBOT_DRY_RUN", "true")
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    estate = make_estate(pipeline)
    run = pipeline.start("t-dry", {"event": crypto_event(estate.miner_instance)})
    assert run.state["outcome"] == "dry_run"
    assert {e["status"] for e in run.state["executions"]} == {"dry_run"}
    assert estate.web_group_id in group_ids(pipeline, estate.miner_instance)


def test_two_rollbacks_approved_at_once_undo_only_once(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-iso-twice", {"event": crypto_event(estate.miner_instance)})
    isolate = next(e for e in run.state["executions"] if e["action"] == "isolate_instance")
    text = f"roll back {isolate['action_id']}"
    first = pipeline.start("t-undo-a", {"text": text, "requester": ONCALL})
    second = pipeline.start("t-undo-b", {"text": text, "requester": ONCALL})
    assert first.pending is not None
    assert second.pending is not None
    done = pipeline.vote("t-undo-a", SECURITY, approve=True)
    assert done.run is not None
    assert done.run.state["outcome"] == "executed"
    late = pipeline.vote("t-undo-b", SECURITY, approve=True)
    assert late.run is not None
    assert late.run.state["executions"][0]["status"] == "failed"
    assert "already been rolled back" in late.run.state["executions"][0]["error"]
