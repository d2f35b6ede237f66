"""`opsbot serve`: Slack (POST /slack/events), alert posts (POST /events) and /healthz.

POST /events takes an AWS event (an EventBridge API destination or any JSON poster) with the
shared secret in the ``X-Opsbot-Token`` header, or an SNS HTTPS delivery (``x-amz-sns-message-type``
header), which is authenticated by its signature instead (bot/sns_intake.py). An alert is acked at
once (202) and the graph runs in the background; repeats of the same alert fold into the first one's
incident thread. With Slack configured, that thread is a Slack thread in the incidents channel.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.app import dispatch
from bot.sns import MESSAGE_TYPE_HEADER, SnsVerifier
from bot.sns_intake import MAX_SNS_BODY, Reply, handle_sns_delivery
from bot.wiring import SlackBot
from graph.models import AlertFacts
from graph.parsing import EventFormatError, parse_event
from runtime.incidents import IncidentThread, open_incident
from runtime.pipeline import Pipeline
from runtime.store import StoreUnavailable

MAX_BODY = 256 * 1024
MAX_SLACK_BODY = 1024 * 1024
TOKEN_HEADER = "X-Opsbot-Token"  # noqa: S105 - a header name, not a secret
log = logging.getLogger("opsbot.http")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class EventsServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the listen backlog: bursts of Slack clicks and alert storms queue, not reset

    def __init__(
        self,
        address: tuple[str, int],
        pipeline: Pipeline,
        token: str | None,
        sns: SnsVerifier | None = None,
        slack: SlackBot | None = None,
    ) -> None:
        super().__init__(address, EventsHandler)
        self.pipeline = pipeline
        self.token = token
        self.sns = sns if sns is not None else SnsVerifier()
        self.slack = slack
        self.runs: list[threading.Thread] = []

    def admit(self, event: dict[str, Any], requester: str = "aws:events") -> Reply:
        """Open (or count a repeat of) the alert's incident and start its run; the reply to send."""
        try:
            alert = parse_event(event)
        except EventFormatError as error:
            return HTTPStatus.BAD_REQUEST, {"error": str(error)}
        ctx = self.pipeline.ctx
        try:
            incident = open_incident(ctx.store, alert.fingerprint, alert.resolved, alert.title, ctx.clock())
        except StoreUnavailable as error:  # fail closed: the sender retries
            return HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(error)}
        if self.slack is not None:
            self.in_background(incident.thread_id, self._follow_in_slack(incident, alert, event, requester))
        elif incident.run:
            self.run_in_background(incident.thread_id, event, requester)
        return (
            HTTPStatus.ACCEPTED,
            {"thread_id": incident.thread_id, "new": incident.is_new, "repeats": incident.repeats},
        )

    def _follow_in_slack(
        self, incident: IncidentThread, alert: AlertFacts, event: dict[str, Any], requester: str
    ) -> Callable[[], None]:
        bridge = self.slack.bridge if self.slack is not None else None

        def follow() -> None:
            if bridge is not None:
                bridge.follow_incident(incident, alert, event, requester)

        return follow

    def run_in_background(self, thread_id: str, event: dict[str, Any], requester: str = "aws:events") -> None:
        def run() -> None:
            self.pipeline.start(thread_id, {"event": event, "requester": requester})

        self.in_background(thread_id, run)

    def in_background(self, thread_id: str, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            except Exception:  # a background run must report, never kill the server
                log.exception("incident %s failed", thread_id)

        worker = threading.Thread(target=run, name=f"incident-{thread_id}", daemon=True)
        self.runs.append(worker)
        worker.start()


class EventsHandler(BaseHTTPRequestHandler):
    server: EventsServer

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    def reply(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.reply(HTTPStatus.OK, {"ok": True})
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
        if self.server.slack is None:
            self.reply(HTTPStatus.NOT_FOUND, {"error": "Slack is not configured (set SLACK_BOT_TOKEN)"})
            return
        if (body := self.read_body(MAX_SLACK_BODY)) is None:
            return
        status, headers, data = dispatch(self.server.slack.app, body, dict(self.headers.items()), query)
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


def sweep_expired_approvals(
    expire_due: Callable[[], int], stop: threading.Event, every_seconds: float
) -> None:
    """Mark approvals whose time is up as expired, so they can never execute later."""
    while not stop.wait(every_seconds):
        try:
            if closed := expire_due():
                log.info("%d approval(s) expired", closed)
        except StoreUnavailable as error:
            log.warning("approval sweep skipped: %s", error)


def serve(
    pipeline: Pipeline,
    host: str,
    port: int,
    token: str | None,
    sweep_seconds: float = 30,
    sns: SnsVerifier | None = None,
    slack: SlackBot | None = None,
) -> None:
    server = EventsServer((host, port), pipeline, token, sns, slack)
    stop = threading.Event()
    expire_due = slack.bridge.expire_due if slack else lambda: len(pipeline.expire_due())
    sweeper = threading.Thread(
        target=sweep_expired_approvals, args=(expire_due, stop, sweep_seconds), daemon=True
    )
    sweeper.start()
    routes = "/healthz, POST /events" + (", POST /slack/events" if slack else "")
    log.info("opsbot listening on http://%s:%d (%s)", host, server.server_port, routes)
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
