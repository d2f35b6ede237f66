"""`opsbot worker`: process the work `opsbot serve` queued in Redis, as one consumer of the group.

Run any number, on any hosts, with the same settings as `serve` (REDIS_URL is required) plus what
the pipeline needs (AWS, the checkpointer, the LLM, Slack when configured):

    REDIS_URL=redis://redis:6379/0 OPSBOT_METRICS_PORT=9100 opsbot worker [--consumer NAME]

SIGTERM (or Ctrl-C) finishes the item in hand and stops; an item a killed worker was holding is
taken over by another after OPSBOT_RECLAIM_IDLE_SECONDS. /metrics and /healthz are served on
OPSBOT_METRICS_PORT (0 turns them off).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

from graph.llm import LlmSettings, describe
from runtime.config import Settings
from runtime.health_server import start_health_server
from runtime.json_logs import configure_logging
from runtime.services import open_pipeline
from runtime.work_queue import WorkQueue
from runtime.worker import Worker

METRICS_HOST = "0.0.0.0"  # noqa: S104 - scraped from outside the container


def require_redis(settings: Settings, command: str) -> str:
    """REDIS_URL, or a ValueError saying that `command` cannot start without it."""
    if not settings.redis_url:
        raise ValueError(
            f"{command} needs REDIS_URL (the work queue and coordination live in Redis); nothing was started"
        )
    return settings.redis_url


def default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def build_workers(settings: Settings, queue: WorkQueue, consumers: Sequence[str]) -> list[Worker]:
    """Workers on one pipeline (and one Slack bridge, when Slack is configured), one per consumer name."""
    from bot.work_handlers import periodic_tasks, work_handlers

    pipeline = open_pipeline(settings)
    bridge = None
    if settings.slack_enabled:
        from bot.wiring import build_bridge

        bridge = build_bridge(settings, pipeline)
    handlers = work_handlers(pipeline, bridge)
    periodic = periodic_tasks(pipeline, bridge)
    return [Worker(queue, handlers, name, settings.reclaim_idle_seconds, periodic) for name in consumers]


def start_worker_threads(workers: Sequence[Worker], stop: threading.Event) -> list[threading.Thread]:
    threads = [
        threading.Thread(
            target=worker.run_forever, args=(stop,), name=f"worker-{worker.consumer}", daemon=True
        )
        for worker in workers
    ]
    for thread in threads:
        thread.start()
    return threads


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    redis_url = require_redis(settings, "worker")
    configure_logging(settings.log_format)
    print(f"opsbot: {describe(LlmSettings())}", file=sys.stderr)
    queue = WorkQueue(redis_url)
    consumer = args.consumer or default_consumer()
    worker = build_workers(settings, queue, [consumer])[0]
    stop = threading.Event()
    stop_on_signals(stop)
    where = "metrics off"
    if settings.metrics_port:
        health = start_health_server(METRICS_HOST, settings.metrics_port, worker.healthy)
        where = f"/metrics and /healthz on port {health.server_port}"
    print(f"opsbot: worker {consumer} ready ({queue.stream}, group {queue.group}; {where})", file=sys.stderr)
    sys.stderr.flush()
    worker.run_forever(stop)
    queue.close()
    return 0


def add_worker_command(sub: Any) -> None:
    worker = sub.add_parser("worker", help="process queued Slack requests and alerts (needs REDIS_URL)")
    worker.add_argument("--consumer", help="this worker's name in the consumer group (default: host-pid)")
    worker.set_defaults(run=cmd_worker)
