"""Helpers for tests of the queued runtime: a redis-server of a test's own (to stop and restart), workers
in threads, and `opsbot serve`'s HTTP server enqueuing to Redis with workers consuming behind it."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from bot.conversation import SlackBridge
from bot.http_server import EventsServer
from bot.sns import SnsVerifier
from bot.work_handlers import periodic_tasks, work_handlers
from runtime.pipeline import Pipeline
from runtime.work_queue import WorkQueue
from runtime.worker import Handler, Worker


class RedisProcess:
    """A redis-server on a unix socket in ``workdir``, which a test may stop and start again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed; scripts/check installs it"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--save",
                "",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert self.proc.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        self.socket.unlink(missing_ok=True)


class WorkerThreads:
    """``count`` workers on ``queue`` in daemon threads, polling fast (tests wait on them)."""

    def __init__(
        self,
        queue: WorkQueue,
        handlers: Mapping[str, Handler],
        count: int = 1,
        reclaim_idle_seconds: float = 60.0,
        pipeline: Pipeline | None = None,
        bridge: SlackBridge | None = None,
    ) -> None:
        periodic = periodic_tasks(pipeline, bridge) if pipeline is not None else []
        self.queue = queue
        self.workers = [
            Worker(
                queue,
                handlers,
                f"test-worker-{n}",
                reclaim_idle_seconds,
                periodic,
                block_ms=50,
                max_backoff_seconds=0.2,
            )
            for n in range(count)
        ]
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=worker.run_forever, args=(self.stop,), daemon=True)
            for worker in self.workers
        ]
        for thread in self.threads:
            thread.start()

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued item has been handled and acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.depth() == 0 and not any(worker.busy for worker in self.workers):
                return
            time.sleep(0.01)
        raise AssertionError(f"the work queue did not drain in {timeout} s (depth {self.queue.depth()})")

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


class QueuedEventsServer:
    """POST /events on `serve`'s server, enqueuing to Redis, with in-process workers running the alerts."""

    def __init__(
        self,
        pipeline: Pipeline,
        redis_url: str,
        token: str | None,
        sns: SnsVerifier | None = None,
        workers: int = 1,
    ) -> None:
        self.pipeline = pipeline
        self.queue = WorkQueue(redis_url)
        self.queue.ensure_group()
        self.server = EventsServer(("127.0.0.1", 0), self.queue, token, sns)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.workers = WorkerThreads(self.queue, work_handlers(pipeline, None), workers, pipeline=pipeline)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    @property
    def server_port(self) -> int:
        return self.server.server_port

    def drain(self, timeout: float = 30.0) -> None:
        self.workers.drain(timeout)

    def queued(self) -> int:
        """Items ever added to the work stream (acknowledged ones stay in it until trimmed)."""
        return self.queue.length()

    def runs_on(self, thread_id: str) -> list[str]:
        """The distinct graph runs the thread's checkpoints hold, oldest first."""
        config = {"configurable": {"thread_id": thread_id}}
        found: list[str] = []
        for snapshot in reversed(list(self.pipeline.graph.get_state_history(config))):  # type: ignore[arg-type]
            run_id = snapshot.values.get("run_id")
            if run_id and run_id not in found:
                found.append(str(run_id))
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.workers.close()
        self.queue.close()
