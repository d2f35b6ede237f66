"""``CoordinationStore`` in one SQLite file: the embedded default for the CLI and the demo."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from runtime.store_contract import StoreError, StoreUnavailable, as_count, ttl_milliseconds

_BUSY_TIMEOUT_SECONDS = 30.0

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

_SELECT_LIVE_ROW = "SELECT kind, value FROM entries WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)"


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
        """The unexpired (kind, value) at key, read inside a write transaction."""
        row = connection.execute(_SELECT_LIVE_ROW, (key, self._clock())).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def _read_live_row(self, key: str) -> tuple[str, str] | None:
        """The unexpired (kind, value) at key, read outside any transaction."""
        rows = self._read(_SELECT_LIVE_ROW, (key, self._clock()))
        return None if not rows else (str(rows[0][0]), str(rows[0][1]))

    def _expiry(self, ttl_seconds: float | None) -> float | None:
        return None if ttl_seconds is None else self._clock() + ttl_milliseconds(ttl_seconds) / 1000

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
        row = self._read_live_row(key)
        if row is None:
            return None
        kind, value = row
        if kind != _KIND_STRING:
            raise StoreError(f"key {key!r} holds a set, not a value")
        return value

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
        window_ms = ttl_milliseconds(window_seconds)
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
            count = as_count(key, value) + 1
            connection.execute(
                "UPDATE entries SET value = ?, expires_at = COALESCE(expires_at, ?) WHERE key = ?",
                (str(count), self._clock() + window_ms / 1000, key),
            )
            return count

    def peek_count(self, key: str) -> int:
        return as_count(key, self.get(key))

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
        row = self._read_live_row(key)
        if row is None:
            return []
        kind, value = row
        if kind != _KIND_SET:
            raise StoreError(f"key {key!r} holds a value, not a set")
        return sorted(str(member) for member in json.loads(value))

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
