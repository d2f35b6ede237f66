"""Workers on a real redis-server: ack on success, retry then dead-letter, reclaim from a dead worker,
exactly once across workers, a redelivered run continued rather than repeated, and `opsbot worker`
as a process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import ONCALL, Recorder, crypto_event, desired, group_ids, make_estate, make_pipeline
from queue_support import WorkerThreads

from bot.work_handlers import ALERT_WORK, alert_payload, work_handlers
from runtime.audit_log import entries
from runtime.coordination import run_scope, step_lock_key
from runtime.redelivery import run_id_for
from runtime.work_queue import WorkItem, WorkQueue
from runtime.worker import Worker, WorkRejected


@pytest.fixture
def queue(redis_url: str) -> Iterator[WorkQueue]:
    work = WorkQueue(redis_url, max_deliveries=3)
    work.ensure_group()
    try:
        yield work
    finally:
        work.close()


def worker(queue: WorkQueue, handlers: dict, name: str = "w1", idle: float = 0.05) -> Worker:  # type: ignore[type-arg]
    return Worker(queue, handlers, name, reclaim_idle_seconds=idle, block_ms=10)


def test_a_handled_item_is_acknowledged_and_an_unknown_kind_is_dead_lettered_at_once(
    queue: WorkQueue,
) -> None:
    seen: list[dict] = []  # type: ignore[type-arg]
    queue.enqueue("echo", {"n": 1})
    queue.enqueue("nobody-handles-this", {"n": 2})
    one = worker(queue, {"echo": lambda item: seen.append(item.payload)}, idle=60)
    assert one.run_once() == 1
    assert one.run_once() == 1
    assert seen == [{"n": 1}]
    assert queue.depth() == 0
    [dead] = queue.dead_letters()
    assert (dead["kind"], dead["error"]) == (
        "nobody-handles-this",
        "no handler for work of kind 'nobody-handles-this'",
    )


def test_a_failing_item_is_retried_then_dead_lettered_with_its_error(queue: WorkQueue) -> None:
    attempts: list[int] = []

    def poison(item: WorkItem) -> None:
        attempts.append(item.deliveries)
        raise ValueError(f"cannot handle {item.payload['n']}")

    one = worker(queue, {"poison": poison})
    queue.enqueue("poison", {"n": 7})
    deadline = time.monotonic() + 10
    while not queue.dead_letters() and time.monotonic() < deadline:
        one.run_once()
        time.sleep(0.06)  # past the idle time, so the failed item is taken back
    assert attempts == [1, 2, 3]  # max_deliveries=3
    [dead] = queue.dead_letters()
    assert dead["error"] == "ValueError: cannot handle 7"
    assert dead["deliveries"] == "3"
    assert queue.depth() == 0
    assert (one.stats.failed, one.stats.dead) == (3, 1)


def test_a_rejected_item_is_dead_lettered_without_retries(queue: WorkQueue) -> None:
    def reject(item: WorkItem) -> None:
        raise WorkRejected("not a Slack request opsbot queues: method 'drop_tables'")

    queue.enqueue("slack", {"method": "drop_tables"})
    worker(queue, {"slack": reject}).run_once()
    assert queue.depth() == 0
    assert queue.dead_letters()[0]["error"] == "not a Slack request opsbot queues: method 'drop_tables'"


def test_an_item_a_worker_kept_dying_on_is_dead_lettered_when_reclaimed(queue: WorkQueue) -> None:
    queue.enqueue("echo", {})
    for attempt in range(3):  # three workers each read it and die
        time.sleep(0.06)
        assert queue.reclaim(f"dying-{attempt}", 50) or queue.read(f"dying-{attempt}", block_ms=10)
    time.sleep(0.06)
    ran: list[WorkItem] = []
    worker(queue, {"echo": ran.append}).run_once()
    assert ran == []
    assert queue.dead_letters()[0]["error"] == "delivered 4 times without finishing"


def test_a_slow_live_worker_keeps_its_item_from_the_others(queue: WorkQueue) -> None:
    ran: list[str] = []

    def slow(item: WorkItem) -> None:
        ran.append(item.id)
        time.sleep(0.5)

    queue.enqueue("slow", {})
    slow_worker = Worker(queue, {"slow": slow}, "slow", reclaim_idle_seconds=0.15, block_ms=10)
    other = Worker(queue, {"slow": slow}, "other", reclaim_idle_seconds=0.15, block_ms=10)
    thread = threading.Thread(target=slow_worker.run_once)
    thread.start()
    deadline = time.monotonic() + 0.45
    while time.monotonic() < deadline:
        other.run_once()  # would reclaim after 0.15 s if the slow worker did not keep it claimed
    thread.join()
    assert len(ran) == 1
    assert queue.depth() == 0


def test_two_workers_on_one_stream_process_two_hundred_items_exactly_once(
    queue: WorkQueue, redis_url: str
) -> None:
    handled: Counter[int] = Counter()
    by_worker: Counter[str] = Counter()
    lock = threading.Lock()

    def count(name: str):  # type: ignore[no-untyped-def]
        def handle(item: WorkItem) -> None:
            time.sleep(0.001)
            with lock:
                handled[int(item.payload["n"])] += 1
                by_worker[name] += 1

        return handle

    for n in range(200):
        queue.enqueue("count", {"n": n})
    pool = [
        Worker(WorkQueue(redis_url), {"count": count(name)}, name, reclaim_idle_seconds=60, block_ms=10)
        for name in ("one", "two")
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in pool]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while queue.depth() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(handled) == list(range(200))
    assert set(handled.values()) == {1}
    assert by_worker["one"] > 0
    assert by_worker["two"] > 0
    assert by_worker["one"] + by_worker["two"] == 200


# ----- the real pipeline ---------------------------------------------------------------------------


def test_an_alert_a_dead_worker_took_is_finished_by_another_once(
    tmp_path: Path, aws_endpoint: str, redis_url: str, queue: WorkQueue
) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, redis_url=redis_url)
    estate = make_estate(pipeline)
    queue.enqueue(ALERT_WORK, alert_payload(crypto_event(estate.miner_instance), "aws:events"))
    assert queue.read("worker-that-died", block_ms=10)  # read it, then died without acking
    workers = WorkerThreads(queue, work_handlers(pipeline, None), reclaim_idle_seconds=0.2)
    try:
        workers.drain()
    finally:
        workers.close()
    assert workers.workers[0].stats.reclaimed == 1
    assert estate.web_group_id not in group_ids(pipeline, estate.miner_instance)
    done = Counter(e["data"]["action"] for e in entries(pipeline.ctx.audit.path, kind="action"))
    assert done["isolate_instance"] == 1
    assert set(done.values()) == {1}  # every step of the plan ran once


def test_a_redelivered_run_is_continued_not_repeated(
    tmp_path: Path, aws_endpoint: str, redis_url: str
) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, redis_url=redis_url)
    make_estate(pipeline)
    run_id = run_id_for("1800000000000-0")
    request = {"text": "scale web-asg to 6", "requester": ONCALL}  # needs an approval
    first = pipeline.start_or_resume("t-redelivered", request, run_id)
    again = pipeline.start_or_resume("t-redelivered", request, run_id)
    assert first.pending is not None
    assert again.pending == first.pending  # the same request, not a second one
    history = pipeline.graph.get_state_history({"configurable": {"thread_id": "t-redelivered"}})
    assert {snapshot.values.get("run_id") for snapshot in history} - {None} == {run_id}
    done = pipeline.start_or_resume("t-done", {"text": "scale web-asg to 3", "requester": ONCALL}, run_id)
    assert done.state["outcome"] != "awaiting_approval"
    repeat = pipeline.start_or_resume("t-done", {"text": "scale web-asg to 3", "requester": ONCALL}, run_id)
    assert repeat.state["executions"] == done.state["executions"]
    assert len([e for e in entries(pipeline.ctx.audit.path, kind="action")]) == 1
    assert desired(pipeline, "web-asg") == 3


def test_a_step_a_dead_worker_began_is_not_run_again_and_the_thread_is_told(
    tmp_path: Path, aws_endpoint: str, redis_url: str
) -> None:
    notes = Recorder()
    pipeline = make_pipeline(tmp_path, aws_endpoint, redis_url=redis_url, notifier=notes)
    make_estate(pipeline)
    run_id = run_id_for("1800000000001-0")
    # the dead worker had claimed step 1 of this run (its lock outlives it by up to 15 minutes)
    assert pipeline.ctx.store.claim(step_lock_key(run_scope("t-killed", run_id), 0), "dead-worker", 900)
    result = pipeline.start_or_resume("t-killed", {"text": "scale web-asg to 3", "requester": ONCALL}, run_id)
    assert [e["status"] for e in result.state["executions"]] == ["skipped"]
    assert desired(pipeline, "web-asg") == 2
    told = [text for thread, text in notes.posts if thread == "t-killed" and "interrupted" in text]
    assert len(told) == 1
    assert "step 1 (scale_asg" in told[0]
    assert "did not run that step again" in told[0]
    [interrupted] = list(entries(pipeline.ctx.audit.path, kind="run_interrupted"))
    assert interrupted["data"]["run_id"] == run_id


# ----- `opsbot worker` as a process ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_opsbot_worker_runs_queued_alerts_serves_health_and_stops_on_sigterm(
    tmp_path: Path, aws_endpoint: str, redis_url: str, queue: WorkQueue
) -> None:
    pipeline = make_pipeline(tmp_path / "check", aws_endpoint, redis_url=redis_url)
    estate = make_estate(pipeline)
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "OPSBOT_DATA_DIR": str(tmp_path / "worker"),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "OPSBOT_METRICS_PORT": str(port),
        "OPSBOT_LOG_FORMAT": "text",
        "OPSBOT_EMBEDDING": "off",  # no knowledge base: a faster start
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker", "--consumer", "subprocess-1"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if re.search(r"worker subprocess-1 ready", line):
                break
        else:
            raise AssertionError("the worker never said it was ready")
        queue.enqueue(ALERT_WORK, alert_payload(crypto_event(estate.miner_instance), "aws:events"))
        deadline = time.monotonic() + 60
        while queue.depth() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert estate.web_group_id not in group_ids(pipeline, estate.miner_instance)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            assert json.loads(reply.read()) == {"ok": True}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            assert (
                'opsbot_executions_total{action="isolate_instance",result="ok"} 1.0' in reply.read().decode()
            )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
