"""Copies the hash-chained audit log to S3, one object per entry, under Object Lock (WORM).

Each entry becomes ``audit/<chain>/<seq, 12 digits>-<hash>.json`` holding the entry's exact line (without
the line end). ``<chain>`` is the first 16 hex digits of entry 1's hash: every local log (one per host)
gets its own prefix, so several hosts can share one bucket without mixing their sequences.

Objects are written with ``ObjectLockMode=COMPLIANCE`` and a retain-until date of now + the retention
days. COMPLIANCE rather than GOVERNANCE because the copy exists to survive whoever could tamper with the
local file: an administrator, or the bot's own role if it is compromised. GOVERNANCE retention can be
lifted by anyone with ``s3:BypassGovernanceRetention``; COMPLIANCE retention cannot be shortened or
removed by anyone, the root user included, until it expires. (Use a short retention in test accounts.)
The bucket must have been created with Object Lock enabled. Writes use ``If-None-Match: *``, so an entry
already exported is never written twice (a second write would add an object version).

Export follows each local append. A failure (S3 down, access denied) never touches the local entry: it
stays in the backlog, the failure is logged and kept in the export marker, and the next append or
``opsbot audit verify`` exports the backlog in order. The marker next to the log
(``audit.jsonl.s3-export.json``) remembers the last exported seq, hash and byte offset; when it is lost it
is rebuilt from the bucket's listing. An entry is exported only if it chains to the last exported one,
so a local log rewritten after export is reported, never copied over the locked originals.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from runtime.audit_log import GENESIS_HASH, entry_hash, parse_line, read_lines
from runtime.config import Settings

PREFIX = "audit/"
RetentionMode = Literal["COMPLIANCE", "GOVERNANCE"]
log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def chain_id(first_entry_hash: str) -> str:
    return first_entry_hash[:16]


def chain_prefix(chain: str) -> str:
    return f"{PREFIX}{chain}/"


def object_key(chain: str, seq: int, hash_: str) -> str:
    return f"{chain_prefix(chain)}{seq:012d}-{hash_}.json"


def marker_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + ".s3-export.json")


def plain_error(error: BaseException) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"S3 said {info.get('Code', 'error')}: {info.get('Message', '')}".strip().rstrip(":")
    return str(error) or type(error).__name__


class ExportFailed(Exception):
    """One entry could not be exported; the sentence says why."""


@dataclass(frozen=True)
class ExportResult:
    exported: int  # entries written to S3 by this call
    backlog: int  # local entries still not in S3
    error: str | None = None  # why the export stopped, in one sentence

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ExportMarker:
    """How far the local log has been exported to ``bucket``."""

    bucket: str
    chain: str | None = None
    seq: int = 0
    hash: str = GENESIS_HASH
    offset: int = 0
    last_error: str | None = None

    def advanced(self, record: dict[str, Any], offset: int, chain: str) -> ExportMarker:
        return replace(self, chain=chain, seq=int(record["seq"]), hash=str(record["hash"]), offset=offset)


class AuditExporter:
    """Exports the entries of a local audit log that are not in the bucket yet, in order."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        retention_days: int,
        *,
        mode: RetentionMode = "COMPLIANCE",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.retention_days = retention_days
        self.mode = mode
        self._clock = clock

    def export_pending(self, log_path: Path) -> ExportResult:
        """Export every local entry after the last exported one; stop at the first failure and report it."""
        log_path = Path(log_path)
        if not log_path.exists():
            return ExportResult(0, 0)
        with _locked_marker(marker_path(log_path)) as marker_file:
            marker = _read_marker(marker_file, self.bucket)
            error: str | None = None
            exported = 0
            try:
                if marker is None:
                    marker = self._rebuild_marker(log_path)
                for offset, line in read_lines(log_path, marker.offset):
                    record = self._checked_next(marker, line)
                    chain = marker.chain or chain_id(str(record["hash"]))
                    self._put(chain, record, line)
                    marker = marker.advanced(record, offset, chain)
                    exported += 1
            except ExportFailed as failure:
                error = str(failure)
            except (ClientError, BotoCoreError) as failure:
                error = f"cannot export the audit log to s3://{self.bucket}: {plain_error(failure)}"
            if marker is not None:  # None: the bucket could not be read to rebuild it; try again next time
                marker = replace(marker, last_error=error)
                _write_marker(marker_file, marker)
        backlog = sum(1 for _ in read_lines(log_path, marker.offset if marker else 0))
        if error:
            log.warning("audit export stopped with %d entries not in S3: %s", backlog, error)
        return ExportResult(exported, backlog, error)

    def _checked_next(self, marker: ExportMarker, line: bytes) -> dict[str, Any]:
        """The next entry to export, if it is well-formed and chains to the last exported one."""
        record = parse_line(line)
        if (
            record is None
            or record["hash"] != entry_hash(record)
            or record["seq"] != marker.seq + 1
            or record["prev_hash"] != marker.hash
        ):
            raise ExportFailed(
                f"the local audit log no longer continues from entry {marker.seq} already in S3: "
                "it was changed after export, so nothing more is exported; run opsbot audit verify"
            )
        return record

    def _put(self, chain: str, record: dict[str, Any], line: bytes) -> None:
        key = object_key(chain, int(record["seq"]), str(record["hash"]))
        body = line.rstrip(b"\n")
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                IfNoneMatch="*",
                ObjectLockMode=self.mode,
                ObjectLockRetainUntilDate=self._clock() + timedelta(days=self.retention_days),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise ExportFailed(
                    f"cannot export audit entry {record['seq']} to s3://{self.bucket}: {plain_error(error)}"
                ) from error
            existing = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            if existing != body:
                raise ExportFailed(
                    f"s3://{self.bucket}/{key} already holds a different entry {record['seq']}"
                ) from error

    def _rebuild_marker(self, log_path: Path) -> ExportMarker:
        """Find how far the log was exported from the bucket itself (the marker was lost or is new)."""
        marker = ExportMarker(self.bucket)
        in_bucket: dict[int, str] = {}
        for offset, line in read_lines(log_path):
            record = parse_line(line)
            if record is None or record["seq"] != marker.seq + 1:
                break
            if marker.chain is None:
                marker = replace(marker, chain=chain_id(str(record["hash"])))
                in_bucket = exported_hashes(self.s3, self.bucket, str(marker.chain))
            if record["seq"] not in in_bucket:
                break
            marker = replace(marker, seq=int(record["seq"]), hash=in_bucket[record["seq"]], offset=offset)
        return marker


