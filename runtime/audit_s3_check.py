"""Checks the S3 copy of an audit log against the local file (see ``runtime.audit_export``).

Every local entry must be in S3 with identical bytes and a retention in force; the S3 copy must be a
hash chain of its own; and S3 must hold nothing the local log lacks. Each difference names the entry:

- ``missing``: a local entry that is not in S3 (the export backlog, or an export that was refused);
- ``altered``: the local entry differs from its locked copy (the local file was edited, even if its own
  chain was recomputed to hide it);
- ``extra``: S3 holds an entry the local log does not (the local log was cut or entries deleted), a second
  object for one entry, or an object the exporter did not write;
- ``overwritten``: the entry's key has more than one version (someone wrote over it: the first version,
  which the lock protects, is the one checked);
- ``deleted``: a delete marker hides the entry (the locked version is still there and is checked);
- ``unlocked``: the object has no retention, or its retention has expired;
- ``broken``: the S3 copy does not chain (a gap, a wrong link, or content that does not match its hash).

Object Lock protects versions, not keys: overwrites and delete markers are allowed on a locked bucket,
which is why versions are listed and the oldest version of each key is the one read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from runtime.audit_export import PREFIX, chain_id, chain_prefix, parse_key
from runtime.audit_log import GENESIS_HASH, entry_hash, parse_line, read_lines

DifferenceKind = Literal["missing", "altered", "extra", "overwritten", "deleted", "unlocked", "broken"]


@dataclass(frozen=True)
class Difference:
    seq: int | None
    kind: DifferenceKind
    detail: str

    def __str__(self) -> str:
        where = f"entry {self.seq}" if self.seq is not None else "bucket"
        return f"{where}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class S3CopyReport:
    bucket: str
    chain: str | None
    local_entries: int
    s3_entries: int
    differences: list[Difference] = field(default_factory=list)
    other_chains: list[str] = field(default_factory=list)  # other hosts' logs, or a log replaced wholesale
    locked_until: datetime | None = None  # the earliest retain-until date among the entries

    @property
    def ok(self) -> bool:
        return self.chain is not None and not self.differences

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{chain_prefix(self.chain) if self.chain else PREFIX}"


@dataclass
class _Stored:
    """What S3 holds for one entry: every key and version, and the body of the one that counts."""

    keys: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key -> versions, newest first
    deleted: bool = False
    body: bytes = b""
    hash: str = ""
    lock_mode: str | None = None
    locked_until: datetime | None = None


def check_s3_copy(log_path: Path, s3: Any, bucket: str, now: datetime) -> S3CopyReport:
    local = _local_entries(log_path)
    chain = chain_id(str(local[1]["hash"])) if 1 in local else None
    chains = _chains(s3, bucket)
    others = sorted(chains - {chain}) if chain else sorted(chains)
    if chain is None:
        missing = [Difference(None, "missing", "the local audit log has no first entry to identify it by")]
        return S3CopyReport(bucket, None, len(local), 0, missing, others)
    stored = _stored_entries(s3, bucket, chain)
    for entry in stored.values():
        _read_original(s3, bucket, entry)
    differences = [
        *_compare(local, stored),
        *_object_problems(stored, now),
        *_chain_problems(stored),
    ]
    differences.sort(key=lambda d: (d.seq if d.seq is not None else 0, d.kind))
    until = [entry.locked_until for entry in stored.values() if entry.locked_until is not None]
    return S3CopyReport(
        bucket, chain, len(local), len(stored), differences, others, min(until) if until else None
    )


def _local_entries(log_path: Path) -> dict[int, dict[str, Any]]:
    """seq -> {"line": exact bytes without the line end, "hash": ...} for each well-formed local line."""
    entries: dict[int, dict[str, Any]] = {}
    for _offset, line in read_lines(log_path):
        record = parse_line(line)
        if record is not None:
            entries.setdefault(int(record["seq"]), {"line": line.rstrip(b"\n"), "hash": record["hash"]})
    return entries


def _chains(s3: Any, bucket: str) -> set[str]:
    found: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            found.add(str(common["Prefix"])[len(PREFIX) :].rstrip("/"))
    return found


def _stored_entries(s3: Any, bucket: str, chain: str) -> dict[int, _Stored]:
    stored: dict[int, _Stored] = defaultdict(_Stored)
    strays: list[str] = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=chain_prefix(chain))
    for page in pages:
        for version in page.get("Versions", []):
            parsed = parse_key(str(version["Key"]))
            if parsed is None:
                strays.append(str(version["Key"]))
                continue
            stored[parsed[1]].keys.setdefault(str(version["Key"]), []).append(version)
        for marker in page.get("DeleteMarkers", []):
            parsed = parse_key(str(marker["Key"]))
            if parsed is not None:
                stored[parsed[1]].deleted = True
    result = dict(stored)
    if strays:
        result[0] = _Stored(keys={key: [] for key in strays})
    return result


def _read_original(s3: Any, bucket: str, entry: _Stored) -> None:
    """Read the first version of the entry's first key: the one written by the export, under lock."""
    candidates = [(key, versions[-1]) for key, versions in entry.keys.items() if versions]
    if not candidates:
        return
    key, first = min(candidates, key=lambda item: item[1]["LastModified"])
    response = s3.get_object(Bucket=bucket, Key=key, VersionId=first["VersionId"])
    entry.body = response["Body"].read()
    parsed = parse_key(key)
    entry.hash = parsed[2] if parsed else ""
    entry.lock_mode = response.get("ObjectLockMode")
    entry.locked_until = response.get("ObjectLockRetainUntilDate")


