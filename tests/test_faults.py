"""Faults on the queued runtime with real processes: an `opsbot worker` killed with SIGKILL in the middle
of a plan's AWS call, and Redis stopped and restarted (with its append-only file) while an alert it had
accepted was still waiting for a worker.

Covered elsewhere and not repeated here: serve's 503 and fail-closed Slack message with Redis down
(test_slack_bot.py), restart during a pending approval (test_postgres_checkpoints.py), in-process dead
workers (test_worker.py), AWS throttling (test_aws_faults.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from aws_fault_proxy import AwsFaultProxy, FaultKind, Request
from http_support import post_json_reply
from pipeline_support import crypto_event, group_ids, make_estate, make_pipeline
from queue_support import RedisProcess, WorkerThreads

from bot.http_server import EventsServer
from bot.work_handlers import ALERT_WORK, alert_payload, work_handlers
from runtime.audit_log import entries
from runtime.work_queue import WorkQueue

ROOT = Path(__file__).parent.parent
TOKEN = "fault-events-token"


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class HoldingProxy(AwsFaultProxy):
    """The fault proxy, which can also hold requests for one operation until released (then forwards)."""

    def __init__(self, upstream: str) -> None:
        self.held_operation: str | None = None
        self.arrived = threading.Event()
        self.released = threading.Event()
        super().__init__(upstream)
        self._http.quiet()  # a killed worker's request cannot be answered: that broken pipe is expected

    def hold(self, operation: str) -> None:
        self.held_operation = operation

    def _fault_for(self, request: Request) -> FaultKind | None:
        if request.operation == self.held_operation:
            self.arrived.set()
            self.released.wait(timeout=60)
        return super()._fault_for(request)


def start_worker(name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """`opsbot worker --consumer NAME` with its stderr in a file; returns once it said it was ready."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "opsbot"), "worker", "--consumer", name], env=env, stderr=log
        )
    deadline = time.monotonic() + 60
    while f"worker {name} ready" not in log_path.read_text(errors="replace"):
        assert proc.poll() is None, f"worker {name} exited: {log_path.read_text(errors='replace')[-2000:]}"
        assert time.monotonic() < deadline, f"worker {name} did not get ready"
        time.sleep(0.05)
    return proc


def end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_a_worker_killed_mid_plan_leaves_no_step_run_twice_and_a_second_worker_closes_the_run(
    tmp_path: Path, aws_endpoint: str, redis_url: str
) -> None:
    proxy = HoldingProxy(aws_endpoint)
    checker = make_pipeline(tmp_path, aws_endpoint)  # reads moto directly, never through the proxy
    estate = make_estate(checker)
    data_dir = tmp_path / "shared"
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "OPSBOT_DATA_DIR": str(data_dir),
        "AWS_ENDPOINT_URL": proxy.url,
        "OPSBOT_RECLAIM_IDLE_SECONDS": "1",
        "OPSBOT_METRICS_PORT": "0",
        "OPSBOT_EMBEDDING": "off",
        "OPSBOT_LOG_FORMAT": "text",
    }
    queue = WorkQueue(redis_url)
    queue.ensure_group()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        # step 1 snapshots the instance; step 2 isolates it, and its first write is held in the proxy
        proxy.hold("ModifyNetworkInterfaceAttribute")
        workers.append(start_worker("doomed", env, tmp_path))
        queue.enqueue(ALERT_WORK, alert_payload(crypto_event(estate.miner_instance), "aws:events"))
        assert proxy.arrived.wait(timeout=60), "the worker never reached the isolation step"
        workers[0].send_signal(signal.SIGKILL)
        assert workers[0].wait(timeout=10) == -signal.SIGKILL
        proxy.released.set()  # the call it had sent reaches AWS after all: the worker never learns of it
        wait_for(lambda: proxy.seen("ModifyNetworkInterfaceAttribute") == 1, "the held call to be forwarded")
        proxy.hold("nothing")

        workers.append(start_worker("survivor", env, tmp_path))
        wait_for(lambda: queue.depth() == 0, "the second worker to take over the alert")
        assert not queue.dead_letters()

        audit = list(entries(data_dir / "audit.jsonl"))
        actions = [entry["data"] for entry in audit if entry["kind"] == "action"]
        per_id = Counter(action["action_id"] for action in actions)
        assert len(per_id) == 1  # step 1 recorded once; step 2 never recorded as run
        assert set(per_id.values()) == {1}
        assert [action["action"] for action in actions] == ["snapshot_instance"]
        # the step in flight when the worker died (its lock outlives it) is reported, not run again
        [interrupted] = [entry for entry in audit if entry["kind"] == "run_interrupted"]
        assert (interrupted["data"]["step"]["index"], interrupted["data"]["step"]["action"]) == (
            1,
            "isolate_instance",
        )
        assert proxy.seen("ModifyNetworkInterfaceAttribute") == 1
        assert proxy.seen("CreateSecurityGroup") == 1
        assert proxy.seen("ModifyInstanceAttribute") == 0  # the rest of step 2 was not run either

        ec2 = boto3.client("ec2", endpoint_url=aws_endpoint, region_name="us-east-1")
        volumes = ec2.describe_volumes(
            Filters=[{"Name": "attachment.instance-id", "Values": [estate.miner_instance]}]
        )["Volumes"]
        assert volumes
        snapshots = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        per_volume = Counter(snapshot["VolumeId"] for snapshot in snapshots)
        assert {volume["VolumeId"]: per_volume[volume["VolumeId"]] for volume in volumes} == {
            volume["VolumeId"]: 1 for volume in volumes
        }
        # the one call the dead worker sent did reach AWS: the quarantine group is on the interface
        [interface] = ec2.describe_network_interfaces(
            Filters=[{"Name": "attachment.instance-id", "Values": [estate.miner_instance]}]
        )["NetworkInterfaces"]
        [quarantine] = [
            group["GroupId"] for group in interface["Groups"] if group["GroupId"] != estate.web_group_id
        ]
        [created] = ec2.describe_security_groups(GroupIds=[quarantine])["SecurityGroups"]
        assert "quarantine" in created["GroupName"].lower() + created["Description"].lower()
    finally:
        for proc in workers:
            end(proc)
        proxy.released.set()
        proxy.stop()
        queue.close()


