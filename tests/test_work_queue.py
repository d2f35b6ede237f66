"""The work queue on a real redis-server: enqueue, read, ack, reclaim, dead letters, depth, failures."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from queue_support import RedisProcess

from runtime.store import StoreUnavailable
from runtime.work_queue import WorkItem, WorkQueue


@pytest.fixture
def queue(redis_url: str) -> Iterator[WorkQueue]:
    work = WorkQueue(redis_url)
    work.ensure_group()
    try:
        yield work
    finally:
        work.close()


def test_items_are_read_in_order_once_and_gone_when_acknowledged(queue: WorkQueue) -> None:
    ids = [queue.enqueue("alert", {"n": n}) for n in range(3)]
    assert queue.depth() == 3
    items = queue.read("a", count=10, block_ms=10)
    assert [(item.id, item.kind, item.payload, item.deliveries) for item in items] == [
        (entry_id, "alert", {"n": n}, 1) for n, entry_id in enumerate(ids)
    ]
    assert queue.read("b", count=10, block_ms=10) == []  # delivered to one consumer only
    assert queue.depth() == 3  # delivered but not acknowledged
    for item in items:
        queue.ack(item)
    assert queue.depth() == 0
    assert queue.pending_count() == 0


def test_depth_counts_waiting_and_in_flight_items(queue: WorkQueue) -> None:
    queue.enqueue("alert", {"n": 1})
    queue.enqueue("alert", {"n": 2})
    [first] = queue.read("a", count=1, block_ms=10)
    assert (queue.depth(), queue.pending_count()) == (2, 1)
    queue.ack(first)
    assert queue.depth() == 1


def test_an_item_read_by_a_consumer_that_died_is_reclaimed_by_another_after_the_idle_time(
    queue: WorkQueue,
) -> None:
    entry_id = queue.enqueue("slack", {"method": "handle_mention"})
    [taken] = queue.read("dead-worker", count=1, block_ms=10)
    assert queue.reclaim("live-worker", min_idle_ms=10_000) == []  # not idle long enough yet
    time.sleep(0.06)
    [reclaimed] = queue.reclaim("live-worker", min_idle_ms=50)
    assert (reclaimed.id, reclaimed.payload, reclaimed.deliveries) == (entry_id, taken.payload, 2)
    queue.ack(reclaimed)
    assert queue.depth() == 0
    time.sleep(0.06)
    assert queue.reclaim("third-worker", min_idle_ms=50) == []


def test_a_live_consumer_that_touches_its_item_keeps_it(queue: WorkQueue) -> None:
    queue.enqueue("alert", {})
    [item] = queue.read("slow-worker", count=1, block_ms=10)
    for _ in range(3):
        time.sleep(0.04)
        queue.touch(item, "slow-worker")
    assert queue.reclaim("other", min_idle_ms=50) == []


def test_a_dead_letter_keeps_the_item_and_its_error_and_leaves_the_queue(queue: WorkQueue) -> None:
    entry_id = queue.enqueue("alert", {"event": {"source": "aws.guardduty"}})
    [item] = queue.read("a", count=1, block_ms=10)
    queue.dead_letter(item, "ValueError: no such instance")
    assert queue.depth() == 0
    [dead] = queue.dead_letters()
    assert dead["id"] == entry_id
    assert dead["kind"] == "alert"
    assert dead["error"] == "ValueError: no such instance"
    assert '"aws.guardduty"' in dead["payload"]


def test_items_queued_before_the_group_exists_are_delivered(redis_url: str) -> None:
    queue = WorkQueue(redis_url)
    queue.enqueue("alert", {"early": True})  # serve ran before any worker
    queue.ensure_group()
    queue.ensure_group()  # a second worker: the group is already there
    assert [item.payload for item in queue.read("a", count=5, block_ms=10)] == [{"early": True}]


def test_a_group_lost_by_redis_is_made_again(queue: WorkQueue, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.xgroup_destroy(queue.stream, queue.group)
    client.close()
    assert queue.read("a", block_ms=10) == []
    queue.enqueue("alert", {"n": 1})
    assert [item.payload for item in queue.read("a", block_ms=10)] == [{"n": 1}]


def test_an_entry_that_is_not_ours_is_read_as_malformed(queue: WorkQueue, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.xadd(queue.stream, {"payload": "[1, 2]", "kind": "alert"})
    client.close()
    [item] = queue.read("a", block_ms=10)
    assert item.kind == "malformed"
    assert "not a JSON object" in item.payload["error"]


def test_redis_down_is_store_unavailable_in_one_sentence() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-redis-"))  # short: a unix socket path has a length limit
    server = RedisProcess(workdir)
    queue = WorkQueue(server.url)
    try:
        queue.ensure_group()
        queue.enqueue("alert", {})
        server.stop()
        for operation in (
            lambda: queue.enqueue("alert", {}),
            lambda: queue.read("a", block_ms=10),
            lambda: queue.depth(),
            lambda: queue.ack(WorkItem("1-0", "alert", {})),
        ):
            with pytest.raises(StoreUnavailable, match=r"^Redis at unix://.* is unavailable"):
                operation()
        server.start()  # empty again: Redis kept nothing (no persistence in tests)
        queue.ensure_group()
        assert queue.depth() == 0
        queue.enqueue("alert", {"after": True})
        assert [item.payload for item in queue.read("a", block_ms=10)] == [{"after": True}]
    finally:
        queue.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
