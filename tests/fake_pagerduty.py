"""A local stand-in for PagerDuty's Events API v2 (``POST /v2/enqueue``) that records every request.

It listens on 127.0.0.1, port 0, in a daemon thread. It answers as PagerDuty documents it: 202
``{"status": "success", "message": "Event processed", "dedup_key": ...}`` for a valid event, and 400
``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`` for an invalid one
(a routing key that is not 32 characters, an unknown ``event_action``, a trigger without payload summary,
source or a known severity, a dedup key over 255 characters). Failures (429, 500, ...) can be scripted
ahead of the normal answers with :meth:`FakePagerDuty.fail`.

Use the ``fake_pagerduty`` fixture from a test module with
``from fake_pagerduty import fake_pagerduty_fixture  # noqa: F401``.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from http_support import LoopbackServer, send_json

ENQUEUE_PATH = "/v2/enqueue"
ROUTING_KEY = "R0UTINGKEY00000000000000000000AB"  # 32 characters, as PagerDuty requires
SEVERITIES = frozenset({"critical", "error", "warning", "info"})
ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int  # what the fake answered


def event_errors(body: Any) -> list[str]:
    """What PagerDuty would refuse in an Events API v2 body (empty when it is valid)."""
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    errors: list[str] = []
    if not isinstance(body.get("routing_key"), str) or len(body["routing_key"]) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    if body.get("event_action") not in ACTIONS:
        errors.append("'event_action' is missing or blank")
    dedup_key = body.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if body.get("event_action") in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is required for acknowledge and resolve")
    if body.get("event_action") == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or not an object"]
        for field in ("summary", "source"):
            if not isinstance(payload.get(field), str) or not payload[field].strip():
                errors.append(f"'payload.{field}' is missing or blank")
        if payload.get("severity") not in SEVERITIES:
            errors.append("'payload.severity' is invalid (must be one of critical, error, warning or info)")
    return errors


class FakePagerDuty:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._requests: list[Recorded] = []
        self._http = LoopbackServer(self._handler_class(), "fake-pagerduty")

    @property
    def url(self) -> str:
        """The enqueue endpoint, as OPSBOT_PAGERDUTY_URL takes it."""
        return f"{self._http.base_url}{ENQUEUE_PATH}"

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The bodies of the events that were answered 202."""
        return [r.body for r in self.requests if r.status == 202]

    def fail(self, *statuses: int, retry_after: str | None = None) -> None:
        """Answer the next requests with these statuses (then normally again)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        with self._lock:
            self._failures.extend((status, headers) for status in statuses)

    def start(self) -> FakePagerDuty:
        self._http.start()
        return self

    def close(self) -> None:
        self._http.close()

    def _answer(self, path: str, body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if path != ENQUEUE_PATH:
            return 404, {"status": "not found", "message": f"no route for {path}"}, {}
        if failure is not None:
            status, headers = failure
            message = "Too many requests" if status == 429 else "Internal server error"
            return status, {"status": "error", "message": message}, headers
        errors = event_errors(body)
        if errors:
            return (
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
                {},
            )
        dedup_key = body.get("dedup_key") or uuid.uuid4().hex
        return 202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                status, answer, headers = fake._answer(self.path, body)
                with fake._lock:
                    fake._requests.append(
                        Recorded(
                            path=self.path,
                            headers={key.lower(): value for key, value in self.headers.items()},
                            body=body if isinstance(body, dict) else {},
                            status=status,
                        )
                    )
                send_json(self, status, answer, headers)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler


def unreachable_url() -> str:
    """An enqueue URL on a local port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{ENQUEUE_PATH}"


@pytest.fixture(name="fake_pagerduty")
def fake_pagerduty_fixture() -> Iterator[FakePagerDuty]:
    fake = FakePagerDuty().start()
    yield fake
    fake.close()
