"""Alert-to-isolation latency on the auto path: GuardDuty finding in, instance isolated and verified.

Includes retrieval (runbooks and past incidents from ChromaDB, MiniLM by default) and remembering the
incident afterwards.

Runs the demo's first scenario N times (default 20), each on a fresh moto estate over real HTTP,
with SQLite checkpoints and the embedded store, and prints the figures. Nothing is asserted.

    .venv/bin/python bench/alert_to_isolation.py [--runs 20]
    .venv/bin/python bench/alert_to_isolation.py --queue [--runs 20]

With ``--queue`` the finding takes the deployed path instead: POST /events on `serve`'s HTTP server
(in this process) → the Redis Stream (a redis-server of its own) → one `opsbot worker` process → moto;
the time is from the POST to the instance seen isolated in moto (polled every 10 ms). Each run sends a
finding with a new finding id, so each opens a new incident, and the policy's hourly rate counters are
cleared between runs.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from cli.demo import crypto_finding
from cli.estate import build_estate
from runtime.config import Settings
from runtime.services import open_pipeline


def percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def isolated(ec2: Any, instance_id: str, web_group_id: str) -> bool:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return web_group_id not in [g["GroupId"] for g in reservations[0]["Instances"][0]["SecurityGroups"]]


def queued_runs(runs: int, endpoint: str, knowledge: Path) -> tuple[list[float], float, str]:
    """Timings (ms) of ``runs`` findings through /events, the queue and a worker process; the worker's
    start-up time (s); its embedding."""
    import threading

    import redis
    from alert_storm import start_worker, stop_workers, worker_env
    from queue_support import RedisProcess  # on sys.path via alert_storm

    from bot.http_server import EventsServer
    from runtime.work_queue import WorkQueue
    from tools.base import AwsClients

    work_dir = Path(tempfile.mkdtemp(prefix="opsbot-a2i-"))
    (work_dir / "redis").mkdir()
    redis_server = RedisProcess(work_dir / "redis")
    queue = WorkQueue(redis_server.url)
    queue.ensure_group()
    server = EventsServer(("127.0.0.1", 0), queue, "bench-token")
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    env = {
        **worker_env(redis_server.url, work_dir / "data", endpoint),
        "OPSBOT_KNOWLEDGE_DIR": str(knowledge),
        "OPSBOT_RECLAIM_IDLE_SECONDS": "60",
    }
    env.pop("OPSBOT_EMBEDDING")  # the default embedding, as in the in-process mode
    began = time.perf_counter()
    worker = start_worker("a2i", env, work_dir)
    startup = time.perf_counter() - began
    admin = redis.Redis.from_url(redis_server.url)
    clients = AwsClients(endpoint_url=endpoint)
    ec2 = clients.client("ec2", "us-east-1")
    timings: list[float] = []
    try:
        for run in range(runs + 1):  # the first run is the worker's warm-up (first retrieval)
            urllib.request.urlopen(
                urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10
            ).read()
            estate = build_estate(clients)
            event = copy.deepcopy(crypto_finding(estate.miner_instance))
            event["detail"]["id"] = f"bench-queue-{run:04d}"
            request = urllib.request.Request(
                f"http://127.0.0.1:{server.server_port}/events",
                json.dumps(event).encode(),
                {"Content-Type": "application/json", "X-Opsbot-Token": "bench-token"},
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=10) as reply:
                reply.read()
            deadline = started + 120
            while not isolated(ec2, estate.miner_instance, estate.web_group_id):
                if time.perf_counter() > deadline or worker.poll() is not None:
                    raise RuntimeError(f"run {run}: not isolated; worker log in {work_dir}")
                time.sleep(0.01)
            if run:
                timings.append((time.perf_counter() - started) * 1000)
            while queue.depth():  # the worker finishes verify and document before the next reset
                time.sleep(0.01)
            # each run stands for a separate incident: clear the policy's per-action rate counters
            # (isolate_instance is limited per hour), which would otherwise refuse run 11 onwards
            for key in admin.scan_iter("rate:*"):
                admin.delete(key)
    finally:
        stop_workers([worker])
        server.shutdown()
        server.server_close()
        queue.close()
        admin.close()
        redis_server.stop()
    return timings, startup, Settings().embedding


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--queue", action="store_true", help="through /events, Redis and a worker process")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    timings: list[float] = []
    # One knowledge base for every run, as in a deployment: the first run opens it and ingests the
    # runbooks (reported apart as the cold start); later runs retrieve and remember only.
    knowledge = Path(tempfile.mkdtemp(prefix="opsbot-bench-knowledge-"))
    cold: float | None = None
    if args.queue:
        try:
            queued, startup, embedding = queued_runs(args.runs, endpoint, knowledge)
        finally:
            server.stop()
        queued.sort()
        print(
            f"alert→isolation queued (POST /events → Redis Stream → `opsbot worker` process → moto, "
            f"to the instance seen isolated): runs={len(queued)} p50={percentile(queued, 0.5):.0f} ms "
            f"p90={percentile(queued, 0.9):.0f} ms min={queued[0]:.0f} ms max={queued[-1]:.0f} ms; "
            f"worker start-up {startup:.1f} s (embedding {embedding})"
        )
        return 0
    try:
        for run in range(args.runs + 1):
            reset = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
            urllib.request.urlopen(reset, timeout=10).read()
            workdir = Path(tempfile.mkdtemp(prefix="opsbot-bench-"))
            settings = Settings(
                OPSBOT_DATA_DIR=workdir, AWS_ENDPOINT_URL=endpoint, OPSBOT_KNOWLEDGE_DIR=knowledge
            )
            pipeline = open_pipeline(settings)
            estate = build_estate(pipeline.ctx.clients)
            started = time.perf_counter()
            result = pipeline.start(f"bench-{run}", {"event": crypto_finding(estate.miner_instance)})
            elapsed = (time.perf_counter() - started) * 1000
            if cold is None:
                cold = elapsed
            else:
                timings.append(elapsed)
            if result.outcome != "executed":
                print(f"run {run}: outcome {result.outcome}, not executed", file=sys.stderr)
                return 1
    finally:
        server.stop()
    timings.sort()
    p90 = timings[int(len(timings) * 0.9) - 1] if len(timings) >= 10 else timings[-1]
    print(
        f"alert→isolation (parse, plan, audit, decide, snapshot+isolate, verify, document; moto over HTTP): "
        f"runs={len(timings)} median={statistics.median(timings):.0f} ms p90={p90:.0f} ms "
        f"min={timings[0]:.0f} ms max={timings[-1]:.0f} ms; "
        f"cold start (knowledge base opened, runbooks embedded with {settings.embedding}) {cold:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
