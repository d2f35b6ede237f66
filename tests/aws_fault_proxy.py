"""A local HTTP proxy in front of moto's server that makes chosen AWS operations fail, like AWS does.

``AwsFaultProxy(upstream)`` listens on 127.0.0.1, port 0. ``proxy.fail("ModifyNetworkInterfaceAttribute",
times=2, kind="throttle")`` answers the next two requests for that operation with the throttling error
the service really sends, then forwards again; ``times=None`` fails every request. Everything else is
forwarded to moto unchanged. ``proxy.seen(operation)`` counts the requests that reached the proxy for
an operation, answered or forwarded, so a test can see the retries botocore made.

The operation is read the way the protocols carry it: ``Action=`` in the form body (EC2, Auto Scaling,
CloudWatch, the other query services), the ``X-Amz-Target`` header (JSON services such as WAFv2), or
for S3's path-style object requests the method (``PutObject``, ``GetObject``, ``HeadObject``,
``DeleteObject``).

Error bodies, as the services send them:
- EC2 (``ec2`` protocol): ``<Response><Errors><Error><Code>RequestLimitExceeded`` with HTTP 503.
- query services: ``<ErrorResponse><Error><Type>Sender</Type><Code>Throttling`` with HTTP 400.
- JSON services: ``{"__type": "ThrottlingException", "message": ...}`` with HTTP 400.
- S3 (REST): ``<Error><Code>SlowDown`` with HTTP 503.
- ``kind="unavailable"``: HTTP 503 with an empty body, as from a load balancer in front of the service.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Literal

from http_support import LoopbackServer

FaultKind = Literal["throttle", "unavailable"]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}

EC2_THROTTLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code>'
    "<Message>Request limit exceeded.</Message></Error></Errors>"
    "<RequestID>7c5f1a8e-0000-4000-8000-000000000000</RequestID></Response>"
)
QUERY_THROTTLE = (
    '<ErrorResponse xmlns="https://aws.amazon.com/"><Error><Type>Sender</Type><Code>Throttling</Code>'
    "<Message>Rate exceeded</Message></Error>"
    "<RequestId>7c5f1a8e-0000-4000-8000-000000000001</RequestId></ErrorResponse>"
)
S3_THROTTLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    "<Message>Please reduce your request rate.</Message><RequestId>7c5f1a8e00000002</RequestId></Error>"
)
JSON_THROTTLE = '{"__type":"ThrottlingException","message":"Rate exceeded"}'


@dataclass
class Fault:
    kind: FaultKind
    remaining: int | None  # None: every request fails


@dataclass(frozen=True)
class Request:
    operation: str
    protocol: Literal["ec2", "query", "json", "rest"]


def classify(method: str, path: str, headers: dict[str, str], body: bytes) -> Request:
    target = headers.get("x-amz-target")
    if target:
        return Request(target.rsplit(".", 1)[-1], "json")
    content_type = headers.get("content-type", "")
    if "x-www-form-urlencoded" in content_type:
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        action = form.get("Action", [""])[0]
        version = form.get("Version", [""])[0]
        # EC2's API version is 2016-11-15; its error body differs from the other query services'.
        return Request(action, "ec2" if version == "2016-11-15" else "query")
    return Request(rest_operation(method, path), "rest")


def rest_operation(method: str, path: str) -> str:
    """The S3 operation of a path-style request (``/bucket/key``) for the calls the tests fail."""
    route, _, query = path.partition("?")
    has_key = len(route.strip("/").split("/", 1)) == 2
    if not has_key or (query and method != "GET"):
        return f"{method} {route}"
    return {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
        method, method
    )


class AwsFaultProxy:
    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream_host = parsed.hostname or "127.0.0.1"
        self._upstream_port = parsed.port or 80
        self._faults: dict[str, Fault] = {}
        self._seen: Counter[str] = Counter()
        self.history: list[
            tuple[float, str, str]
        ] = []  # (monotonic time, operation, "forwarded" or the fault)
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._handler_class(), "aws-fault-proxy")
        self._http.start()

    @property
    def url(self) -> str:
        return self._http.base_url

    def fail(self, operation: str, times: int | None, kind: FaultKind = "throttle") -> None:
        with self._lock:
            self._faults[operation] = Fault(kind, times)

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()

    def seen(self, operation: str) -> int:
        with self._lock:
            return self._seen[operation]

    def stop(self) -> None:
        self._http.close()

    def _fault_for(self, request: Request) -> FaultKind | None:
        with self._lock:
            self._seen[request.operation] += 1
            fault = self._faults.get(request.operation)
            if fault is None or fault.remaining == 0:
                self.history.append((time.monotonic(), request.operation, "forwarded"))
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
            self.history.append((time.monotonic(), request.operation, fault.kind))
            return fault.kind

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = classify(self.command, self.path, headers, body)
                kind = proxy._fault_for(request)
                if kind is None:
                    self._reply(*proxy._forward(self.command, self.path, headers, body))
                else:
                    self._reply(*error_response(kind, request))

            def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        return Handler

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=30)
        try:
            forwarded = {name: value for name, value in headers.items() if name not in HOP_BY_HOP}
            connection.request(method, path, body=body or None, headers=forwarded)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def error_response(kind: FaultKind, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    if kind == "unavailable":
        return 503, [("Content-Type", "text/plain")], b""
    if request.protocol == "ec2":
        return 503, [("Content-Type", "text/xml;charset=UTF-8")], EC2_THROTTLE.encode()
    if request.protocol == "json":
        return 400, [("Content-Type", "application/x-amz-json-1.1")], JSON_THROTTLE.encode()
    if request.protocol == "rest":
        return 503, [("Content-Type", "application/xml")], S3_THROTTLE.encode()
    return 400, [("Content-Type", "text/xml")], QUERY_THROTTLE.encode()
