"""`opsbot serve`: Slack (POST /slack/events), alert posts (POST /events), /healthz and /metrics.

`serve` only checks, acks and enqueues: every request becomes an item on the Redis work queue, and
`opsbot worker` processes run them (bot/work_handlers.py). POST /events takes an AWS event (an
EventBridge API destination or any JSON poster) with the shared secret in the ``X-Opsbot-Token``
header, or an SNS HTTPS delivery (``x-amz-sns-message-type`` header), which is authenticated by its
signature instead (bot/sns_intake.py). A readable alert is answered 202 once it is queued, and 503
with ``Retry-After`` when Redis cannot take it, so the sender retries and nothing accepted is lost.
Repeats of the same alert fold into the first one's incident thread (named in the 202 answer).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App

from bot.app import dispatch
from bot.sns import MESSAGE_TYPE_HEADER, SnsVerifier
from bot.sns_intake import MAX_SNS_BODY, Reply, handle_sns_delivery
from bot.work_handlers import ALERT_WORK, alert_payload
from graph.parsing import EventFormatError, parse_event
from runtime.incidents import thread_for
from runtime.metrics import render_latest
from runtime.store import StoreError
from runtime.work_queue import WorkQueue

MAX_BODY = 256 * 1024
MAX_SLACK_BODY = 1024 * 1024
TOKEN_HEADER = "X-Opsbot-Token"  # noqa: S105 - a header name, not a secret
RETRY_AFTER_SECONDS = 5
log = logging.getLogger("opsbot.http")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class EventsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog: bursts of Slack clicks and alert storms queue, not reset

    def __init__(
        self,
        address: tuple[str, int],
        queue: WorkQueue,
        token: str | None,
        sns: SnsVerifier | None = None,
        slack_app: App | None = None,
    ) -> None:
        super().__init__(address, EventsHandler)
        self.queue = queue
        self.token = token
        self.sns = sns if sns is not None else SnsVerifier()
        self.slack_app = slack_app

    def admit(self, event: dict[str, Any], requester: str = "aws:events") -> Reply:
        """Queue a readable alert for a worker; the reply to send (202, 400, or 503 when Redis is down)."""
        try:
            alert = parse_event(event)
        except EventFormatError as error:
            return HTTPStatus.BAD_REQUEST, {"error": str(error)}
        try:
            entry_id = self.queue.enqueue(ALERT_WORK, alert_payload(event, requester))
        except StoreError as error:  # fail closed: the sender retries, nothing accepted is lost
            log.error("alert not queued: %s", error)
            return HTTPStatus.SERVICE_UNAVAILABLE, {
                "error": "opsbot's work queue is unavailable; retry later"
            }
        return HTTPStatus.ACCEPTED, {"queued": entry_id, "thread_id": thread_for(alert.fingerprint)}


class EventsHandler(BaseHTTPRequestHandler):
    server: EventsServer

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", str(RETRY_AFTER_SECONDS))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.reply(HTTPStatus.OK, {"ok": True})
        elif self.path == "/metrics":
            body, content_type = render_latest()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.reply(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/slack/events":
            self.slack_request(query)
        elif path != "/events":
            self.reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
        elif (sns_type := self.headers.get(MESSAGE_TYPE_HEADER)) is not None:
            self.sns_delivery(sns_type)
        else:
            self.token_post()

    def read_body(self, limit: int) -> bytes | None:
        """The request body, or None after replying 400 when its length is missing or too large."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length <= 0 or length > limit:
            self.reply(HTTPStatus.BAD_REQUEST, {"error": f"body must be 1 to {limit} bytes"})
            return None
        return self.rfile.read(length)

    def slack_request(self, query: str) -> None:
        """Hand the request to Bolt, which checks the signature (401) and acks before the slow work."""
        if self.server.slack_app is None:
            self.reply(HTTPStatus.NOT_FOUND, {"error": "Slack is not configured (set SLACK_BOT_TOKEN)"})
            return
        if (body := self.read_body(MAX_SLACK_BODY)) is None:
            return
        status, headers, data = dispatch(self.server.slack_app, body, dict(self.headers.items()), query)
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def sns_delivery(self, message_type: str) -> None:
        if (body := self.read_body(MAX_SNS_BODY)) is not None:
            admit = functools.partial(self.server.admit, requester="aws:sns")
            self.reply(*handle_sns_delivery(self.server.sns, message_type, body, admit))

    def token_post(self) -> None:
        if not self.server.token:
            self.reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "set OPSBOT_EVENTS_TOKEN to accept events"})
            return
        given = self.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            self.reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing or wrong {TOKEN_HEADER}"})
            return
        if (body := self.read_body(MAX_BODY)) is None:
            return
        try:
            event = json.loads(body, parse_constant=_not_json)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, NaN/Infinity, or nested too deeply
            self.reply(HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"})
            return
        self.reply(*self.server.admit(event))


def serve(
    queue: WorkQueue,
    host: str,
    port: int,
    token: str | None,
    sns: SnsVerifier | None = None,
    slack_app: App | None = None,
) -> None:
    server = EventsServer((host, port), queue, token, sns, slack_app)
    routes = "/healthz, /metrics, POST /events" + (", POST /slack/events" if slack_app else "")
    log.info("opsbot listening on http://%s:%d (%s)", host, server.server_port, routes)
    try:
        server.serve_forever()
    finally:
        server.server_close()
