"""Coordination store: claims, short-lived values, windowed counters and sets, on Redis or on SQLite.

Redis is the store for several replicas; SQLite is the embedded default for the CLI and the demo. Both
implement one contract (``CoordinationStore``) and pass one shared test suite. Every backend failure is
raised as ``StoreUnavailable`` so callers fail closed instead of acting without coordination.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar, cast, runtime_checkable

import redis
from redis import exceptions as redis_errors

_T = TypeVar("_T")

_BUSY_TIMEOUT_SECONDS = 30.0
_REDIS_SOCKET_TIMEOUT_SECONDS = 5.0
_SCAN_BATCH = 500


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


def open_store(redis_url: str | None, sqlite_path: Path) -> CoordinationStore:
    """Redis when a URL is configured, otherwise the embedded SQLite file.

    A configured Redis that is down is never replaced by SQLite: two processes coordinating through
    different stores would both believe they hold the same claim.
    """
    if redis_url:
        return RedisStore(redis_url)
    return SqliteStore(sqlite_path)


def _ttl_milliseconds(ttl_seconds: float) -> int:
    if not ttl_seconds > 0 or math.isinf(ttl_seconds):
        raise ValueError(f"ttl_seconds must be a positive finite number, got {ttl_seconds!r}")
    return max(1, math.ceil(ttl_seconds * 1000))


# --------------------------------------------------------------------------------------------- Redis

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
        px = None if ttl_seconds is None else _ttl_milliseconds(ttl_seconds)
        return bool(self._call(lambda: self._client.set(key, owner, nx=True, px=px)))

    def release(self, key: str, owner: str) -> bool:
        return bool(self._call(lambda: self._release_script(keys=[key], args=[owner])))

    def get(self, key: str) -> str | None:
        return cast("str | None", self._call(lambda: self._client.get(key)))

    def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        px = None if ttl_seconds is None else _ttl_milliseconds(ttl_seconds)
        self._call(lambda: self._client.set(key, value, px=px))

    def delete(self, key: str) -> None:
        self._call(lambda: self._client.delete(key))

    def incr_window(self, key: str, window_seconds: float) -> int:
        window_ms = _ttl_milliseconds(window_seconds)
        return int(cast(int, self._call(lambda: self._incr_script(keys=[key], args=[window_ms]))))

    def peek_count(self, key: str) -> int:
        value = self.get(key)
        return _as_count(key, value)

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


def _as_count(key: str, value: str | None) -> int:
    if value is None:
        return 0
    try:
        return int(value)
    except ValueError:
        raise StoreError(f"key {key!r} holds a value that is not a counter") from None


# -------------------------------------------------------------------------------------------- SQLite

_KIND_STRING = "string"
_KIND_SET = "set"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at REAL
);
CREATE INDEX IF NOT EXISTS entries_expires_at ON entries (expires_at) WHERE expires_at IS NOT NULL;
"""


