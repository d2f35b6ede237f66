"""`opsbot serve`'s /events endpoint over real HTTP, queued to a real redis-server and run by a worker:
auth, bad input, one thread per alert."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import load_fixture
from http_support import post_json_reply
from pipeline_support import crypto_event, group_ids, make_estate, make_pipeline
from queue_support import QueuedEventsServer

from bot.http_server import TOKEN_HEADER
from runtime.metrics import sample_value

TOKEN = "events-shared-secret"


@pytest.fixture
def server(tmp_path: Path, aws_endpoint: str, redis_url: str) -> Iterator[QueuedEventsServer]:
    events = QueuedEventsServer(make_pipeline(tmp_path, aws_endpoint, redis_url=redis_url), redis_url, TOKEN)
    try:
        yield events
    finally:
        events.close()


def post(server: QueuedEventsServer, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    return post_json_reply(f"http://127.0.0.1:{server.server_port}/events", body, headers)


def test_healthz_and_metrics(server: QueuedEventsServer) -> None:
    with urllib.request.urlopen(f"{server.url}/healthz", timeout=5) as reply:
        assert json.loads(reply.read()) == {"ok": True}
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        assert "opsbot_queue_depth" in reply.read().decode()


def test_forged_token_is_refused_and_nothing_is_queued(server: QueuedEventsServer) -> None:
    body = json.dumps(load_fixture("aws/guardduty_crypto_bitcoin_dns.json")).encode()
    assert post(server, body, token="wrong")[0] == 401
    assert post(server, body, token=None)[0] == 401
    assert server.queued() == 0


def test_malformed_events_get_a_clear_400(server: QueuedEventsServer) -> None:
    status, reply = post(server, b"{nope")
    assert status == 400
    assert "not JSON" in reply["error"]
    status, reply = post(server, json.dumps({"source": "aws.nothing", "detail": {}}).encode())
    assert status == 400
    assert reply["error"]
    assert server.queued() == 0


def test_fifty_repeats_of_one_alert_open_one_thread_and_isolate_once(server: QueuedEventsServer) -> None:
    estate = make_estate(server.pipeline)
    event = crypto_event(estate.miner_instance)
    body = json.dumps(event).encode()
    replies = [post(server, body) for _ in range(50)]
    assert {status for status, _ in replies} == {202}
    assert len({reply["thread_id"] for _, reply in replies}) == 1
    assert len({reply["queued"] for _, reply in replies}) == 50
    server.drain()
    thread_id = replies[0][1]["thread_id"]
    assert len(server.runs_on(thread_id)) == 1
    store = server.pipeline.ctx.store
    assert [store.peek_count(key) for key in store.keys("repeats:")] == [49]
    assert estate.web_group_id not in group_ids(server.pipeline, estate.miner_instance)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_refuse_to_start_without_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    from cli.main import main

    monkeypatch.setenv("OPSBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPSBOT_EVENTS_TOKEN", TOKEN)
    assert main([command]) == 2
    assert capsys.readouterr().err.strip() == (
        f"opsbot: {command} needs REDIS_URL (the work queue and coordination live in Redis); "
        "nothing was started"
    )
    assert not (tmp_path / "data").exists()  # no store, no checkpoints, no server


def test_opsbot_serve_starts_and_answers_healthz(tmp_path: Path, redis_url: str) -> None:
    import os
    import re
    import subprocess
    import sys

    env = {
        **os.environ,
        "OPSBOT_DATA_DIR": str(tmp_path),
        "OPSBOT_EVENTS_TOKEN": TOKEN,
        "REDIS_URL": redis_url,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = None
        for line in proc.stderr:
            if match := re.search(r"listening on http://127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
                break
        assert port, "serve never said where it listens"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            assert json.loads(reply.read()) == {"ok": True}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_an_alarm_that_recovers_and_fires_again_is_acted_on_again(server: QueuedEventsServer) -> None:
    alarm = load_fixture("aws/cloudwatch_alarm_state_change_metric.json")
    firing = json.dumps(alarm).encode()
    alarm["detail"]["state"]["value"] = "OK"
    recovered = json.dumps(alarm).encode()
    first = post(server, firing)[1]
    server.drain()
    repeat = post(server, firing)[1]
    server.drain()
    store = server.pipeline.ctx.store
    assert [store.peek_count(key) for key in store.keys("repeats:")] == [1]
    ok = post(server, recovered)[1]
    server.drain()
    assert store.keys("repeats:") == []  # the recovery closed the incident
    again = post(server, firing)[1]
    server.drain()
    assert first["thread_id"] == repeat["thread_id"] == ok["thread_id"] == again["thread_id"]
    assert len(server.runs_on(first["thread_id"])) == 3  # the first firing, the recovery, the next firing


def test_an_alert_is_answered_202_when_queued_and_run_by_the_worker(server: QueuedEventsServer) -> None:
    estate = make_estate(server.pipeline)
    events_before = sample_value("opsbot_events_total", {"source": "http"})
    status, reply = post(server, json.dumps(crypto_event(estate.miner_instance)).encode())
    assert status == 202
    assert reply["queued"]
    server.drain()
    state = server.pipeline.last_state(reply["thread_id"])
    assert state["input"]["requester"] == "aws:events"
    assert state["run_id"].startswith("q")  # derived from the stream entry id
    assert sample_value("opsbot_events_total", {"source": "http"}) == events_before + 1
    assert estate.web_group_id not in group_ids(server.pipeline, estate.miner_instance)
