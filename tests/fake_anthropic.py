"""A local fake of the Claude Messages API, as the Anthropic API and Bedrock runtime serve it.

It listens on 127.0.0.1, port 0, in a daemon thread, and answers the real SDK clients:
``anthropic.Anthropic(base_url=fake.url)`` on ``POST /v1/messages`` and
``anthropic.AnthropicBedrock(base_url=fake.url)`` on ``POST /model/{model_id}/invoke``. Bedrock's
SigV4 signature is accepted without being verified, but every request's headers are recorded, so a
test can assert what was sent.

Answers are scripted, in order: a reply dict (see ``text_reply`` and ``tool_use_reply``, which follow
the Messages API response shape) or a ``Failure``. Failures take each provider's error shape: the
Anthropic API's ``{"type": "error", "error": {"type": ..., "message": ...}}`` and Bedrock's
``{"message": ...}`` with an ``x-amzn-ErrorType`` header. A request with nothing scripted gets a 400,
so a test never passes on an unplanned call; so does one the real API refuses whatever the script says:
a sampling parameter (``temperature``, ``top_p``, ``top_k``) on API version 2026-10-21.

Use the ``fake_anthropic`` fixture from a test module with
``from fake_anthropic import fake_anthropic_fixture  # noqa: F401``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from http_support import LoopbackServer, send_json

DEFAULT_MODEL = "claude-sonnet-5-5"
# API version 2026-10-21 (what anthropic 2.x sends) refuses sampling parameters, even at their defaults.
CURRENT_API_VERSION = "2026-10-21"
SAMPLING_PARAMS = frozenset({"temperature", "top_p", "top_k"})

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_ERROR_MESSAGES = {
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    529: "Overloaded",
}
# Bedrock runtime InvokeModel errors (the API reference's Errors section).
_BEDROCK_ERRORS = {
    400: ("ValidationException", "Malformed input request, please reformat your input and try again."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "The specified model could not be found."),
    408: ("ModelTimeoutException", "The request took too long to process."),
    424: ("ModelErrorException", "The model encountered an error while processing the request."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "An internal server error occurred. Retry your request."),
    503: ("ServiceUnavailableException", "The service is temporarily unable to handle the request."),
}


@dataclass(frozen=True)
class Failure:
    """An error answer: the status, an optional ``retry-after`` (seconds or HTTP date) and body."""

    status: int
    retry_after: float | str | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """One request the fake received; ``headers`` keys are lower-case, ``at`` is time.monotonic()."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any]
    at: float

    @property
    def provider(self) -> str:
        return "bedrock" if self.path.startswith("/model/") else "anthropic"

    @property
    def model(self) -> str | None:
        """The model id from the Bedrock path, or from the Anthropic request body."""
        if self.provider == "bedrock":
            return unquote(self.path.split("/")[2])
        model = self.json.get("model")
        return str(model) if model is not None else None


@dataclass(frozen=True)
class _Scripted:
    answer: dict[str, Any] | Failure
    delay: float


