"""What every coordination backend shares: the ``CoordinationStore`` contract, its errors and helpers.

The backends import from here rather than from ``runtime.store``, which re-exports them, so that no
module imports its own importer.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable


class StoreError(RuntimeError):
    """The store refused an operation, for example a counter operation on a key that holds a set."""


class StoreUnavailable(StoreError):
    """The coordination backend cannot be reached or cannot accept writes; callers must fail closed."""


@runtime_checkable
class CoordinationStore(Protocol):
    """Atomic coordination primitives shared by every opsbot process."""

    def claim(self, key: str, owner: str, ttl_seconds: float | None = None) -> bool:
        """Set key to owner only if it is absent (or expired); True for the one caller that set it."""
        ...

    def release(self, key: str, owner: str) -> bool:
        """Delete key only while owner still holds it; True if it was deleted."""
        ...

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def incr_window(self, key: str, window_seconds: float) -> int:
        """Increment a fixed-window counter; the window starts at the first increment."""
        ...

    def peek_count(self, key: str) -> int: ...

    def add_member(self, key: str, member: str) -> list[str]:
        """Add member to the set at key and return every member, sorted, as seen right after the add."""
        ...

    def members(self, key: str) -> list[str]: ...

    def keys(self, prefix: str) -> list[str]:
        """Unexpired keys starting with prefix, sorted."""
        ...

    def ping(self) -> None:
        """Return if the backend answers, otherwise raise StoreUnavailable."""
        ...

    def close(self) -> None: ...


def ttl_milliseconds(ttl_seconds: float) -> int:
    """A TTL in whole milliseconds, rounded up, at least 1; ValueError unless positive and finite."""
    if not ttl_seconds > 0 or math.isinf(ttl_seconds):
        raise ValueError(f"ttl_seconds must be a positive finite number, got {ttl_seconds!r}")
    return max(1, math.ceil(ttl_seconds * 1000))


def optional_ttl_milliseconds(ttl_seconds: float | None) -> int | None:
    """``ttl_milliseconds`` for a TTL that may be absent (no expiry)."""
    return None if ttl_seconds is None else ttl_milliseconds(ttl_seconds)


def as_count(key: str, value: str | None) -> int:
    """The counter stored at key: 0 when absent, StoreError when the value is not an integer."""
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise StoreError(f"key {key!r} holds a value that is not a counter") from None
