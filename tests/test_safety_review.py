"""Red-team findings: each test is a bypass or crash that was reproduced, kept so it stays fixed.

Real servers throughout: moto's server for AWS, SQLite checkpoints and store, real HTTP for /events.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from http_support import post_json_reply
from pipeline_support import (
    ONCALL,
    PLATFORM_2,
    SECURITY,
    STRANGER,
    FakeClock,
    crypto_event,
    executions,
    make_estate,
    make_pipeline,
)

from cli.main import main
from graph.auditing import audit_plan
from graph.executor import execute_step
from graph.models import Intent, PlanStep
from runtime.coordination import action_key


@pytest.fixture
def pipeline(tmp_path: Path, aws_endpoint: str):
    return make_pipeline(tmp_path, aws_endpoint, clock=FakeClock())


def instance_state(pipeline, instance_id: str) -> str:
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    reply = ec2.describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def snapshots_of(pipeline, snapshot_ids: list[str]) -> list[str]:
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    found = ec2.describe_snapshots(Filters=[{"Name": "snapshot-id", "Values": snapshot_ids}])["Snapshots"]
    return sorted(snap["SnapshotId"] for snap in found)


# --- Critical: votes, the resume claim and step "done" marks were keyed by thread, not by request -----


def test_a_vote_for_an_earlier_request_on_the_thread_does_not_count_for_a_new_one(pipeline) -> None:
    estate = make_estate(pipeline)
    first, second = estate.web_instances[0], estate.web_instances[1]
    pipeline.start("t-shared", {"text": f"terminate {first}", "requester": ONCALL})
    assert "1 of 2" in pipeline.vote("t-shared", SECURITY, approve=True).message
    run = pipeline.start("t-shared", {"text": f"terminate {second}", "requester": ONCALL})
    assert run.pending is not None
    assert run.pending["intent"]["params"]["instance_id"] == second
    vote = pipeline.vote("t-shared", PLATFORM_2, approve=True)
    assert vote.run is None
    assert "1 of 2" in vote.message
    assert instance_state(pipeline, second) == "running"
    assert instance_state(pipeline, first) == "running"
    assert executions(pipeline, "t-shared") == []


def test_buttons_of_a_replaced_request_do_not_approve_the_newer_one(pipeline) -> None:
    estate = make_estate(pipeline)
    old = pipeline.start("t-buttons", {"text": f"stop {estate.web_instances[0]}", "requester": ONCALL})
    assert old.pending is not None
    pipeline.start("t-buttons", {"text": f"stop {estate.web_instances[1]}", "requester": ONCALL})
    stale = pipeline.vote("t-buttons", SECURITY, approve=True, run_id=old.pending["run_id"])
    assert not stale.accepted
    assert "replaced" in stale.message
    assert instance_state(pipeline, estate.web_instances[1]) == "running"


def test_a_second_request_on_a_thread_executes_and_is_reported_as_itself(pipeline) -> None:
    estate = make_estate(pipeline)
    tagged = pipeline.start("t-again", {"text": f"tag {estate.db_instance} owner=alice", "requester": ONCALL})
    assert tagged.state["outcome"] == "executed"
    snap = pipeline.start("t-again", {"text": f"snapshot {estate.db_instance}", "requester": ONCALL})
    assert [(e["action"], e["status"]) for e in snap.state["executions"]] == [("snapshot_instance", "ok")]
    assert not snap.state["executions"][0].get("replayed")
    snapshot_ids = [s["snapshot_id"] for s in snap.state["executions"][0]["record"]["snapshots"]]
    assert snapshot_ids
    assert snapshots_of(pipeline, snapshot_ids) == sorted(snapshot_ids)
    assert snap.state["executions"][0]["action_id"] != tagged.state["executions"][0]["action_id"]


def test_an_earlier_runs_outcome_is_not_read_back_as_this_runs(pipeline) -> None:
    estate = make_estate(pipeline)
    assert pipeline.start("t-stale", {"text": "status", "requester": ONCALL}).state["outcome"] == "answered"
    run = pipeline.start("t-stale", {"text": f"tag {estate.db_instance} team=red", "requester": ONCALL})
    assert run.state["outcome"] == "executed"
    assert run.state["verification"]
    assert all(check["ok"] for check in run.state["verification"])
    assert not run.state.get("reply")


# --- High: rolling back an automatic action ran on its own (a snapshot rollback deletes evidence) ------


def test_rolling_back_a_forensic_snapshot_needs_a_person(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-forensics", {"event": crypto_event(estate.miner_instance)})
    snapshot = next(e for e in run.state["executions"] if e["action"] == "snapshot_instance")
    snapshot_ids = [s["snapshot_id"] for s in snapshot["record"]["snapshots"]]
    undo = pipeline.start("t-erase", {"text": f"roll back {snapshot['action_id']}", "requester": STRANGER})
    assert undo.pending is not None
    assert undo.state["decision"]["decision"] == "approval"
    assert snapshots_of(pipeline, snapshot_ids) == sorted(snapshot_ids)
    assert not pipeline.vote("t-erase", STRANGER, approve=True).accepted
    done = pipeline.vote("t-erase", SECURITY, approve=True)
    assert done.run is not None
    assert done.run.state["outcome"] == "executed"
    assert snapshots_of(pipeline, snapshot_ids) == []


# --- Medium: a rollback step's target was neither audited nor matched to the action's record ---------


def test_a_rollback_step_aimed_elsewhere_is_vetoed_and_refused(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-iso", {"event": crypto_event(estate.miner_instance)})
    isolate = next(e for e in run.state["executions"] if e["action"] == "isolate_instance")
    record = json.loads(pipeline.ctx.store.get(action_key(isolate["action_id"])) or "{}")
    forged = PlanStep(
        action="rollback",
        params={
            "action_id": isolate["action_id"],
            "of_action": "stop_instance",
            "of_params": {"instance_id": estate.db_instance, "region": "us-east-1"},
        },
    )
    intent = Intent(action="rollback", params={"action_id": isolate["action_id"]}, requester=SECURITY)
    verdict = audit_plan(
        intent.model_copy(update={"named_resources": [isolate["action_id"]]}),
        [forged],
        found=record["resources"],
        policy=pipeline.ctx.policy,
        paused=False,
        rate_used={},
    )
    assert verdict.verdict == "veto"
    assert any(estate.db_instance in reason for reason in verdict.reasons)
    state = {
        "thread_id": "t-forged",
        "intent": intent.model_dump(mode="json"),
        "plan": [forged.model_dump()],
        "approval": {"status": "approved", "approvers": [SECURITY, PLATFORM_2]},
        "context": {},
    }
    result = execute_step(pipeline.ctx, state, 0, forged)
    assert result["status"] == "failed"
    assert "does not match" in result["error"]
    assert instance_state(pipeline, estate.db_instance) == "running"


# --- High: one person at a terminal could satisfy a two-person, not-the-requester rule --------------


@pytest.fixture
def cli_env(tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSBOT_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    return tmp_path


def test_one_terminal_cannot_give_two_approvals(
    cli_env: Path, pipeline, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    estate = make_estate(pipeline)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SECURITY}\n{PLATFORM_2}\n"))
    code = main(["ask", "terminate", estate.web_instances[0]])
    out = capsys.readouterr().out
    assert code == 0
    assert "approve it in Slack" in out
    assert instance_state(pipeline, estate.web_instances[0]) == "running"


def test_ask_with_nothing_on_stdin_is_one_line_not_a_traceback(
    cli_env: Path, pipeline, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    estate = make_estate(pipeline)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["ask", "stop", estate.web_instances[0]])
    err = capsys.readouterr().err
    assert code == 2
    startup, error = err.splitlines()  # the one LLM startup line, then the one error line
    assert startup.startswith("opsbot: LLM: ")
    assert error.startswith("opsbot: no answer on standard input")
    assert "Traceback" not in err
    assert instance_state(pipeline, estate.web_instances[0]) == "running"


@pytest.mark.parametrize(
    "body",
    ["[" * 100_000 + "]" * 100_000, '{"source": "aws.guardduty", "detail": {"severity": NaN}}'],
    ids=["nested-too-deep", "nan"],
)
def test_events_that_are_not_json_get_one_line(cli_env: Path, capsys, body: str) -> None:
    event = cli_env / "event.json"
    event.write_text(body)
    code = main(["plan", "--json", "--event", str(event)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("opsbot: ")
    assert err.count("\n") == 1


# --- Low: /events answered a bad Content-Length or deep JSON by dropping the connection ---------------


def raw_post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    return post_json_reply(f"http://127.0.0.1:{port}/events", body, headers)


def test_events_endpoint_answers_bad_bodies_with_400(redis_url: str) -> None:
    import threading

    from bot.http_server import TOKEN_HEADER, EventsServer
    from runtime.work_queue import WorkQueue

    queue = WorkQueue(redis_url)
    server = EventsServer(("127.0.0.1", 0), queue, "secret")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port, auth = server.server_port, {TOKEN_HEADER: "secret"}
        deep = ("[" * 100_000 + "]" * 100_000).encode()
        assert raw_post(port, deep[:200_000], auth)[0] == 400
        assert raw_post(port, b'{"detail": NaN}', auth)[0] == 400
        status, reply = raw_post(port, b"{}", {**auth, "Content-Length": "lots"})
        assert status == 400
        assert "body must be" in reply["error"]
        assert queue.length() == 0
    finally:
        server.shutdown()
        server.server_close()
        queue.close()
