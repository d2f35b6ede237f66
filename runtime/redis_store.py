"""``CoordinationStore`` on Redis, for several replicas: SET NX PX, Lua compare-and-delete, SCAN."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import redis
from redis import exceptions as redis_errors

from runtime.store_contract import (
    StoreError,
    StoreUnavailable,
    as_count,
    optional_ttl_milliseconds,
    ttl_milliseconds,
)

_T = TypeVar("_T")

_REDIS_SOCKET_TIMEOUT_SECONDS = 5.0
_SCAN_BATCH = 500

_RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

_INCR_IN_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) == -1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return count
"""

_ADD_AND_LIST = """
redis.call('SADD', KEYS[1], ARGV[1])
return redis.call('SMEMBERS', KEYS[1])
"""

# Errors that mean "the backend cannot serve us right now", as opposed to a bad request.
_REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.MasterDownError,
    redis_errors.OutOfMemoryError,
)


def _redact_url(url: str) -> str:
    """Drop any password from a Redis URL before it goes into an error message."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


class RedisStore:
    """CoordinationStore on Redis 7.0 (no modules): SET NX PX, Lua compare-and-delete, SCAN."""

    def __init__(self, url: str) -> None:
        self._where = _redact_url(url)
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=_REDIS_SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=_REDIS_SOCKET_TIMEOUT_SECONDS,
        )
        self._release_script = self._client.register_script(_RELEASE_IF_OWNER)
        self._incr_script = self._client.register_script(_INCR_IN_WINDOW)
        self._add_script = self._client.register_script(_ADD_AND_LIST)

    def _call(self, operation: Callable[[], _T]) -> _T:
        try:
            return operation()
        except _REDIS_UNAVAILABLE as error:
            raise StoreUnavailable(f"Redis at {self._where} is unavailable: {error}") from error
        except redis_errors.RedisError as error:
            raise StoreError(f"Redis at {self._where} refused the operation: {error}") from error

    def claim(self, key: str, owner: str, ttl_seconds: float | None = None) -> bool:
        px = optional_ttl_milliseconds(ttl_seconds)
        return bool(self._call(lambda: self._client.set(key, owner, nx=True, px=px)))

    def release(self, key: str, owner: str) -> bool:
        return bool(self._call(lambda: self._release_script(keys=[key], args=[owner])))

    def get(self, key: str) -> str | None:
        return cast("str | None", self._call(lambda: self._client.get(key)))

    def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        px = optional_ttl_milliseconds(ttl_seconds)
        self._call(lambda: self._client.set(key, value, px=px))

    def delete(self, key: str) -> None:
        self._call(lambda: self._client.delete(key))

    def incr_window(self, key: str, window_seconds: float) -> int:
        window_ms = ttl_milliseconds(window_seconds)
        return int(cast(int, self._call(lambda: self._incr_script(keys=[key], args=[window_ms]))))

    def peek_count(self, key: str) -> int:
        return as_count(key, self.get(key))

    def add_member(self, key: str, member: str) -> list[str]:
        found = cast("list[str]", self._call(lambda: self._add_script(keys=[key], args=[member])))
        return sorted(found)

    def members(self, key: str) -> list[str]:
        return sorted(cast("set[str]", self._call(lambda: self._client.smembers(key))))

    def keys(self, prefix: str) -> list[str]:
        pattern = _glob_escape(prefix) + "*"
        found = self._call(lambda: set(self._client.scan_iter(match=pattern, count=_SCAN_BATCH)))
        return sorted(cast("set[str]", found))

    def ping(self) -> None:
        self._call(self._client.ping)

    def close(self) -> None:
        self._client.close()