def usage_block(
    input: int = 25, output: int = 40, cache_read: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    """The ``usage`` object of a Messages API response."""
    return {
        "input_tokens": input,
        "output_tokens": output,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    }


def _message(
    content: list[dict[str, Any]], model: str, stop_reason: str, usage: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": f"msg_01{uuid.uuid4().hex[:22]}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": model,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or usage_block(),
    }


def _thinking_block(thinking: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": thinking, "signature": f"EqQB{uuid.uuid4().hex}"}


def text_reply(
    text: str,
    *,
    model: str = DEFAULT_MODEL,
    usage: dict[str, Any] | None = None,
    stop_reason: str = "end_turn",
    thinking: str | None = None,
) -> dict[str, Any]:
    """A Messages API response whose content is one text block (after an optional thinking block)."""
    content = [_thinking_block(thinking)] if thinking is not None else []
    content.append({"type": "text", "text": text})
    return _message(content, model, stop_reason, usage)


def tool_use_reply(
    name: str,
    input: dict[str, Any],
    *,
    model: str = DEFAULT_MODEL,
    text: str | None = None,
    tool_id: str | None = None,
    usage: dict[str, Any] | None = None,
    thinking: str | None = None,
) -> dict[str, Any]:
    """A Messages API response that calls one tool (``stop_reason: tool_use``)."""
    content = [_thinking_block(thinking)] if thinking is not None else []
    if text is not None:
        content.append({"type": "text", "text": text})
    content.append(
        {
            "type": "tool_use",
            "id": tool_id or f"toolu_01{uuid.uuid4().hex[:22]}",
            "name": name,
            "input": input,
        }
    )
    return _message(content, model, "tool_use", usage)


class FakeAnthropic:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._requests: list[Recorded] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._http = LoopbackServer(self._handler_class(), "fake-anthropic")

    @property
    def url(self) -> str:
        return self._http.base_url

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def pending(self) -> int:
        """Scripted answers not yet used."""
        with self._lock:
            return len(self._script)

    def script(self, *answers: dict[str, Any] | Failure, delay: float = 0.0) -> None:
        """Queue answers for the next requests, in order; ``delay`` holds each one back that long."""
        with self._lock:
            self._script.extend(_Scripted(answer, delay) for answer in answers)

    def start(self) -> FakeAnthropic:
        self._http.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._http.close()

    def _next(self, recorded: Recorded) -> _Scripted | None:
        with self._lock:
            self._requests.append(recorded)
            return self._script.popleft() if self._script else None

    def _refusal(self, recorded: Recorded) -> str | None:
        """The 400 the real API gives a sampling parameter on version 2026-10-21 (recorded, not scripted)."""
        version = recorded.json.get("anthropic_version") or recorded.headers.get("anthropic-version")
        sampling = sorted(SAMPLING_PARAMS & recorded.json.keys())
        if version != CURRENT_API_VERSION or not sampling:
            return None
        with self._lock:
            self._requests.append(recorded)
        if recorded.provider == "bedrock":
            return f"Malformed input request: #: extraneous key [{sampling[0]}] is not permitted"
        return f"{sampling[0]}: Extra inputs are not permitted"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                recorded = Recorded(
                    method="POST",
                    path=path,
                    headers={key.lower(): value for key, value in self.headers.items()},
                    json=json.loads(raw) if raw else {},
                    at=time.monotonic(),
                )
                is_messages = path == "/v1/messages" or (
                    path.startswith("/model/") and path.endswith("/invoke") and path.count("/") == 3
                )
                refusal = fake._refusal(recorded) if is_messages else None
                scripted = fake._next(recorded) if is_messages and refusal is None else None
                if not is_messages:
                    status, body, headers = fake._error(recorded, Failure(404), f"no route for {path}")
                elif refusal is not None:
                    status, body, headers = fake._error(recorded, Failure(400), refusal)
                elif scripted is None:
                    failure = Failure(400)
                    status, body, headers = fake._error(recorded, failure, "fake: no scripted response left")
                else:
                    if scripted.delay and fake._stopping.wait(scripted.delay):
                        return
                    status, body, headers = fake._answer(recorded, scripted.answer)
                self._send(status, body, headers)

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                send_json(self, status, body, headers)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    def _request_id_headers(self, recorded: Recorded) -> dict[str, str]:
        number = next(self._ids)
        if recorded.provider == "bedrock":
            return {"x-amzn-RequestId": str(uuid.UUID(int=number))}
        return {"request-id": f"req_fake_{number:06d}"}

    def _answer(
        self, recorded: Recorded, answer: dict[str, Any] | Failure
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if isinstance(answer, Failure):
            return self._error(recorded, answer, None)
        headers = self._request_id_headers(recorded)
        if recorded.provider == "bedrock":
            usage = answer.get("usage", {})
            headers["X-Amzn-Bedrock-Input-Token-Count"] = str(usage.get("input_tokens", 0))
            headers["X-Amzn-Bedrock-Output-Token-Count"] = str(usage.get("output_tokens", 0))
        return 200, answer, headers

    def _error(
        self, recorded: Recorded, failure: Failure, message: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = {**self._request_id_headers(recorded), **failure.headers}
        if failure.retry_after is not None:
            headers["retry-after"] = str(failure.retry_after)
        if recorded.provider == "bedrock":
            error_type, default = _BEDROCK_ERRORS.get(failure.status, _BEDROCK_ERRORS[500])
            headers["x-amzn-ErrorType"] = f"{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            body = failure.body or {"message": message or default}
        else:
            error_type = _ANTHROPIC_ERROR_TYPES.get(failure.status, "api_error")
            text = message or _ANTHROPIC_ERROR_MESSAGES.get(failure.status, error_type.replace("_", " "))
            body = failure.body or {
                "type": "error",
                "error": {"type": error_type, "message": text},
                "request_id": headers.get("request-id"),
            }
        return failure.status, body, headers


@pytest.fixture(name="fake_anthropic")
def fake_anthropic_fixture() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic().start()
    yield fake
    fake.close()
