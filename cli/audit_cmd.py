"""`opsbot audit verify`: the local hash chain, and the S3 copy when OPSBOT_AUDIT_BUCKET is set.

Exit code 0 when everything verifies, 1 when the log or its copy differs or cannot be read, 2 when
there is no log.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from runtime.audit_export import AuditExporter, exporter_from_settings, plain_error
from runtime.audit_log import verify
from runtime.audit_s3_check import S3CopyReport, check_s3_copy
from runtime.config import Settings


def verify_audit(path: Path, settings: Settings) -> int:
    if not path.exists():
        print(f"opsbot: no audit log at {path}", file=sys.stderr)
        return 2
    report = verify(path)
    if report.ok:
        print(f"audit log OK: {report.entries} entries, hash chain intact ({path})")
    else:
        print(f"audit log TAMPERED at entry {report.first_bad_seq}: {report.reason} ({path})")
    exporter = exporter_from_settings(settings)
    if exporter is None:
        return 0 if report.ok else 1
    s3_ok = verify_s3_copy(path, exporter)
    return 0 if report.ok and s3_ok else 1


def verify_s3_copy(path: Path, exporter: AuditExporter) -> bool:
    """Export the backlog first (entries a failed export left behind), then compare the copy; print both."""
    exported = exporter.export_pending(path)
    if exported.exported:
        print(f"exported {exported.exported} pending entries to s3://{exporter.bucket}")
    if exported.error:
        print(f"S3 export backlog: {exported.backlog} entries not exported: {exported.error}")
    try:
        copy = check_s3_copy(path, exporter.s3, exporter.bucket, datetime.now(UTC))
    except (ClientError, BotoCoreError) as error:
        print(f"S3 copy UNREADABLE: cannot read s3://{exporter.bucket}: {plain_error(error)}")
        return False
    for line in describe(copy):
        print(line)
    return copy.ok


def describe(copy: S3CopyReport) -> list[str]:
    lines: list[str] = []
    if copy.ok:
        until = f", locked until at least {copy.locked_until:%Y-%m-%d}" if copy.locked_until else ""
        lines.append(
            f"S3 copy OK: {copy.s3_entries} entries in {copy.location}, identical to the local log{until}"
        )
    else:
        lines.append(f"S3 copy DIFFERS from the local log ({copy.location}):")
        lines.extend(f"  {difference}" for difference in copy.differences)
    if copy.other_chains:
        lines.append(
            f"the bucket also holds {len(copy.other_chains)} other log(s) (other hosts, or a replaced log): "
            + ", ".join(copy.other_chains)
        )
    return lines