class _HeldConnection:
    """One thread's connection; when the thread ends this object goes, and a finalizer closes it."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection


class _ThreadConnection(threading.local):
    held: _HeldConnection | None = None


class SqliteStore:
    """CoordinationStore in one SQLite file: persistent, safe across threads and processes.

    Each thread gets its own connection; every write runs in a ``BEGIN IMMEDIATE`` transaction, so
    writers serialise on SQLite's file lock (WAL mode, busy timeout). Expired rows are ignored by
    every read and purged by every write.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._path = Path(path)
        self._clock = clock
        self._local = _ThreadConnection()
        self._closers: list[weakref.finalize[[], _HeldConnection]] = []
        self._inherited: list[_HeldConnection] = []
        self._pid = os.getpid()
        self._opened_lock = threading.Lock()
        # Serialises this process's writers before SQLite's file lock does, sparing them the busy-wait.
        self._write_lock = threading.Lock()
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnavailable(
                f"cannot create the folder for the SQLite store at {self._path}: {error}"
            ) from error
        self._create_schema()

    # -- connections and transactions

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():
            self._forget_connections_of_parent()
        local = self._local
        if local.held is None:
            connection = sqlite3.connect(
                self._path,
                timeout=_BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,  # used by its thread only, but closed by whoever outlives it
            )
            connection.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_SECONDS * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            local.held = _HeldConnection(connection)
            closer = weakref.finalize(local.held, connection.close)
            with self._opened_lock:
                self._closers = [*(known for known in self._closers if known.alive), closer]
        return local.held.connection

    def _forget_connections_of_parent(self) -> None:
        """After a fork, open fresh connections; the parent's are kept open, unused, because SQLite
        forbids carrying a connection across fork, and closing one would drop this process's locks."""
        with self._opened_lock:
            for closer in self._closers:
                detached = closer.detach()
                if detached is not None:
                    self._inherited.append(detached[0])
            self._closers = []
            self._local = _ThreadConnection()
            self._pid = os.getpid()

    def _create_schema(self) -> None:
        with self._transaction() as connection:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE transaction: it takes SQLite's write lock up front, so read-modify-write
        sequences inside it are atomic across threads and processes."""
        try:
            with self._write_lock:
                connection = self._connection()
                if connection.in_transaction:  # left open by a COMMIT that failed earlier
                    connection.execute("ROLLBACK")
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise StoreUnavailable(f"the SQLite store at {self._path} failed: {error}") from error

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._transaction() as connection:
            connection.execute(
                "DELETE FROM entries WHERE expires_at IS NOT NULL AND expires_at <= ?", (self._clock(),)
            )
            yield connection

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"the SQLite store at {self._path} failed: {error}") from error

    def _live_row(self, connection: sqlite3.Connection, key: str) -> tuple[str, str] | None:
        row = connection.execute(
            "SELECT kind, value FROM entries WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, self._clock()),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def _expiry(self, ttl_seconds: float | None) -> float | None:
        return None if ttl_seconds is None else self._clock() + _ttl_milliseconds(ttl_seconds) / 1000

    # -- the contract

    def claim(self, key: str, owner: str, ttl_seconds: float | None = None) -> bool:
        expires_at = self._expiry(ttl_seconds)
        with self._write() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO entries (key, kind, value, expires_at) VALUES (?, ?, ?, ?)",
                (key, _KIND_STRING, owner, expires_at),
            )
            return cursor.rowcount == 1

    def release(self, key: str, owner: str) -> bool:
        with self._write() as connection:
            cursor = connection.execute(
                "DELETE FROM entries WHERE key = ? AND kind = ? AND value = ?", (key, _KIND_STRING, owner)
            )
            return cursor.rowcount == 1

    def get(self, key: str) -> str | None:
        rows = self._read(
            "SELECT kind, value FROM entries WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, self._clock()),
        )
        if not rows:
            return None
        kind, value = rows[0]
        if kind != _KIND_STRING:
            raise StoreError(f"key {key!r} holds a set, not a value")
        return str(value)

    def put(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        expires_at = self._expiry(ttl_seconds)
        with self._write() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO entries (key, kind, value, expires_at) VALUES (?, ?, ?, ?)",
                (key, _KIND_STRING, value, expires_at),
            )

    def delete(self, key: str) -> None:
        with self._write() as connection:
            connection.execute("DELETE FROM entries WHERE key = ?", (key,))

    def incr_window(self, key: str, window_seconds: float) -> int:
        window_ms = _ttl_milliseconds(window_seconds)
        with self._write() as connection:
            row = self._live_row(connection, key)
            if row is None:
                connection.execute(
                    "INSERT INTO entries (key, kind, value, expires_at) VALUES (?, ?, '1', ?)",
                    (key, _KIND_STRING, self._clock() + window_ms / 1000),
                )
                return 1
            kind, value = row
            if kind != _KIND_STRING:
                raise StoreError(f"key {key!r} holds a set, not a counter")
            count = _as_count(key, value) + 1
            connection.execute(
                "UPDATE entries SET value = ?, expires_at = COALESCE(expires_at, ?) WHERE key = ?",
                (str(count), self._clock() + window_ms / 1000, key),
            )
            return count

    def peek_count(self, key: str) -> int:
        return _as_count(key, self.get(key))

    def add_member(self, key: str, member: str) -> list[str]:
        with self._write() as connection:
            row = self._live_row(connection, key)
            if row is not None and row[0] != _KIND_SET:
                raise StoreError(f"key {key!r} holds a value, not a set")
            current = set() if row is None else set(json.loads(row[1]))
            current.add(member)
            found = sorted(current)
            connection.execute(
                "INSERT OR REPLACE INTO entries (key, kind, value, expires_at) VALUES (?, ?, ?, NULL)",
                (key, _KIND_SET, json.dumps(found)),
            )
            return found

    def members(self, key: str) -> list[str]:
        rows = self._read(
            "SELECT kind, value FROM entries WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
            (key, self._clock()),
        )
        if not rows:
            return []
        kind, value = rows[0]
        if kind != _KIND_SET:
            raise StoreError(f"key {key!r} holds a value, not a set")
        return sorted(str(member) for member in json.loads(str(value)))

    def keys(self, prefix: str) -> list[str]:
        rows = self._read(
            "SELECT key FROM entries WHERE substr(key, 1, ?) = ? AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY key",
            (len(prefix), prefix, self._clock()),
        )
        return [str(row[0]) for row in rows]

    def ping(self) -> None:
        self._read("SELECT count(*) FROM entries WHERE 0", ())

    def close(self) -> None:
        with self._opened_lock:
            closers, self._closers = self._closers, []
        for closer in closers:
            closer()
        self._local = _ThreadConnection()
