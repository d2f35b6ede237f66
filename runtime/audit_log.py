"""Tamper-evident audit log: append-only JSON lines, each carrying the hash of the line before it.

Every line is ``{"seq", "ts", "kind", "thread_id", "data", "prev_hash", "hash"}`` written as canonical
JSON (sorted keys, compact separators). ``hash`` is the SHA-256 of the canonical JSON of the other six
fields; ``prev_hash`` is the previous line's ``hash`` (64 zeros for the first line); ``seq`` starts at 1
and has no gaps. Secrets are redacted before hashing, so they never reach the file.

Appends are safe across threads and processes: each append opens the file, takes an exclusive
``flock``, reads only the last line (seeking from the end), and writes one line with ``O_APPEND``.

A hash chain detects edits, deletions, reordering and forged lines anywhere before the last line. It
cannot by itself detect that the newest lines were cut off: compare ``VerifyReport.last_hash`` with a
copy kept elsewhere (a Slack message, an object-locked S3 bucket) for that.

With an ``exporter`` (``runtime.audit_export``), every append is also copied to an object-locked S3
bucket after the line is written; an export that fails never undoes or blocks the local entry.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from runtime.redaction import mask_secrets, redact

GENESIS_HASH = "0" * 64
FIELDS = frozenset({"seq", "ts", "kind", "thread_id", "data", "prev_hash", "hash"})

_TAIL_CHUNK = 4096
_HEX64 = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger(__name__)


class EntryExporter(Protocol):
    """Copies the entries not yet exported to somewhere else; reports failures itself, never raises."""

    def export_pending(self, log_path: Path) -> object: ...


class AuditLogError(RuntimeError):
    """The audit log could not be written or read."""


class AuditLogCorrupted(AuditLogError):
    """The last line of the audit log is not a valid entry, so nothing more can be chained to it."""


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: str
    kind: str
    thread_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyReport:
    """Result of ``verify``.

    ``entries`` counts the entries that verified before the first problem (all of them when ``ok``).
    ``first_bad_seq`` is the seq expected at the first bad line: for a deleted entry that is the missing
    seq, for an edited entry its own seq, for a broken link the seq of the line whose prev_hash is wrong.
    ``last_hash`` is the hash of the last entry that verified, for comparison with a copy kept elsewhere.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str
    last_hash: str = GENESIS_HASH


# ------------------------------------------------------------------------------------------ hashing


def canonical_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of every field except ``hash``."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------ writing


class AuditLog:
    """Appends hash-chained entries to one JSON-lines file."""

    def __init__(
        self,
        path: Path,
        *,
        fsync: bool = False,
        clock: Callable[[], datetime] = _utc_now,
        exporter: EntryExporter | None = None,
    ) -> None:
        self._path = Path(path)
        self._fsync = fsync
        self._clock = clock
        self._exporter = exporter

    @property
    def path(self) -> Path:
        return self._path

    def append(self, kind: str, thread_id: str, data: Mapping[str, Any]) -> AuditEntry:
        """Redact data, chain it to the last entry and write it as one line; return what was written."""
        clean_data = redact(dict(data))
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise AuditLogError(f"cannot open the audit log at {self._path}: {error}") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last_seq, last_hash = self._last_link(fd)
            record: dict[str, Any] = {
                "seq": last_seq + 1,
                "ts": self._clock().astimezone(UTC).isoformat(timespec="microseconds"),
                "kind": mask_secrets(kind),
                "thread_id": mask_secrets(thread_id),
                "data": clean_data,
                "prev_hash": last_hash,
            }
            record["hash"] = entry_hash(record)
            _write_all(fd, (canonical_json(record) + "\n").encode("utf-8"))
            if self._fsync:
                os.fsync(fd)
        except OSError as error:
            raise AuditLogError(f"cannot append to the audit log at {self._path}: {error}") from error
        finally:
            os.close(fd)  # also releases the flock
        self._export()
        return AuditEntry(**record)

    def _export(self) -> None:
        """Copy new entries out (after the lock is released); the local entry stands whatever happens."""
        if self._exporter is None:
            return
        try:
            self._exporter.export_pending(self._path)
        except Exception:
            log.exception("exporting the audit log at %s failed; the entries stay in the backlog", self._path)

    def _last_link(self, fd: int) -> tuple[int, str]:
        """Seq and hash of the last entry, read from the end of the file; (0, genesis) when empty."""
        line = _read_last_line(fd)
        if line is None:
            return 0, GENESIS_HASH
        problem = "it has no line end (a write was cut short)" if not line.endswith(b"\n") else None
        record = None if problem else _parse(line)
        if problem is None and record is None:
            problem = "it is not a valid entry"
        if record is not None and record["hash"] != entry_hash(record):
            problem = "its hash does not match its content"
        if problem or record is None:
            raise AuditLogCorrupted(
                f"the last line of the audit log at {self._path} is unusable because {problem}; "
                "run verify and move the file aside to start a new chain."
            )
        return int(record["seq"]), str(record["hash"])

    def verify(self) -> VerifyReport:
        return verify(self._path)

    def entries(self, thread_id: str | None = None, kind: str | None = None) -> Iterator[dict[str, Any]]:
        return entries(self._path, thread_id=thread_id, kind=kind)


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_last_line(fd: int) -> bytes | None:
    """The file's last line (with its line end, if any), reading backwards in chunks."""
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    tail = b""
    position = size
    while position > 0:
        step = min(_TAIL_CHUNK, position)
        position -= step
        tail = os.pread(fd, step, position) + tail
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut != -1:
            return tail[cut + 1 :]
    return tail


