"""When to retry an LLM call and how long to wait: pure functions, so the policy is testable alone."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

OVERLOADED_STATUS = 529


def is_retryable_status(status: int) -> bool:
    """429 (rate limited), 5xx and 529 (overloaded) are worth another try; other 4xx never are."""
    return status == 429 or 500 <= status <= 599


def retry_after_seconds(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """The server's requested wait: ``retry-after-ms``, or ``retry-after`` in seconds or as an HTTP date."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    raw = headers.get("retry-after")
    if raw is None:
        return None
    seconds = _number(raw)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def backoff_seconds(attempt: int, base: float, cap: float, jitter: Callable[[], float]) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random (``jitter`` in [0, 1))."""
    step = min(cap, base * 2.0**attempt)
    return step / 2 + step / 2 * jitter()


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None