def exported_hashes(s3: Any, bucket: str, chain: str) -> dict[int, str]:
    """seq -> hash of the entries of one chain found in the bucket, read from the object keys."""
    found: dict[int, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=chain_prefix(chain)):
        for item in page.get("Contents", []):
            parsed = parse_key(str(item["Key"]))
            if parsed is not None:
                found.setdefault(parsed[1], parsed[2])
    return found


def parse_key(key: str) -> tuple[str, int, str] | None:
    """(chain, seq, hash) of an object key written by the exporter, or None for any other key."""
    if not key.startswith(PREFIX):
        return None
    chain, _, name = key[len(PREFIX) :].partition("/")
    stem, dash, rest = name.partition("-")
    if not (dash and stem.isdigit() and len(stem) == 12 and rest.endswith(".json")):
        return None
    hash_ = rest.removesuffix(".json")
    if len(hash_) != 64 or any(c not in "0123456789abcdef" for c in hash_):
        return None
    return chain, int(stem), hash_


def exporter_from_settings(settings: Settings) -> AuditExporter | None:
    """The exporter for ``OPSBOT_AUDIT_BUCKET``, or None when no bucket is configured.

    Its S3 client fails fast (one retry, short timeouts) instead of using the actions' patient retry
    policy: an export runs after every audit append, and a failed one is simply retried on the next.
    """
    if not settings.audit_bucket:
        return None
    s3 = boto3.session.Session().client(
        "s3",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=3, read_timeout=10),
    )
    return AuditExporter(s3, settings.audit_bucket, settings.audit_retention_days)


def read_marker(log_path: Path) -> ExportMarker | None:
    """The export marker next to a log, as last written (None when there is none)."""
    path = marker_path(log_path)
    try:
        data = json.loads(path.read_text())
        return ExportMarker(**data)
    except (OSError, ValueError, TypeError):
        return None


# ------------------------------------------------------------------------------------------ marker file


@contextmanager
def _locked_marker(path: Path) -> Iterator[int]:
    """The marker file, open and exclusively locked: one exporter at a time per log, across processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _read_marker(fd: int, bucket: str) -> ExportMarker | None:
    raw = os.pread(fd, os.fstat(fd).st_size, 0)
    try:
        marker = ExportMarker(**json.loads(raw))
    except (ValueError, TypeError):
        return None  # missing or damaged: rebuilt from the bucket
    return marker if marker.bucket == bucket else None


def _write_marker(fd: int, marker: ExportMarker) -> None:
    payload = json.dumps(asdict(marker), sort_keys=True).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, payload, 0)