def parse_line(line: bytes) -> dict[str, Any] | None:
    """The entry on one line if it is well-formed, otherwise None."""
    return _parse(line)


def read_lines(path: Path, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(offset after the line, line)`` for each complete line from byte ``start`` on, as of now."""
    size = _snapshot_size(path)
    with path.open("rb") as handle:
        handle.seek(start)
        position = start
        while position < size:
            line = handle.readline(size - position)
            if not line.endswith(b"\n"):
                return
            position += len(line)
            yield position, line


def _parse(line: bytes) -> dict[str, Any] | None:
    """The entry on one line if it is well-formed (all fields, right types), otherwise None."""
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(record, dict) or set(record) != FIELDS:
        return None
    seq = record["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return None
    if not all(isinstance(record[name], str) for name in ("ts", "kind", "thread_id")):
        return None
    if not isinstance(record["data"], dict):
        return None
    if not all(
        isinstance(record[name], str) and _HEX64.fullmatch(record[name]) for name in ("prev_hash", "hash")
    ):
        return None
    return record


# ------------------------------------------------------------------------------------------ reading


def _snapshot_size(path: Path) -> int:
    """File size at a moment when no append is half-written (appends hold LOCK_EX while writing)."""
    with path.open("rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            return os.fstat(handle.fileno()).st_size
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _lines(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        read = 0
        while read < size:
            line = handle.readline(size - read)
            if not line:
                return
            read += len(line)
            yield line


def verify(path: Path) -> VerifyReport:
    """Walk the whole chain and report the first entry that was edited, removed, moved or forged."""
    path = Path(path)
    try:
        size = _snapshot_size(path)
    except FileNotFoundError:
        return VerifyReport(False, 0, None, f"the audit log {path} does not exist")
    except OSError as error:
        return VerifyReport(False, 0, None, f"the audit log {path} cannot be read: {error}")

    expected_seq, previous_hash = 1, GENESIS_HASH
    for line_number, line in enumerate(_lines(path, size), start=1):

        def bad(reason: str, seq: int = expected_seq, prev: str = previous_hash) -> VerifyReport:
            return VerifyReport(False, seq - 1, seq, reason, prev)

        if not line.endswith(b"\n"):
            return bad(f"line {line_number} (entry {expected_seq}) is truncated: it has no line end")
        record = _parse(line)
        if record is None:
            return bad(f"line {line_number} (entry {expected_seq}) is not a valid audit entry")
        seq = record["seq"]
        if seq > expected_seq:
            return bad(
                f"line {line_number} holds entry {seq} where entry {expected_seq} belongs: "
                "entries were deleted or reordered"
            )
        if seq < expected_seq:
            return bad(
                f"line {line_number} holds entry {seq} again where entry {expected_seq} belongs: "
                "entries were duplicated or reordered"
            )
        if record["prev_hash"] != previous_hash:
            return bad(
                f"entry {seq} does not link to the entry before it (prev_hash mismatch): "
                "the chain was broken or the entry forged"
            )
        if record["hash"] != entry_hash(record):
            return bad(f"entry {seq} does not match its hash: its content was edited")
        expected_seq, previous_hash = seq + 1, record["hash"]

    count = expected_seq - 1
    return VerifyReport(True, count, None, f"{count} entries verified, chain intact", previous_hash)


def entries(path: Path, thread_id: str | None = None, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """Entries in file order, optionally only one thread's or one kind's.

    Lines that are not well-formed entries are skipped: use ``verify`` to judge integrity.
    """
    path = Path(path)
    try:
        size = _snapshot_size(path)
    except FileNotFoundError:
        return
    for line in _lines(path, size):
        record = _parse(line)
        if record is None:
            continue
        if thread_id is not None and record["thread_id"] != thread_id:
            continue
        if kind is not None and record["kind"] != kind:
            continue
        yield record
