"""Worker memory: an `opsbot worker` process's resident set (VmRSS in /proc/<pid>/status) idle after it
said it was ready, and after it processed 1,000 alert events (GuardDuty port-probe findings with 100
fingerprints, as bench/alert_storm.py sends, XADDed straight onto the stream). A redis-server and a moto
server of its own. Nothing is asserted.

    .venv/bin/python bench/worker_rss.py [--events 1000] [--fingerprints 100]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

from alert_storm import start_worker, stop_workers, storm_event, worker_env
from queue_support import RedisProcess  # on sys.path via alert_storm

from bot.work_handlers import ALERT_WORK, alert_payload
from runtime.work_queue import WorkQueue


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--fingerprints", type=int, default=100)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    work_dir = Path(tempfile.mkdtemp(prefix="opsbot-rss-"))
    (work_dir / "redis").mkdir()
    redis_server = RedisProcess(work_dir / "redis")
    queue = WorkQueue(redis_server.url)
    queue.ensure_group()
    env = worker_env(redis_server.url, work_dir / "data", f"http://{host}:{port}")
    proc = start_worker("rss", env, work_dir)
    try:
        time.sleep(1.0)  # let the first periodic tasks run
        idle = rss_mib(proc.pid)
        for n in range(args.events):
            queue.enqueue(ALERT_WORK, alert_payload(storm_event(n, args.fingerprints), "aws:events"))
        while queue.depth():
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}; log in {work_dir}")
            time.sleep(0.05)
        busy = rss_mib(proc.pid)
    finally:
        stop_workers([proc])
        queue.close()
        redis_server.stop()
        moto.stop()
    print(
        f"worker rss (one `opsbot worker` process, VmRSS): idle={idle:.1f} MiB "
        f"after {args.events} events ({args.fingerprints} fingerprints)={busy:.1f} MiB "
        f"growth={busy - idle:+.1f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
