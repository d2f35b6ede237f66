"""PagerDuty Events API v2 over urllib: trigger, acknowledge and resolve alerts, deduplicated per incident.

``PagerDutyPager.send`` never raises: a refused event, a timeout or a server that is down comes back as a
``PageOutcome`` with ``sent=False`` and a one-sentence ``error``, and is logged (without the routing key).
Rate limits (429) and server errors (5xx) are retried with a short exponential backoff; any other answer
is final. ``NoPager`` stands in when no routing key is configured.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import SecretStr

from runtime.redaction import redact

log = logging.getLogger("opsbot.pagerduty")

EventAction = Literal["trigger", "acknowledge", "resolve"]
Severity = Literal["critical", "error", "warning", "info"]
SUMMARY_MAX = 1024  # PagerDuty truncates a longer summary
DEDUP_KEY_MAX = 255
SOURCE = "opsbot"
RETRY_AFTER_CAP_SECONDS = 30.0


@dataclass(frozen=True)
class PageEvent:
    """One Events API v2 event. ``dedup_key`` ties trigger, acknowledge and resolve to one PagerDuty alert."""

    action: EventAction
    dedup_key: str
    summary: str = ""
    severity: Severity = "critical"
    source: str = SOURCE
    component: str = ""
    group: str = ""
    event_class: str = ""
    custom_details: Mapping[str, Any] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # (href, text)


@dataclass(frozen=True)
class PageOutcome:
    sent: bool
    attempts: int = 0
    status: int | None = None  # the last HTTP status, None when no answer came
    error: str = ""
    dedup_key: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
            "dedup_key": self.dedup_key,
        }


class Pager(Protocol):
    """Where escalations go; ``enabled`` is False when nothing would be sent."""

    @property
    def enabled(self) -> bool: ...

    def send(self, event: PageEvent) -> PageOutcome: ...


class NoPager:
    """No routing key configured: nothing is paged."""

    @property
    def enabled(self) -> bool:
        return False

    def send(self, event: PageEvent) -> PageOutcome:
        return PageOutcome(sent=False, error="PagerDuty is not configured", dedup_key=event.dedup_key)


def event_body(routing_key: str, event: PageEvent) -> dict[str, Any]:
    """The Events API v2 JSON body. Acknowledge and resolve carry only the key and the action."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": event.action,
        "dedup_key": event.dedup_key[:DEDUP_KEY_MAX],
    }
    if event.action != "trigger":
        return body
    payload: dict[str, Any] = {
        "summary": event.summary[:SUMMARY_MAX] or "opsbot escalation",
        "source": event.source,
        "severity": event.severity,
    }
    for key, value in (("component", event.component), ("group", event.group), ("class", event.event_class)):
        if value:
            payload[key] = value
    if event.custom_details:
        payload["custom_details"] = redact(dict(event.custom_details))
    body["payload"] = payload
    body["client"] = "opsbot"
    if event.links:
        body["links"] = [{"href": href, "text": text} for href, text in event.links]
    return body


@dataclass(frozen=True)
class PagerDutyPager:
    """Sends events to ``url`` (the Events API v2 enqueue endpoint) with ``routing_key``."""

    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    attempts: int = 3
    backoff_seconds: float = 0.5  # doubled after each retry
    timeout_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"OPSBOT_PAGERDUTY_URL must be an http(s) URL, got {self.url!r}")

    @property
    def enabled(self) -> bool:
        return True

    def send(self, event: PageEvent) -> PageOutcome:
        data = json.dumps(event_body(self.routing_key.get_secret_value(), event)).encode()
        outcome = PageOutcome(sent=False, error="not sent", dedup_key=event.dedup_key)
        for attempt in range(1, max(1, self.attempts) + 1):
            outcome, retry_after = self._post_once(data, attempt, event.dedup_key)
            if outcome.sent or retry_after is None or attempt >= self.attempts:
                break
            self.sleep(retry_after if retry_after > 0 else self.backoff_seconds * 2 ** (attempt - 1))
        if not outcome.sent:
            log.warning("PagerDuty %s for %s failed: %s", event.action, event.dedup_key, outcome.error)
        return outcome

    def _post_once(self, data: bytes, attempt: int, dedup_key: str) -> tuple[PageOutcome, float | None]:
        """One POST: the outcome, and how long to wait before retrying (None: do not retry; 0: backoff)."""
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(self.url, data=data, method="POST", headers=headers)  # noqa: S310 - http(s) only
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                answer = _json_or_empty(response.read())
                key = str(answer.get("dedup_key") or dedup_key)
                return PageOutcome(sent=True, attempts=attempt, status=response.status, dedup_key=key), None
        except urllib.error.HTTPError as error:
            answer = _json_or_empty(error.read())
            reason = _refusal(error.code, answer)
            outcome = PageOutcome(False, attempt, error.code, reason, dedup_key)
            retryable = error.code == 429 or error.code >= 500
            return outcome, _retry_after(error.headers.get("Retry-After")) if retryable else None
        except OSError as error:  # URLError, a timeout, a refused or reset connection
            cause = error.reason if isinstance(error, urllib.error.URLError) else error
            outcome = PageOutcome(False, attempt, None, f"PagerDuty could not be reached: {cause}", dedup_key)
            return outcome, 0.0


def _json_or_empty(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _refusal(status: int, answer: Mapping[str, Any]) -> str:
    message = str(answer.get("message") or answer.get("status") or "no reason given")
    errors = answer.get("errors")
    detail = f" ({'; '.join(str(e) for e in errors)})" if isinstance(errors, list) and errors else ""
    if status == 429:
        return "PagerDuty is rate limiting opsbot (HTTP 429)"
    return f"PagerDuty answered HTTP {status}: {message}{detail}"


def _retry_after(value: str | None) -> float:
    """Seconds from a Retry-After header (capped), or 0 for "use the backoff"."""
    try:
        return min(max(float(value or 0), 0.0), RETRY_AFTER_CAP_SECONDS)
    except ValueError:
        return 0.0


def pager_from_settings(routing_key: SecretStr | None, url: str, **options: Any) -> PagerDutyPager | NoPager:
    """A PagerDuty pager when a routing key is configured, otherwise ``NoPager``."""
    if routing_key is None or not routing_key.get_secret_value().strip():
        return NoPager()
    return PagerDutyPager(routing_key=routing_key, url=url, **options)
