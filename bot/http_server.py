"""`opsbot serve`: an HTTP endpoint for alert posts, plus /healthz.

POST /events takes an AWS event (an EventBridge API destination or any JSON poster) with the
shared secret in the ``X-Opsbot-Token`` header. It acks at once (202) and runs the graph in the
background; repeats of the same alert fold into the first one's incident thread.
Slack (Socket Mode / HTTP) and SNS signature checks come with the Slack issue.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from graph.parsing import EventFormatError, parse_event
from runtime.incidents import open_incident
from runtime.pipeline import Pipeline
from runtime.store import StoreUnavailable

MAX_BODY = 256 * 1024
TOKEN_HEADER = "X-Opsbot-Token"  # noqa: S105 - a header name, not a secret
log = logging.getLogger("opsbot.http")


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class EventsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], pipeline: Pipeline, token: str | None) -> None:
        super().__init__(address, EventsHandler)
        self.pipeline = pipeline
        self.token = token
        self.runs: list[threading.Thread] = []

    def run_in_background(self, thread_id: str, event: dict[str, Any]) -> None:
        def run() -> None:
            try:
                self.pipeline.start(thread_id, {"event": event, "requester": "aws:events"})
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
        if self.path != "/events":
            self.reply(HTTPStatus.NOT_FOUND, {"error": "not found"})
            return
        if not self.server.token:
            self.reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "set OPSBOT_EVENTS_TOKEN to accept events"})
            return
        given = self.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            self.reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing or wrong {TOKEN_HEADER}"})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length <= 0 or length > MAX_BODY:
            self.reply(HTTPStatus.BAD_REQUEST, {"error": f"body must be 1 to {MAX_BODY} bytes"})
            return
        self.accept(self.rfile.read(length))

    def accept(self, body: bytes) -> None:
        try:
            event = json.loads(body, parse_constant=_not_json)
        except (ValueError, RecursionError):  # not UTF-8, not JSON, NaN/Infinity, or nested too deeply
            self.reply(HTTPStatus.BAD_REQUEST, {"error": "body is not JSON"})
            return
        try:
            alert = parse_event(event)
        except EventFormatError as error:
            self.reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        try:
            incident = open_incident(self.server.pipeline.ctx.store, alert.fingerprint, alert.resolved)
        except StoreUnavailable as error:  # fail closed: the sender retries
            self.reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(error)})
            return
        if incident.run:
            self.server.run_in_background(incident.thread_id, event)
        self.reply(
            HTTPStatus.ACCEPTED,
            {"thread_id": incident.thread_id, "new": incident.is_new, "repeats": incident.repeats},
        )


def sweep_expired_approvals(pipeline: Pipeline, stop: threading.Event, every_seconds: float) -> None:
    """Mark approvals whose time is up as expired, so they can never execute later."""
    while not stop.wait(every_seconds):
        try:
            for run in pipeline.expire_due():
                log.info("approval on %s expired", run.thread_id)
        except StoreUnavailable as error:
            log.warning("approval sweep skipped: %s", error)


def serve(pipeline: Pipeline, host: str, port: int, token: str | None, sweep_seconds: float = 30) -> None:
    server = EventsServer((host, port), pipeline, token)
    stop = threading.Event()
    sweeper = threading.Thread(
        target=sweep_expired_approvals, args=(pipeline, stop, sweep_seconds), daemon=True
    )
    sweeper.start()
    log.info("opsbot listening on http://%s:%d (/healthz, POST /events)", host, server.server_port)
    try:
        server.serve_forever()
    finally:
        stop.set()
        server.server_close()
