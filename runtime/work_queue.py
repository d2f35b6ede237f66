"""The work queue: a Redis Stream read through one consumer group, so any number of workers share it.

``opsbot serve`` only enqueues (XADD); workers read new entries (XREADGROUP ``>``), acknowledge what
they finished (XACK), and take over entries a dead worker left pending (XAUTOCLAIM, Redis 7.0+). An
entry delivered ``max_deliveries`` times without finishing goes to a dead-letter stream with its error.
Every Redis failure is raised as ``StoreUnavailable`` (cannot reach Redis) or ``StoreError``, like the
coordination store, so callers fail closed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import redis
from redis import exceptions as redis_errors

from runtime.redis_store import _REDIS_UNAVAILABLE, _redact_url
from runtime.store_contract import StoreError, StoreUnavailable

_T = TypeVar("_T")
log = logging.getLogger("opsbot.queue")

WORK_STREAM = "opsbot:work"
DEAD_STREAM = "opsbot:dead"
WORKERS_GROUP = "workers"
DEFAULT_MAX_LENGTH = 100_000  # approximate cap (XADD MAXLEN ~): acknowledged history is trimmed first
DEFAULT_MAX_DELIVERIES = 5
_SOCKET_TIMEOUT_SECONDS = 5.0
MAX_BLOCK_MS = 2_000  # a blocking read must return well inside the socket timeout
_LAG_SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class WorkItem:
    """One stream entry as a worker sees it. ``deliveries`` is 1 on the first delivery."""

    id: str
    kind: str
    payload: dict[str, Any]
    deliveries: int = 1
    enqueued_at: float = 0.0


def _decode(entry_id: str, fields: dict[str, str], deliveries: int) -> WorkItem:
    """A stream entry as a WorkItem; an entry that is not ours becomes kind ``malformed``."""
    try:
        payload = json.loads(fields["payload"])
        if not isinstance(payload, dict):
            raise ValueError("the payload is not a JSON object")
        return WorkItem(entry_id, str(fields["kind"]), payload, deliveries, float(fields.get("at", 0.0)))
    except (KeyError, ValueError, TypeError) as error:
        return WorkItem(entry_id, "malformed", {"fields": fields, "error": str(error)}, deliveries)


class WorkQueue:
    def __init__(
        self,
        redis_url: str,
        stream: str = WORK_STREAM,
        group: str = WORKERS_GROUP,
        dead_stream: str = DEAD_STREAM,
        max_length: int = DEFAULT_MAX_LENGTH,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError(f"max_deliveries must be 1 or more, got {max_deliveries}")
        self.stream, self.group, self.dead_stream = stream, group, dead_stream
        self.max_length = max_length
        self.max_deliveries = max_deliveries
        self._where = _redact_url(redis_url)
        self._client: redis.Redis = redis.Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_timeout=_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=_SOCKET_TIMEOUT_SECONDS,
        )

    def _call(self, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except _REDIS_UNAVAILABLE as error:
            raise StoreUnavailable(f"Redis at {self._where} is unavailable: {error}") from error
        except redis_errors.RedisError as error:
            raise StoreError(f"Redis at {self._where} refused the operation: {error}") from error

    # ----- producing ------------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: dict[str, Any]) -> str:
        """Append one item; returns its stream entry id. Raises StoreUnavailable when Redis is down."""
        fields = {"kind": kind, "payload": json.dumps(payload), "at": repr(time.time())}
        entry_id = self._call(
            lambda: self._client.xadd(
                self.stream,
                fields,  # type: ignore[arg-type]
                maxlen=self.max_length,
                approximate=True,
            )
        )
        return str(entry_id)

    # ----- consuming ------------------------------------------------------------------------------

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless it exists. It starts at the stream's
        beginning, so items enqueued before the first worker ever ran are still delivered."""
        try:
            self._call(lambda: self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True))
        except StoreError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read(self, consumer: str, count: int = 1, block_ms: int = 1_000) -> list[WorkItem]:
        """New items for ``consumer`` (XREADGROUP ``>``), waiting up to ``block_ms`` for the first."""
        block = max(1, min(block_ms, MAX_BLOCK_MS))
        try:
            answer = self._call(
                lambda: self._client.xreadgroup(
                    self.group, consumer, {self.stream: ">"}, count=count, block=block
                )
            )
        except StoreError as error:
            if "NOGROUP" not in str(error) or isinstance(error, StoreUnavailable):
                raise
            self.ensure_group()  # Redis lost the group (a restart without persistence): make it again
            return []
        items: list[WorkItem] = []
        for _stream, entries in cast("list[tuple[str, list[tuple[str, dict[str, str]]]]]", answer or []):
            items.extend(_decode(entry_id, fields, 1) for entry_id, fields in entries if fields is not None)
        return items

    def reclaim(self, consumer: str, min_idle_ms: int, count: int = 10) -> list[WorkItem]:
        """Items another consumer read but has not acknowledged for ``min_idle_ms`` (XAUTOCLAIM),
        now owned by ``consumer``, each with how many times it has been delivered."""
        answer = self._call(
            lambda: self._client.xautoclaim(
                self.stream, self.group, consumer, max(0, min_idle_ms), start_id="0-0", count=count
            )
        )
        entries = cast("list[tuple[str, dict[str, str] | None]]", answer[1])
        gone = answer[2] if len(answer) > 2 else []
        if gone:
            log.error(
                "%d pending work item(s) were trimmed from the stream before a worker finished them: %s",
                len(gone),
                ", ".join(map(str, gone)),
            )
        claimed = [(entry_id, fields) for entry_id, fields in entries if fields is not None]
        if not claimed:
            return []
        counts = self._delivery_counts(consumer, claimed[0][0], claimed[-1][0])
        return [_decode(entry_id, fields, counts.get(entry_id, 2)) for entry_id, fields in claimed]

    def _delivery_counts(self, consumer: str, first: str, last: str) -> dict[str, int]:
        rows = self._call(
            lambda: self._client.xpending_range(
                self.stream, self.group, min=first, max=last, count=1_000, consumername=consumer
            )
        )
        return {str(row["message_id"]): int(row["times_delivered"]) for row in rows}

    def touch(self, item: WorkItem, consumer: str) -> None:
        """Reset the item's idle time while a long handler still works on it (XCLAIM JUSTID), so no
        other worker reclaims an item whose worker is alive."""
        self._call(lambda: self._client.xclaim(self.stream, self.group, consumer, 0, [item.id], justid=True))

    def ack(self, item: WorkItem) -> None:
        self._call(lambda: self._client.xack(self.stream, self.group, item.id))

    def dead_letter(self, item: WorkItem, error: str) -> None:
        """Move the item to the dead-letter stream with its error, and acknowledge it (one transaction)."""
        fields = {
            "id": item.id,
            "kind": item.kind,
            "payload": json.dumps(item.payload),
            "deliveries": str(item.deliveries),
            "error": error[:2_000],
            "at": repr(time.time()),
        }

        def move() -> None:
            with self._client.pipeline(transaction=True) as transaction:
                transaction.xadd(self.dead_stream, fields, maxlen=self.max_length, approximate=True)  # type: ignore[arg-type]
                transaction.xack(self.stream, self.group, item.id)
                transaction.execute()

        self._call(move)

    def dead_letters(self, count: int = 100) -> list[dict[str, str]]:
        """The newest dead-lettered items (newest first), each with its original id, kind and error."""
        rows = self._call(lambda: self._client.xrevrange(self.dead_stream, count=count))
        return [dict(fields) for _id, fields in cast("list[tuple[str, dict[str, str]]]", rows)]

    def item(self, entry_id: str) -> WorkItem | None:
        """The entry with this id, as first delivered (for operators replaying, and tests)."""
        rows = self._call(lambda: self._client.xrange(self.stream, min=entry_id, max=entry_id, count=1))
        found = [
            _decode(row_id, fields, 1) for row_id, fields in cast("list[tuple[str, dict[str, str]]]", rows)
        ]
        return found[0] if found else None

    def entry_ids(self, count: int = 1_000) -> list[str]:
        """The ids of the entries still in the stream, oldest first."""
        rows = self._call(lambda: self._client.xrange(self.stream, count=count))
        return [str(row_id) for row_id, _fields in cast("list[tuple[str, dict[str, str]]]", rows)]

    # ----- observing ------------------------------------------------------------------------------

    def depth(self) -> int:
        """Items not yet delivered to any worker plus items delivered but not yet acknowledged."""
        groups = self._call(lambda: self._client.xinfo_groups(self.stream)) if self._stream_exists() else []
        group = next((g for g in groups if g.get("name") == self.group), None)
        if group is None:
            return int(self._call(lambda: self._client.xlen(self.stream)))
        lag = group.get("lag")
        if lag is None:  # Redis cannot tell after some deletions: count what follows the last delivery
            after = f"({group['last-delivered-id']}"
            rows = self._call(lambda: self._client.xrange(self.stream, min=after, count=_LAG_SCAN_LIMIT))
            lag = len(rows or [])
        return int(lag) + int(group.get("pending", 0))

    def length(self) -> int:
        """Entries in the stream, acknowledged ones included (until the length cap trims them)."""
        return int(self._call(lambda: self._client.xlen(self.stream)))

    def pending_count(self) -> int:
        """Items delivered to a worker and not yet acknowledged."""
        summary = self._call(lambda: self._client.xpending(self.stream, self.group))
        return int(summary.get("pending", 0))

    def _stream_exists(self) -> bool:
        return bool(self._call(lambda: self._client.exists(self.stream)))

    def ping(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._client.close()
