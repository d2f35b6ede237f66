"""Alert storm: many alert events with few fingerprints through the queue and `opsbot worker` processes.

10,000 GuardDuty findings (the real Recon:EC2/PortProbeUnprotectedPort fixture, severity 2: below
anything that auto-executes, so nothing writes to AWS) with 100 distinct finding ids, i.e. 100
fingerprints, are XADDed straight onto the Redis Stream with ``WorkQueue.enqueue`` (what `serve`'s
/events does after its checks) while 1, then 2, `opsbot worker` processes consume them. Every first
delivery of a fingerprint opens an incident and runs the pipeline; every repeat only counts. The
incident threads are counted in the coordination store (Redis) afterwards. Each round has its own
redis-server, data directory and moto state. Nothing is asserted.

    .venv/bin/python bench/alert_storm.py [--events 10000] [--fingerprints 100] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from conftest import load_fixture  # the tests' fixture loader
from queue_support import RedisProcess

from bot.work_handlers import ALERT_WORK, alert_payload
from runtime.incidents import open_incidents
from runtime.store import RedisStore
from runtime.work_queue import WorkQueue

OPSBOT = Path(__file__).parent.parent / ".venv" / "bin" / "opsbot"


def storm_event(n: int, fingerprints: int) -> dict[str, Any]:
    event = copy.deepcopy(load_fixture("aws/guardduty_recon_portprobe_unprotected_port.json"))
    event["id"] = f"storm-{n:06d}"
    event["detail"]["id"] = f"storm-finding-{n % fingerprints:04d}"
    return dict(event)


def worker_env(redis_url: str, data_dir: Path, aws_endpoint: str) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "OPSBOT_DATA_DIR": str(data_dir),
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OPSBOT_METRICS_PORT": "0",
        "OPSBOT_EMBEDDING": "off",
        "OPSBOT_LOG_FORMAT": "text",
    }


def start_worker(name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    """`opsbot worker --consumer NAME`, its stderr in a file; returns once it said it was ready."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(OPSBOT), "worker", "--consumer", name], env=env, stderr=log)
    deadline = time.monotonic() + 120
    while f"worker {name} ready" not in log_path.read_text(errors="replace"):
        if proc.poll() is not None:
            raise RuntimeError(f"worker {name} exited: {log_path.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"worker {name} did not get ready")
        time.sleep(0.05)
    return proc


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def one_round(workers: int, events: int, fingerprints: int, aws_endpoint: str) -> tuple[float, int, int]:
    """Events per second, incident threads, and dead letters for one round with ``workers`` processes."""
    work_dir = Path(tempfile.mkdtemp(prefix=f"opsbot-storm-w{workers}-"))
    (work_dir / "redis").mkdir()
    redis_server = RedisProcess(work_dir / "redis")
    queue = WorkQueue(redis_server.url)
    queue.ensure_group()
    env = worker_env(redis_server.url, work_dir / "data", aws_endpoint)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs = [start_worker(f"storm-{n}", env, work_dir) for n in range(workers)]
        started = time.perf_counter()
        for n in range(events):
            queue.enqueue(ALERT_WORK, alert_payload(storm_event(n, fingerprints), "aws:events"))
        while queue.depth():
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"a worker exited with {proc.returncode}; logs in {work_dir}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        threads = len(open_incidents(RedisStore(redis_server.url)))
        dead = len(queue.dead_letters(count=events))
    finally:
        stop_workers(procs)
        queue.close()
        redis_server.stop()
    return events / elapsed, threads, dead


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fingerprints", type=int, default=100)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker process counts")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    results: list[str] = []
    threads_seen: list[int] = []
    dead_seen = 0
    try:
        for count in [int(part) for part in args.workers.split(",")]:
            rate, threads, dead = one_round(count, args.events, args.fingerprints, f"http://{host}:{port}")
            results.append(f"w{count}={rate:.0f} ev/s")
            threads_seen.append(threads)
            dead_seen += dead
    finally:
        moto.stop()
    print(
        f"storm (XADD via WorkQueue → `opsbot worker` processes) events={args.events} "
        f"fingerprints={args.fingerprints} threads={'/'.join(str(t) for t in threads_seen)} "
        f"dead={dead_seen} {' '.join(results)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