def _compare(local: dict[int, dict[str, Any]], stored: dict[int, _Stored]) -> list[Difference]:
    differences: list[Difference] = []
    for seq in sorted(local):
        if seq not in stored:
            differences.append(Difference(seq, "missing", "the local entry is not in S3 (not exported yet?)"))
        elif stored[seq].body and stored[seq].body != local[seq]["line"]:
            differences.append(
                Difference(seq, "altered", "the local entry differs from its locked copy in S3")
            )
    for seq in sorted(set(stored) - set(local) - {0}):
        differences.append(
            Difference(seq, "extra", "S3 holds this entry but the local log does not (the log was cut)")
        )
    if 0 in stored:
        strays = ", ".join(sorted(stored[0].keys))
        differences.append(Difference(None, "extra", f"objects the exporter did not write: {strays}"))
    return differences


def _object_problems(stored: dict[int, _Stored], now: datetime) -> list[Difference]:
    differences: list[Difference] = []
    for seq, entry in sorted(stored.items()):
        if seq == 0:
            continue
        if len(entry.keys) > 1:
            differences.append(Difference(seq, "extra", f"S3 holds {len(entry.keys)} objects for this entry"))
        versions = sum(len(versions) for versions in entry.keys.values())
        if versions > len(entry.keys):
            differences.append(
                Difference(
                    seq, "overwritten", f"written {versions} times in S3; the first version is checked"
                )
            )
        if entry.deleted:
            differences.append(
                Difference(
                    seq, "deleted", "a delete marker hides it in S3; the locked version is still there"
                )
            )
        if entry.lock_mode is None or entry.locked_until is None or entry.locked_until <= now:
            until = entry.locked_until.isoformat() if entry.locked_until else "never"
            differences.append(
                Difference(seq, "unlocked", f"no retention in force (mode {entry.lock_mode}, until {until})")
            )
    return differences


def _chain_problems(stored: dict[int, _Stored]) -> list[Difference]:
    """The S3 copy as a hash chain of its own: 1, 2, 3... each linking to the one before."""
    differences: list[Difference] = []
    previous: dict[str, Any] | None = None
    for seq in sorted(seq for seq in stored if seq > 0):
        record = parse_line(stored[seq].body + b"\n")
        if record is None or record["seq"] != seq or record["hash"] != stored[seq].hash:
            differences.append(
                Difference(seq, "broken", "the S3 object does not hold the entry its key names")
            )
            previous = None
            continue
        if record["hash"] != entry_hash(record):
            differences.append(Difference(seq, "broken", "the S3 object's content does not match its hash"))
        elif seq == 1 and record["prev_hash"] != GENESIS_HASH:
            differences.append(Difference(seq, "broken", "the first entry in S3 does not start a chain"))
        elif seq > 1 and seq - 1 not in stored:
            differences.append(Difference(seq, "broken", f"entry {seq - 1} before it is not in S3"))
        elif previous is not None and previous["seq"] == seq - 1 and record["prev_hash"] != previous["hash"]:
            differences.append(Difference(seq, "broken", "it does not link to the entry before it in S3"))
        previous = record
    return differences
