"""Slack ack latency: signed @mentions into `opsbot serve`'s /slack/events, time to the HTTP 200.

Slack retries a request that is not acked within 3 s, so the figure that matters is how long the
real Bolt app (signature check, retry dedup, listener dispatch) takes to answer while the pipeline
works on earlier mentions in the background. Each mention asks for `status`, which reads the
coordination store, the audit log and CloudWatch (moto over HTTP) and posts Block Kit to a local
fake Slack Web API. Nothing is asserted.

    .venv/bin/python bench/slack_ack.py [--mentions 500] [--rate 0 (as fast as acks allow)]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from fake_slack import FakeSlack  # the tests' fake Slack Web API
from slack_support import event_body, sign

from bot.http_server import EventsServer
from bot.wiring import build_slack_bot
from runtime.config import Settings
from runtime.services import open_pipeline

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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mentions", type=int, default=500)
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second (0: back to back)")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("opsbot").setLevel(logging.ERROR)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    fake = FakeSlack()
    settings = Settings(
        OPSBOT_DATA_DIR=Path(tempfile.mkdtemp(prefix="opsbot-bench-")),
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.url,
    )
    pipeline = open_pipeline(settings)
    server = EventsServer(("127.0.0.1", 0), pipeline, None, slack=build_slack_bot(settings, pipeline))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    acks: list[float] = []
    try:
        for n in range(args.mentions):
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
            with urllib.request.urlopen(
                urllib.request.Request(url, body.encode(), headers), timeout=10
            ) as reply:
                reply.read()
            acks.append((time.perf_counter() - started) * 1000)
            if args.rate > 0:
                time.sleep(max(0.0, 1 / args.rate - acks[-1] / 1000))
        answered = len(fake.wait_for("chat.postMessage", args.mentions, timeout=600))
        wait_until_quiet(fake)
    finally:
        server.shutdown()
        fake.stop()
        moto.stop()
    print(
        f"slack ack (signed app_mention → HTTP 200, real Bolt app, pipeline busy in background): "
        f"mentions={len(acks)} p50={percentile(acks, 0.50):.1f} ms p99={percentile(acks, 0.99):.1f} ms "
        f"max={max(acks):.1f} ms; replies posted={answered}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
