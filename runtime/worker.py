"""A worker: takes items off the work queue, runs the handler for each item's kind, acknowledges it.

Each poll first takes over items a dead worker left pending for ``reclaim_idle_seconds`` (XAUTOCLAIM),
then reads new ones. An item is acknowledged only once its handler returned; a handler that raises
leaves it pending, so it is retried after the idle time, and dead-lettered with its error once it has
been delivered ``queue.max_deliveries`` times. While a handler runs, the item's idle time is reset
every third of ``reclaim_idle_seconds``, so a slow but live worker keeps its item.

Redis being unreachable never stops the loop: the worker waits, with backoff, and carries on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from runtime.metrics import set_queue_depth
from runtime.store_contract import StoreError, StoreUnavailable
from runtime.work_queue import WorkItem, WorkQueue

log = logging.getLogger("opsbot.worker")
Handler = Callable[[WorkItem], None]
PeriodicTask = tuple[float, Callable[[], None]]  # (every so many seconds, what to run)
DEPTH_EVERY_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 5.0


class WorkRejected(Exception):
    """An item that can never succeed (an unknown method, a malformed payload): dead-lettered at once."""


@dataclass
class WorkerStats:
    done: int = 0
    failed: int = 0
    dead: int = 0
    reclaimed: int = 0


@dataclass
class _Periodic:
    every: float
    run: Callable[[], None]
    due: float = field(default=0.0)


class Worker:
    def __init__(
        self,
        queue: WorkQueue,
        handlers: Mapping[str, Handler],
        consumer: str,
        reclaim_idle_seconds: float = 60.0,
        periodic: Sequence[PeriodicTask] = (),
        batch: int = 1,
        block_ms: int = 1_000,
        clock: Callable[[], float] = time.monotonic,
        max_backoff_seconds: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        if reclaim_idle_seconds <= 0:
            raise ValueError(f"reclaim_idle_seconds must be positive, got {reclaim_idle_seconds}")
        self.queue = queue
        self.handlers = dict(handlers)
        self.consumer = consumer
        self.reclaim_idle_seconds = reclaim_idle_seconds
        self.batch = batch
        self.block_ms = block_ms
        self.clock = clock
        self.max_backoff_seconds = max_backoff_seconds
        self.stats = WorkerStats()
        self.busy = False  # a handler is running (tests wait for the queue to drain and the worker idle)
        self.last_poll: float | None = None  # when the queue last answered (the clock's time)
        self._periodic = [_Periodic(every, run, clock() + every) for every, run in periodic]
        self._periodic.append(_Periodic(DEPTH_EVERY_SECONDS, self.report_depth, 0.0))
        self._keep = _KeepClaimed(queue, consumer, reclaim_idle_seconds / 3)

    # ----- one poll -------------------------------------------------------------------------------

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Reclaim stale items, then read new ones, and handle them; returns how many were handled.
        With ``stop`` set between items, the rest of a batch stays pending for another worker."""
        idle_ms = int(self.reclaim_idle_seconds * 1000)
        items = self.queue.reclaim(self.consumer, idle_ms, self.batch)
        self.stats.reclaimed += len(items)
        if not items:
            items = self.queue.read(self.consumer, self.batch, self.block_ms)
        self.last_poll = self.clock()
        handled = 0
        for item in items:
            if stop is not None and stop.is_set():
                break
            self.handle(item)
            handled += 1
        return handled

    def handle(self, item: WorkItem) -> None:
        handler = self.handlers.get(item.kind)
        if handler is None:
            self._dead(item, f"no handler for work of kind {item.kind!r}")
            return
        if item.deliveries > self.queue.max_deliveries:  # its workers kept dying before it finished
            self._dead(item, f"delivered {item.deliveries} times without finishing")
            return
        self.busy = True
        self._keep.holding(item)
        try:
            handler(item)
        except StoreUnavailable:
            raise  # nothing is known to have run: the item stays pending, the loop backs off
        except WorkRejected as error:
            self._dead(item, str(error))
            return
        except Exception as error:
            self.stats.failed += 1
            log.exception("work item %s (%s) failed on delivery %d", item.id, item.kind, item.deliveries)
            if item.deliveries >= self.queue.max_deliveries:
                self._dead(item, f"{type(error).__name__}: {error}")
            return
        finally:
            self._keep.holding(None)
            self.busy = False
        self.queue.ack(item)
        self.stats.done += 1

    def _dead(self, item: WorkItem, error: str) -> None:
        log.error("work item %s (%s) dead-lettered: %s", item.id, item.kind, error)
        self.queue.dead_letter(item, error)
        self.stats.dead += 1

    # ----- between polls --------------------------------------------------------------------------

    def run_periodic(self) -> None:
        now = self.clock()
        for task in self._periodic:
            if now < task.due:
                continue
            task.due = now + task.every
            try:
                task.run()
            except Exception:  # a periodic task reports; it never stops the worker
                log.exception("periodic task %s failed", getattr(task.run, "__name__", task.run))

    def report_depth(self) -> None:
        set_queue_depth(self.queue.depth())

    def healthy(self, within_seconds: float = 30.0) -> bool:
        """The queue answered a poll lately, or a handler is working on an item (which may take long)."""
        if self.busy:
            return True
        return self.last_poll is not None and self.clock() - self.last_poll <= within_seconds

    def run_forever(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; the item in hand is finished first."""
        backoff, grouped = 0.0, False
        log.info("worker %s consuming %s as group %s", self.consumer, self.queue.stream, self.queue.group)
        while not stop.is_set():
            try:
                if not grouped:
                    self.queue.ensure_group()
                    grouped = True
                self.run_periodic()
                self.run_once(stop)
                backoff = 0.0
            except StoreError as error:  # Redis down or refusing: fail closed, wait, try again
                backoff, grouped = min(self.max_backoff_seconds, max(0.05, backoff * 2)), False
                log.warning("work queue unavailable (%s); retrying in %.1f s", error, backoff)
                stop.wait(backoff)
        log.info("worker %s stopped", self.consumer)


class _KeepClaimed:
    """One thread per worker that resets the idle time of the item in hand every ``every`` seconds."""

    def __init__(self, queue: WorkQueue, consumer: str, every: float) -> None:
        self.queue, self.consumer, self.every = queue, consumer, every
        self._item: WorkItem | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def holding(self, item: WorkItem | None) -> None:
        with self._lock:
            self._item = item
            if self._thread is None and item is not None:
                self._thread = threading.Thread(target=self._beat, name=f"keep-{self.consumer}", daemon=True)
                self._thread.start()

    def _beat(self) -> None:
        while True:
            time.sleep(self.every)
            with self._lock:
                item = self._item
            if item is None:
                continue
            try:
                self.queue.touch(item, self.consumer)
            except StoreError as error:
                log.warning("could not keep work item %s claimed: %s", item.id, error)
