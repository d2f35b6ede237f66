"""A running opsbot for Slack tests: the real Bolt app behind `opsbot serve`'s HTTP server, enqueuing
to a real redis-server; in-process workers running a real pipeline on moto's server; and the fake
Slack Web API recording every call."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_slack import FakeSlack
from pipeline_support import FakeClock, make_estate, make_pipeline
from queue_support import RedisProcess, WorkerThreads
from slack_support import event_body, load_slack_fixture, sign

from bot.http_server import EventsServer
from bot.wiring import build_bridge, build_serve_app
from bot.work_handlers import work_handlers
from cli.estate import Estate
from runtime.config import Settings
from runtime.pipeline import Pipeline
from runtime.store import RedisStore
from runtime.work_queue import WorkQueue

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-opsbot-test"
ALERTS = "C0ALERTS01"
INCIDENTS = "C0INCIDENT"
OPS = "C0OPS00001"


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class SlackHarness:
    """`serve` (Bolt app, /slack/events and /events) and ``workers`` workers, over one Redis.

    Without ``redis_url`` the harness runs a redis-server of its own (``self.redis``), which a test
    may stop and start again.
    """

    def __init__(
        self,
        data_dir: Path,
        aws_endpoint: str,
        fake: FakeSlack,
        redis_url: str | None = None,
        clock: FakeClock | None = None,
        workers: int = 1,
    ) -> None:
        self.fake = fake
        self.clock = clock or FakeClock(time.time())
        self.redis: RedisProcess | None = None
        if redis_url is None:  # a short path: a unix socket path must fit in 108 bytes
            self._redis_dir = Path(tempfile.mkdtemp(prefix="opsbot-redis-"))
            self.redis = RedisProcess(self._redis_dir)
            redis_url = self.redis.url
        self.pipeline: Pipeline = make_pipeline(data_dir, aws_endpoint, self.clock, redis_url)
        self.estate: Estate = make_estate(self.pipeline)
        settings = Settings(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.url,
            OPSBOT_ALERT_CHANNELS=ALERTS,
            OPSBOT_INCIDENTS_CHANNEL=INCIDENTS,
            OPSBOT_DATA_DIR=data_dir,
            REDIS_URL=redis_url,
        )
        self.queue = WorkQueue(redis_url)
        self.queue.ensure_group()
        self.serve_store = RedisStore(redis_url)
        self.app = build_serve_app(settings, self.queue, self.serve_store)
        self.server = EventsServer(("127.0.0.1", 0), self.queue, "events-token", slack_app=self.app)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.bridge = build_bridge(settings, self.pipeline)
        self.workers = WorkerThreads(self.queue, work_handlers(self.pipeline, self.bridge), workers)
        self._events = 0

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until the workers have handled everything `serve` queued."""
        self.workers.drain(timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.workers.close()
        self.queue.close()
        self.serve_store.close()
        if self.redis is not None:
            self.redis.stop()
            shutil.rmtree(self._redis_dir, ignore_errors=True)

    # ----- raw HTTP ---------------------------------------------------------------------------------

    def post(self, body: str, headers: dict[str, str], path: str = "/slack/events") -> Reply:
        request = urllib.request.Request(self.url + path, body.encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return Reply(response.status, response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read().decode())

    def signed(self, body: str, content_type: str, ts: int | None = None, **extra: str) -> Reply:
        return self.post(body, {"Content-Type": content_type, **sign(SECRET, body, ts), **extra})

    # ----- Slack requests built from the fixtures ---------------------------------------------------

    def next_event_id(self) -> str:
        self._events += 1
        return f"Ev{self._events:08d}"

    def mention(
        self, text: str, user: str, channel: str = OPS, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """Send an app_mention built from the real fixture; returns the event sent."""
        ts = f"{time.time():.6f}"
        body = event_body(
            "slack_event_app_mention",
            event_id=self.next_event_id(),
            text=f"<@U0OPSBOT> {text}",
            channel=channel,
            ts=ts,
            user=user,
        )
        if thread_ts:
            body["event"]["thread_ts"] = thread_ts
        reply = self.signed(json.dumps(body), "application/json")
        assert reply.status == 200, reply
        return dict(body["event"])

    def thread_reply(self, text: str, user: str, channel: str, thread_ts: str) -> None:
        body = event_body(
            "slack_event_message_channel",
            event_id=self.next_event_id(),
            text=text,
            channel=channel,
            ts=f"{time.time():.6f}",
            user=user,
        )
        body["event"]["thread_ts"] = thread_ts
        assert self.signed(json.dumps(body), "application/json").status == 200

    def reaction(self, name: str, user: str, channel: str, ts: str) -> None:
        body = load_slack_fixture("slack_event_reaction_added")
        body["event_id"] = self.next_event_id()
        body["event"].update({"reaction": name, "user": user})
        body["event"]["item"].update({"channel": channel, "ts": ts})
        assert self.signed(json.dumps(body), "application/json").status == 200

    def alert_post(self, event_id: str | None = None) -> Reply:
        body = load_slack_fixture("slack_event_bot_message_alert_attachments")
        body["event_id"] = event_id or self.next_event_id()
        body["event"]["channel"] = ALERTS
        return self.signed(json.dumps(body), "application/json")

    def click(
        self, user: str, value: str, message_ts: str, approve: bool = True, channel: str = OPS
    ) -> Reply:
        payload = load_slack_fixture("slack_block_actions_button")
        payload["user"]["id"] = user
        payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel}
        payload["channel"]["id"] = channel
        payload["message"] = {"ts": message_ts, "type": "message"}
        action = payload["actions"][0]
        action.update(
            {
                "action_id": "opsbot_approve" if approve else "opsbot_reject",
                "block_id": "opsbot_approval",
                "value": value,
            }
        )
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return self.signed(body, "application/x-www-form-urlencoded")

    def command(self, text: str, user: str, channel: str = OPS) -> Reply:
        fields = dict(
            urllib.parse.parse_qsl(
                Path(__file__)
                .parent.joinpath("fixtures/slack/slack_slash_command.form.txt")
                .read_text()
                .strip()
            )
        )
        fields.update({"command": "/opsbot", "text": text, "user_id": user, "channel_id": channel})
        return self.signed(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")

    # ----- what the bot said ------------------------------------------------------------------------

    def approval_message(
        self, number: int = 1, timeout: float = 20.0
    ) -> tuple[str, str, list[dict[str, Any]]]:
        """(button value, message ts, blocks) of the ``number``-th approval request opsbot posted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [
                (str(block["elements"][0]["value"]), answer_ts, call.params["blocks"])
                for call, answer_ts in self.posted()
                for block in call.params.get("blocks") or []
                if block.get("block_id") == "opsbot_approval"
            ]
            if len(found) >= number:
                return found[number - 1]
            time.sleep(0.02)
        raise AssertionError(f"opsbot posted fewer than {number} approval messages")

    def posted(self) -> list[tuple[Any, str]]:
        """chat.postMessage calls with the ts the fake gave each (in order)."""
        return [(call, str(call.response.get("ts", ""))) for call in self.fake.calls_to("chat.postMessage")]

    def texts(self, method: str = "chat.postMessage") -> list[str]:
        found = []
        for call in self.fake.calls_to(method):
            found.append(
                str(call.params.get("text", "")) + "\n" + json.dumps(call.params.get("blocks") or [])
            )
        return found

    def wait_until(self, check: Any, timeout: float = 20.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")
