"""Coordination store: claims, short-lived values, windowed counters and sets, on Redis or on SQLite.

Redis is the store for several replicas; SQLite is the embedded default for the CLI and the demo. Both
implement one contract (``CoordinationStore``) and pass one shared test suite. Every backend failure is
raised as ``StoreUnavailable`` so callers fail closed instead of acting without coordination.

The contract and its errors live in ``runtime.store_contract`` and the backends in ``runtime.redis_store``
and ``runtime.sqlite_store``; this module re-exports them all, so callers import from here alone.
"""

from __future__ import annotations

from pathlib import Path

from runtime.redis_store import RedisStore
from runtime.sqlite_store import SqliteStore
from runtime.store_contract import CoordinationStore, StoreError, StoreUnavailable

__all__ = [
    "CoordinationStore",
    "RedisStore",
    "SqliteStore",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]


def open_store(redis_url: str | None, sqlite_path: Path) -> CoordinationStore:
    """Redis when a URL is configured, otherwise the embedded SQLite file.

    A configured Redis that is down is never replaced by SQLite: two processes coordinating through
    different stores would both believe they hold the same claim.
    """
    if redis_url:
        return RedisStore(redis_url)
    return SqliteStore(sqlite_path)
