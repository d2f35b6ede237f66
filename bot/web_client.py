"""The one place a Slack ``WebClient`` is built: base URL (``SLACK_API_URL`` in Settings) and retries."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web.base_client import BaseClient

DEFAULT_BASE_URL = BaseClient.BASE_URL


def retry_handlers(max_retries: int) -> list[RetryHandler]:
    """Retries for HTTP 429 (sleeping for ``Retry-After``), 500/503 and dropped connections
    (exponential backoff with jitter), each up to ``max_retries`` times."""
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
    return [
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
    ]


def make_web_client(token: str | None, base_url: str | None, max_retries: int = 3) -> WebClient:
    """A WebClient for ``base_url`` (Slack's own API when None or empty) that retries rate limits,
    server errors and connection errors.

    Note that a retried 5xx on a write (chat.postMessage) can post twice if Slack had already
    accepted the first attempt; Slack gives no idempotency key for messages.
    """
    return WebClient(
        token=token or None,
        base_url=base_url or DEFAULT_BASE_URL,
        retry_handlers=retry_handlers(max_retries),
    )