class DurableRedis(RedisProcess):
    """A redis-server that writes every command to its append-only file before answering, and reads it
    back when started again in the same directory."""

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed; scripts/check installs it"
        self.proc = subprocess.Popen(
            [
                *(binary, "--port", "0", "--unixsocket", str(self.socket), "--save", ""),
                *("--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert self.proc.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.01)


@pytest.fixture
def durable_redis() -> Iterator[DurableRedis]:
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-aof-"))  # short: a unix socket path has a length limit
    server = DurableRedis(workdir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_an_alert_accepted_before_redis_stopped_is_run_once_after_it_restarts(
    tmp_path: Path, aws_endpoint: str, durable_redis: DurableRedis
) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, redis_url=durable_redis.url)
    estate = make_estate(pipeline)
    queue = WorkQueue(durable_redis.url)
    queue.ensure_group()
    server = EventsServer(("127.0.0.1", 0), queue, TOKEN)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/events"
    body = json.dumps(crypto_event(estate.miner_instance)).encode()
    headers = {"X-Opsbot-Token": TOKEN}
    workers: WorkerThreads | None = None
    try:
        status, accepted = post_json_reply(url, body, headers)  # no worker yet: it waits in the stream
        assert status == 202
        durable_redis.stop()
        status, refused = post_json_reply(url, body, headers)  # the sender will retry this one
        assert status == 503
        assert "retry later" in refused["error"]

        durable_redis.start()
        assert queue.depth() == 1  # the accepted alert came back from the append-only file
        status, retried = post_json_reply(url, body, headers)
        assert status == 202
        assert retried["thread_id"] == accepted["thread_id"]
        workers = WorkerThreads(queue, work_handlers(pipeline, None), pipeline=pipeline)
        workers.drain()

        assert estate.web_group_id not in group_ids(pipeline, estate.miner_instance)
        done = Counter(
            entry["data"]["action"]
            for entry in entries(pipeline.ctx.audit.path, thread_id=accepted["thread_id"], kind="action")
        )
        assert done == Counter({"snapshot_instance": 1, "isolate_instance": 1})
        assert sum(worker.stats.done for worker in workers.workers) == 2  # the repeat only counted
        assert not queue.dead_letters()
    finally:
        server.shutdown()
        server.server_close()
        if workers is not None:
            workers.close()
        queue.close()
