"""A worker's tiny HTTP side: /metrics for Prometheus and /healthz for the orchestrator, nothing else."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from runtime.metrics import render_latest

log = logging.getLogger("opsbot.http")


class HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], healthy: Callable[[], bool]) -> None:
        super().__init__(address, _HealthHandler)
        self.healthy = healthy


class _HealthHandler(BaseHTTPRequestHandler):
    server: HealthServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/metrics":
            body, content_type = render_latest()
            self._send(HTTPStatus.OK, body, content_type)
        elif self.path == "/healthz":
            ok = self.server.healthy()
            status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            self._send(status, json.dumps({"ok": ok}).encode(), "application/json")
        else:
            self._send(HTTPStatus.NOT_FOUND, b'{"error": "not found"}', "application/json")


def start_health_server(host: str, port: int, healthy: Callable[[], bool]) -> HealthServer:
    """Serve /metrics and /healthz on ``host:port`` (0 picks a free port) from a daemon thread."""
    server = HealthServer((host, port), healthy)
    threading.Thread(target=server.serve_forever, name="health-server", daemon=True).start()
    return server
