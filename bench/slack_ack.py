"""Slack ack latency: signed @mentions into `opsbot serve`'s /slack/events, time to the HTTP 200.

Slack retries a request that is not acked within 3 s, so the figure that matters is how long the
real Bolt app (signature check, retry dedup, listener dispatch, and the enqueue to a Redis Stream)
takes to answer while a worker in the same process works through earlier mentions. Each mention
asks for `status`, which reads the coordination store, the audit log and CloudWatch (moto over HTTP)
and posts Block Kit to a local fake Slack Web API. A redis-server of its own runs on a unix socket.
Nothing is asserted.

    .venv/bin/python bench/slack_ack.py [--mentions 500] [--rate 0 (as fast as acks allow)]
    .venv/bin/python bench/slack_ack.py --rate 100 --seconds 30   # open loop: a fixed 100 requests/s

With ``--seconds``, mentions are sent on a fixed schedule (rate times seconds of them) from a pool of
client threads, whether or not earlier ones were acked yet, so a slow ack shows up as latency rather
than as a lower request rate.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_slack import FakeSlack  # the tests' fake Slack Web API
from queue_support import RedisProcess, WorkerThreads
from slack_support import event_body, sign

from bot.http_server import EventsServer
from bot.wiring import build_bridge, build_serve_app
from bot.work_handlers import work_handlers
from runtime.config import Settings
from runtime.services import open_pipeline
from runtime.store import RedisStore
from runtime.work_queue import WorkQueue

SECRET = "bench-signing-secret"  # noqa: S105 - a throwaway signing secret


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def wait_until_quiet(fake: FakeSlack, quiet_seconds: float = 1.0) -> None:
    """Let the background work finish (no new Slack calls for a second) before the servers stop."""
    seen = -1
    while len(fake.calls) != seen:
        seen = len(fake.calls)
        time.sleep(quiet_seconds)


def mention(url: str, n: int) -> float:
    """Send signed @mention number ``n``; the milliseconds to its HTTP 200."""
    body = json.dumps(
        event_body(
            "slack_event_app_mention",
            event_id=f"EvBench{n:06d}",
            text="<@U0OPSBOT> status",
            channel="C0BENCH001",
            ts=f"{1_800_000_000 + n}.000100",
            user="U0ONCALL042",
        )
    )
    headers = {"Content-Type": "application/json", **sign(SECRET, body)}
    started = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, body.encode(), headers), timeout=10) as reply:
        reply.read()
    return (time.perf_counter() - started) * 1000


def open_loop(url: str, rate: float, count: int) -> tuple[list[float], float]:
    """``count`` mentions at a fixed ``rate`` per second; their ack times and the rate achieved."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=64) as pool:
        futures = []
        for n in range(count):
            time.sleep(max(0.0, started + n / rate - time.perf_counter()))
            futures.append(pool.submit(mention, url, n))
        sent_in = time.perf_counter() - started
        return [future.result() for future in futures], count / sent_in if sent_in else 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mentions", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second (0: back to back)")
    parser.add_argument("--seconds", type=float, default=0.0, help="with --rate: send open loop this long")
    parser.add_argument("--workers", type=int, default=1, help="worker threads behind serve")
    parser.add_argument("--drain", type=float, default=120.0, help="open loop: wait this long for replies")
    args = parser.parse_args()
    if args.seconds and args.rate <= 0:
        parser.error("--seconds needs --rate")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("opsbot").setLevel(logging.ERROR)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    fake = FakeSlack()
    redis_server = RedisProcess(Path(tempfile.mkdtemp(prefix="opsbot-bench-redis-")))
    settings = Settings(
        OPSBOT_DATA_DIR=Path(tempfile.mkdtemp(prefix="opsbot-bench-")),
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.url,
        REDIS_URL=redis_server.url,
    )
    pipeline = open_pipeline(settings)
    queue = WorkQueue(redis_server.url)
    queue.ensure_group()
    app = build_serve_app(settings, queue, RedisStore(redis_server.url))
    server = EventsServer(("127.0.0.1", 0), queue, None, slack_app=app)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    workers = WorkerThreads(
        queue, work_handlers(pipeline, build_bridge(settings, pipeline)), count=args.workers
    )
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    acks: list[float] = []
    achieved = 0.0
    try:
        if args.seconds:
            acks, achieved = open_loop(url, args.rate, int(args.rate * args.seconds))
        else:
            for n in range(args.mentions):
                acks.append(mention(url, n))
                if args.rate > 0:
                    time.sleep(max(0.0, 1 / args.rate - acks[-1] / 1000))
        drained_from = time.perf_counter()
        if args.seconds:  # the backlog may outlast the wait: count what was posted by then
            deadline = drained_from + args.drain
            while len(fake.calls_to("chat.postMessage")) < len(acks) and time.perf_counter() < deadline:
                time.sleep(0.1)
            answered = len(fake.calls_to("chat.postMessage"))
        else:
            answered = len(fake.wait_for("chat.postMessage", len(acks), timeout=600))
        backlog_seconds = time.perf_counter() - drained_from
        if not args.seconds:
            wait_until_quiet(fake)
    finally:
        server.shutdown()
        workers.close()
        fake.stop()
        moto.stop()
        redis_server.stop()
    if args.seconds:
        print(
            f"slack ack open loop (signed app_mention → enqueued → HTTP 200, real Bolt app, "
            f"{args.workers} worker thread(s) busy in-process): rate={args.rate:.0f}/s "
            f"(sent at {achieved:.1f}/s) seconds={args.seconds:.0f} mentions={len(acks)} "
            f"p50={percentile(acks, 0.50):.1f} ms p99={percentile(acks, 0.99):.1f} ms "
            f"max={max(acks):.1f} ms; "
            f"replies posted={answered}/{len(acks)} ({backlog_seconds:.1f} s after the sending stopped, "
            f"waited up to {args.drain:.0f} s)"
        )
        return 0
    print(
        f"slack ack (signed app_mention → enqueued → HTTP 200, real Bolt app, a worker busy in-process): "
        f"mentions={len(acks)} p50={percentile(acks, 0.50):.1f} ms p99={percentile(acks, 0.99):.1f} ms "
        f"max={max(acks):.1f} ms; replies posted={answered}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
