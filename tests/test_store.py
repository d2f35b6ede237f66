"""One contract for both coordination stores, run against a real redis-server and a real SQLite file."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.store import (
    CoordinationStore,
    RedisStore,
    SqliteStore,
    StoreError,
    StoreUnavailable,
    open_store,
)


@pytest.fixture(params=["redis", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CoordinationStore]:
    if request.param == "redis":
        opened: CoordinationStore = RedisStore(request.getfixturevalue("redis_url"))
    else:
        opened = SqliteStore(tmp_path / "coordination.sqlite")
    yield opened
    opened.close()


def _race(count: int, action: Callable[[int], Any]) -> list[Any]:
    """Run action(i) in count threads released at the same moment; return results in index order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = action(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


# ------------------------------------------------------------------------------------------- claims


def test_claim_is_exclusive_until_released(store: CoordinationStore) -> None:
    assert store.claim("approval:T1", "worker-a") is True
    assert store.claim("approval:T1", "worker-b") is False
    assert store.get("approval:T1") == "worker-a"

    assert store.release("approval:T1", "worker-a") is True
    assert store.get("approval:T1") is None
    assert store.claim("approval:T1", "worker-b") is True
    assert store.get("approval:T1") == "worker-b"


def test_claim_expires_after_its_ttl(store: CoordinationStore) -> None:
    assert store.claim("lock:asg", "worker-a", ttl_seconds=0.2) is True
    assert store.claim("lock:asg", "worker-b", ttl_seconds=0.2) is False
    time.sleep(0.3)
    assert store.get("lock:asg") is None
    assert store.claim("lock:asg", "worker-b") is True
    assert store.get("lock:asg") == "worker-b"


def test_release_by_someone_else_keeps_the_claim(store: CoordinationStore) -> None:
    assert store.claim("lock:i-0abc", "worker-a", ttl_seconds=30) is True
    assert store.release("lock:i-0abc", "worker-b") is False
    assert store.get("lock:i-0abc") == "worker-a"
    assert store.release("lock:i-0abc", "worker-a") is True
    assert store.release("lock:i-0abc", "worker-a") is False


def test_release_after_expiry_does_not_remove_the_next_owner(store: CoordinationStore) -> None:
    assert store.claim("lock:sg", "slow-worker", ttl_seconds=0.2) is True
    time.sleep(0.3)
    assert store.claim("lock:sg", "next-worker", ttl_seconds=30) is True
    assert store.release("lock:sg", "slow-worker") is False
    assert store.get("lock:sg") == "next-worker"


def test_twenty_threads_racing_for_one_claim_give_one_winner(store: CoordinationStore) -> None:
    results = _race(20, lambda i: store.claim("approval:race", f"worker-{i}", ttl_seconds=30))
    winners = [i for i, won in enumerate(results) if won]
    assert len(winners) == 1
    assert store.get("approval:race") == f"worker-{winners[0]}"


def test_a_ttl_must_be_positive(store: CoordinationStore) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        store.claim("lock:x", "worker-a", ttl_seconds=0)
    with pytest.raises(ValueError, match="ttl_seconds"):
        store.put("value:x", "1", ttl_seconds=-1)
    assert store.keys("") == []


# ------------------------------------------------------------------------------------------- values


def test_put_get_delete_and_value_ttl(store: CoordinationStore) -> None:
    store.put("pause", '{"by": "U123"}')
    store.put("dedup:evt-1", "1", ttl_seconds=0.2)
    assert store.get("pause") == '{"by": "U123"}'
    assert store.get("dedup:evt-1") == "1"

    store.put("pause", '{"by": "U456"}')
    assert store.get("pause") == '{"by": "U456"}'
    time.sleep(0.3)
    assert store.get("dedup:evt-1") is None

    store.delete("pause")
    store.delete("never-existed")
    assert store.get("pause") is None


# ----------------------------------------------------------------------------------------- counters


def test_incr_window_counts_then_starts_a_new_window(store: CoordinationStore) -> None:
    assert store.peek_count("rate:scale_asg") == 0
    assert [store.incr_window("rate:scale_asg", 0.3) for _ in range(3)] == [1, 2, 3]
    assert store.peek_count("rate:scale_asg") == 3
    time.sleep(0.4)
    assert store.peek_count("rate:scale_asg") == 0
    assert store.incr_window("rate:scale_asg", 0.3) == 1


def test_incr_window_is_fixed_not_sliding(store: CoordinationStore) -> None:
    store.incr_window("rate:fixed", 0.4)
    time.sleep(0.25)
    store.incr_window("rate:fixed", 0.4)  # must not push the window's end out
    time.sleep(0.25)
    assert store.peek_count("rate:fixed") == 0


def test_concurrent_increments_are_not_lost(store: CoordinationStore) -> None:
    results = _race(20, lambda _: store.incr_window("rate:burst", 60))
    assert sorted(results) == list(range(1, 21))
    assert store.peek_count("rate:burst") == 20


# --------------------------------------------------------------------------------------------- sets


def test_add_member_returns_every_member_sorted(store: CoordinationStore) -> None:
    assert store.members("approvers:T1") == []
    assert store.add_member("approvers:T1", "U2") == ["U2"]
    assert store.add_member("approvers:T1", "U1") == ["U1", "U2"]
    assert store.add_member("approvers:T1", "U2") == ["U1", "U2"]
    assert store.members("approvers:T1") == ["U1", "U2"]


def test_twenty_threads_adding_members_lose_none(store: CoordinationStore) -> None:
    names = [f"U{i:02d}" for i in range(20)]
    results = _race(20, lambda i: store.add_member("approvers:busy", names[i]))
    assert store.members("approvers:busy") == names
    for index, seen in enumerate(results):
        assert names[index] in seen
        assert seen == sorted(seen)
    assert max(len(seen) for seen in results) == 20


def test_mixing_a_set_and_a_value_on_one_key_is_refused(store: CoordinationStore) -> None:
    store.put("pause", "yes")
    with pytest.raises(StoreError):
        store.add_member("pause", "U1")
    with pytest.raises(StoreError):
        store.incr_window("pause", 60)
    store.add_member("approvers:T9", "U1")
    with pytest.raises(StoreError):
        store.get("approvers:T9")
    assert store.get("pause") == "yes"


# --------------------------------------------------------------------------------------------- keys


def test_keys_lists_unexpired_keys_with_the_prefix(store: CoordinationStore) -> None:
    store.put("incident:a", "1")
    store.claim("incident:b", "worker-a")
    store.add_member("incident:c", "U1")
    store.incr_window("incident:d", 60)
    store.put("incident:short", "1", ttl_seconds=0.2)
    store.claim("incident:short-claim", "worker-a", ttl_seconds=0.2)
    store.put("incidentless", "1")
    store.put("other:a", "1")
    assert "incident:short" in store.keys("incident:")
    time.sleep(0.3)
    assert store.keys("incident:") == ["incident:a", "incident:b", "incident:c", "incident:d"]


def test_keys_treats_glob_characters_in_the_prefix_literally(store: CoordinationStore) -> None:
    store.put("a*b:1", "1")
    store.put("axb:1", "1")
    store.put("a[b]:1", "1")
    store.put("ab:1", "1")
    assert store.keys("a*b") == ["a*b:1"]
    assert store.keys("a[b]") == ["a[b]:1"]


# ------------------------------------------------------------------------------------ availability


def test_redis_that_is_not_running_raises_store_unavailable(tmp_path: Path) -> None:
    down = RedisStore(f"unix://{tmp_path / 'no-such-redis.sock'}")
    with pytest.raises(StoreUnavailable, match="unavailable"):
        down.ping()
    with pytest.raises(StoreUnavailable):
        down.claim("approval:T1", "worker-a", ttl_seconds=30)
    with pytest.raises(StoreUnavailable):
        down.incr_window("rate:x", 60)
    with pytest.raises(StoreUnavailable):
        down.keys("incident:")
    assert issubclass(StoreUnavailable, RuntimeError)
    down.close()


def test_redis_error_messages_hide_the_password() -> None:
    down = RedisStore("redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable) as caught:
        down.ping()
    assert "hunter2" not in str(caught.value)
    down.close()


def test_sqlite_store_in_a_folder_that_cannot_exist_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="SQLite"):
        SqliteStore(blocker / "coordination.sqlite")


def test_both_backends_implement_the_protocol_and_open_store_picks_one(
    redis_url: str, tmp_path: Path
) -> None:
    redis_store = open_store(redis_url, tmp_path / "unused.sqlite")
    sqlite_store = open_store(None, tmp_path / "data" / "coordination.sqlite")
    assert isinstance(redis_store, RedisStore)
    assert isinstance(sqlite_store, SqliteStore)
    assert isinstance(redis_store, CoordinationStore)
    assert isinstance(sqlite_store, CoordinationStore)
    redis_store.ping()
    sqlite_store.ping()
    assert not (tmp_path / "unused.sqlite").exists()
    redis_store.close()
    sqlite_store.close()


# -------------------------------------------------------------------------------- SQLite specifics


def test_sqlite_store_persists_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "coordination.sqlite"
    first = SqliteStore(path)
    first.claim("approval:T1", "worker-a")
    first.put("pause", "yes")
    first.add_member("approvers:T1", "U1")
    first.incr_window("rate:x", 60)
    first.put("dedup:short", "1", ttl_seconds=0.2)
    first.close()

    time.sleep(0.3)
    second = SqliteStore(path)
    assert second.claim("approval:T1", "worker-b") is False
    assert second.get("approval:T1") == "worker-a"
    assert second.get("pause") == "yes"
    assert second.members("approvers:T1") == ["U1"]
    assert second.peek_count("rate:x") == 1
    assert second.get("dedup:short") is None
    second.close()


def test_sqlite_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "coordination.sqlite")
    store.put("warm", "1")
    open_before = len(os.listdir("/proc/self/fd"))
    for index in range(30):
        thread = threading.Thread(target=store.put, args=(f"short-lived:{index}", "1"))
        thread.start()
        thread.join()
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) - open_before < 5
    assert len(store.keys("short-lived:")) == 30
    store.close()
    assert store.get("warm") == "1"  # close() drops connections; the next call opens a fresh one
    store.close()


def _claim_in_child(path: str, owner: str, barrier: Any, results: Any) -> None:
    store = SqliteStore(Path(path))
    barrier.wait(timeout=60)
    results.put((owner, store.claim("approval:race", owner, ttl_seconds=60)))
    store.add_member("approvers:race", owner)
    store.close()


def test_four_processes_racing_for_one_sqlite_claim_give_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "coordination.sqlite"
    SqliteStore(path).close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(4)
    results = context.Queue()
    owners = [f"process-{i}" for i in range(4)]
    processes = [
        context.Process(target=_claim_in_child, args=(str(path), owner, barrier, results)) for owner in owners
    ]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in owners)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    winners = [owner for owner, won in outcomes.items() if won]
    assert len(winners) == 1
    reopened = SqliteStore(path)
    assert reopened.get("approval:race") == winners[0]
    assert reopened.members("approvers:race") == owners
    reopened.close()
