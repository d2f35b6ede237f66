"""`opsbot serve`'s /events endpoint over real HTTP: auth, bad input, one thread per alert."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import load_fixture
from http_support import post_json_reply
from pipeline_support import crypto_event, group_ids, make_estate, make_pipeline

from bot.http_server import TOKEN_HEADER, EventsServer

TOKEN = "events-shared-secret"


@pytest.fixture
def server(tmp_path: Path, aws_endpoint: str):
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    events = EventsServer(("127.0.0.1", 0), pipeline, TOKEN)
    thread = threading.Thread(target=events.serve_forever, daemon=True)
    thread.start()
    yield events
    events.shutdown()
    events.server_close()


def post(server: EventsServer, body: bytes, token: str | None = TOKEN) -> tuple[int, dict]:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    return post_json_reply(f"http://127.0.0.1:{server.server_port}/events", body, headers)


def wait_for_runs(server: EventsServer) -> None:
    for run in server.runs:
        run.join(timeout=60)


def test_healthz(server: EventsServer) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/healthz", timeout=5) as reply:
        assert json.loads(reply.read()) == {"ok": True}


def test_forged_token_is_refused_and_nothing_runs(server: EventsServer) -> None:
    body = json.dumps(load_fixture("aws/guardduty_crypto_bitcoin_dns.json")).encode()
    assert post(server, body, token="wrong")[0] == 401
    assert post(server, body, token=None)[0] == 401
    assert server.runs == []


def test_malformed_events_get_a_clear_400(server: EventsServer) -> None:
    status, reply = post(server, b"{nope")
    assert status == 400
    assert "not JSON" in reply["error"]
    status, reply = post(server, json.dumps({"source": "aws.nothing", "detail": {}}).encode())
    assert status == 400
    assert reply["error"]
    assert server.runs == []


def test_fifty_repeats_of_one_alert_open_one_thread_and_isolate_once(server: EventsServer) -> None:
    estate = make_estate(server.pipeline)
    body = json.dumps(crypto_event(estate.miner_instance)).encode()
    replies = [post(server, body) for _ in range(50)]
    assert {status for status, _ in replies} == {202}
    assert len({reply["thread_id"] for _, reply in replies}) == 1
    assert [reply["new"] for _, reply in replies].count(True) == 1
    assert replies[-1][1]["repeats"] == 49
    wait_for_runs(server)
    assert len(server.runs) == 1
    assert estate.web_group_id not in group_ids(server.pipeline, estate.miner_instance)


def test_opsbot_serve_starts_and_answers_healthz(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    env = {**os.environ, "OPSBOT_DATA_DIR": str(tmp_path), "OPSBOT_EVENTS_TOKEN": TOKEN}
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


def test_an_alarm_that_recovers_and_fires_again_is_acted_on_again(server: EventsServer) -> None:
    alarm = load_fixture("aws/cloudwatch_alarm_state_change_metric.json")
    firing = json.dumps(alarm).encode()
    alarm["detail"]["state"]["value"] = "OK"
    recovered = json.dumps(alarm).encode()
    first = post(server, firing)[1]
    repeat = post(server, firing)[1]
    ok = post(server, recovered)[1]
    again = post(server, firing)[1]
    assert first["new"]
    assert not repeat["new"]
    assert repeat["repeats"] == 1
    assert first["thread_id"] == repeat["thread_id"] == ok["thread_id"] == again["thread_id"]
    assert again["new"]
    assert again["repeats"] == 0
    wait_for_runs(server)
    assert len(server.runs) == 3  # the first firing, the recovery, the next firing
