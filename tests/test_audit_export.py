"""The audit log's S3 copy under Object Lock, on moto's server: export, tampering, WORM, S3 outages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_fault_proxy import AwsFaultProxy
from botocore.exceptions import ClientError
from pipeline_support import crypto_event, make_estate, make_pipeline

from cli.audit_cmd import verify_audit
from cli.main import main
from runtime.audit_export import AuditExporter, chain_id, marker_path, object_key, read_marker
from runtime.audit_log import AuditLog, canonical_json, entry_hash, verify
from runtime.audit_s3_check import check_s3_copy
from runtime.config import Settings
from tools.base import AwsClients

BUCKET = "opsbot-audit-worm"
RETENTION_DAYS = 30


@pytest.fixture(autouse=True)
def _no_knowledge_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runbook retrieval plays no part here; leaving it out keeps the pipeline runs fast."""
    monkeypatch.setenv("OPSBOT_EMBEDDING", "off")


@pytest.fixture
def s3(aws_endpoint: str) -> Any:
    client = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    return client


@pytest.fixture
def proxy(aws_endpoint: str) -> Iterator[AwsFaultProxy]:
    fault_proxy = AwsFaultProxy(aws_endpoint)
    yield fault_proxy
    fault_proxy.stop()


def exported_log(tmp_path: Path, s3: Any, count: int) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl", exporter=AuditExporter(s3, BUCKET, RETENTION_DAYS))
    for index in range(1, count + 1):
        log.append("action", f"t-{index}", {"action": "tag_resource", "index": index})
    return log


def local_lines(log: AuditLog) -> list[bytes]:
    return log.path.read_bytes().splitlines()


def keys_in_bucket(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def rewrite(log: AuditLog, edit_seq: int, rechain: bool) -> None:
    """Edit one entry's data; with ``rechain`` recompute every hash after it, so the local chain verifies."""
    records = [json.loads(line) for line in local_lines(log)]
    records[edit_seq - 1]["data"]["index"] = 999
    if rechain:
        for position, record in enumerate(records):
            record["prev_hash"] = records[position - 1]["hash"] if position else "0" * 64
            record["hash"] = entry_hash(record)
    log.path.write_text("".join(canonical_json(record) + "\n" for record in records))


def settings_for(log: AuditLog, endpoint: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        OPSBOT_DATA_DIR=log.path.parent, AWS_ENDPOINT_URL=endpoint, OPSBOT_AUDIT_BUCKET=BUCKET
    )


def test_every_append_is_a_compliance_locked_object_holding_the_exact_line(tmp_path: Path, s3: Any) -> None:
    log = exported_log(tmp_path, s3, 3)
    records = [json.loads(line) for line in local_lines(log)]
    chain = chain_id(records[0]["hash"])
    assert keys_in_bucket(s3) == [object_key(chain, r["seq"], r["hash"]) for r in records]
    now = datetime.now(UTC)
    for record, line in zip(records, local_lines(log), strict=True):
        stored = s3.get_object(Bucket=BUCKET, Key=object_key(chain, record["seq"], record["hash"]))
        assert stored["Body"].read() == line
        assert stored["ObjectLockMode"] == "COMPLIANCE"
        until = stored["ObjectLockRetainUntilDate"]
        assert now + timedelta(days=RETENTION_DAYS, minutes=-5) < until < now + timedelta(days=31)
    assert check_s3_copy(log.path, s3, BUCKET, now).ok
    assert read_marker(log.path) is not None
    assert read_marker(log.path).seq == 3  # type: ignore[union-attr]


def test_audit_verify_checks_both_copies_from_the_command_line(
    tmp_path: Path,
    s3: Any,
    aws_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = exported_log(tmp_path, s3, 3)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    monkeypatch.setenv("OPSBOT_AUDIT_BUCKET", BUCKET)
    assert main(["audit", "verify", str(log.path)]) == 0
    out = capsys.readouterr().out
    assert "audit log OK: 3 entries" in out
    assert f"S3 copy OK: 3 entries in s3://{BUCKET}/audit/" in out
    rewrite(log, 2, rechain=False)
    assert main(["audit", "verify", str(log.path)]) == 1
    out = capsys.readouterr().out
    assert "audit log TAMPERED at entry 2" in out
    assert "entry 2: altered" in out


def test_a_local_rewrite_that_recomputes_the_chain_is_still_named(
    tmp_path: Path, s3: Any, aws_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = exported_log(tmp_path, s3, 4)
    rewrite(log, 2, rechain=True)
    assert verify(log.path).ok  # the local chain alone cannot tell
    report = check_s3_copy(log.path, s3, BUCKET, datetime.now(UTC))
    assert [(d.seq, d.kind) for d in report.differences] == [(2, "altered"), (3, "altered"), (4, "altered")]
    assert verify_audit(log.path, settings_for(log, aws_endpoint)) == 1
    assert "entry 2: altered: the local entry differs from its locked copy in S3" in capsys.readouterr().out


def test_a_log_rewritten_after_export_is_never_copied_over_the_originals(tmp_path: Path, s3: Any) -> None:
    log = exported_log(tmp_path, s3, 2)
    rewrite(log, 1, rechain=True)
    entry = log.append("action", "t-3", {"after": "rewrite"})
    assert entry.seq == 3  # the local entry is written all the same
    assert len(keys_in_bucket(s3)) == 2
    marker = read_marker(log.path)
    assert marker is not None
    assert marker.last_error is not None
    assert "no longer continues from entry 2 already in S3" in marker.last_error


def test_a_cut_local_log_is_caught_by_the_entries_only_s3_still_holds(tmp_path: Path, s3: Any) -> None:
    log = exported_log(tmp_path, s3, 4)
    log.path.write_bytes(b"".join(line + b"\n" for line in local_lines(log)[:2]))
    assert verify(log.path).ok  # a hash chain cannot see its newest entries cut off
    report = check_s3_copy(log.path, s3, BUCKET, datetime.now(UTC))
    assert [(d.seq, d.kind) for d in report.differences] == [(3, "extra"), (4, "extra")]


def test_object_lock_refuses_deletion_and_verify_sees_through_overwrites_and_delete_markers(
    tmp_path: Path, s3: Any
) -> None:
    log = exported_log(tmp_path, s3, 3)
    key = keys_in_bucket(s3)[1]
    original = s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"][0]["VersionId"]
    # What moto enforces, as S3 does: a locked version cannot be deleted, not even with the governance
    # bypass, because the mode is COMPLIANCE.
    for bypass in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=BUCKET, Key=key, VersionId=original, **bypass)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # What Object Lock allows: a new version over the key, and a delete marker hiding it.
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'{"forged":true}')
    s3.delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(ClientError):
        s3.get_object(Bucket=BUCKET, Key=key)
    report = check_s3_copy(log.path, s3, BUCKET, datetime.now(UTC))
    assert [(d.seq, d.kind) for d in report.differences] == [(2, "deleted"), (2, "overwritten")]
    assert s3.get_object(Bucket=BUCKET, Key=key, VersionId=original)["Body"].read() == local_lines(log)[1]


def test_s3_down_keeps_the_local_entries_and_exports_them_once_it_is_back(
    tmp_path: Path, s3: Any, proxy: AwsFaultProxy, aws_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    through_proxy = AwsClients(endpoint_url=proxy.url, max_attempts=2).client("s3", "us-east-1")
    log = AuditLog(tmp_path / "audit.jsonl", exporter=AuditExporter(through_proxy, BUCKET, RETENTION_DAYS))
    log.append("action", "t-1", {"index": 1})
    proxy.fail("PutObject", times=None, kind="unavailable")
    log.append("action", "t-2", {"index": 2})
    log.append("action", "t-3", {"index": 3})
    assert verify(log.path).ok
    assert verify(log.path).entries == 3  # nothing local was lost
    assert len(keys_in_bucket(s3)) == 1
    marker = read_marker(log.path)
    assert marker is not None
    assert marker.seq == 1
    assert marker.last_error is not None
    assert "cannot export audit entry 2" in marker.last_error
    down = check_s3_copy(log.path, s3, BUCKET, datetime.now(UTC))
    assert [(d.seq, d.kind) for d in down.differences] == [(2, "missing"), (3, "missing")]

    proxy.heal()
    log.append("action", "t-4", {"index": 4})
    assert len(keys_in_bucket(s3)) == 4
    assert read_marker(log.path).last_error is None  # type: ignore[union-attr]
    assert check_s3_copy(log.path, s3, BUCKET, datetime.now(UTC)).ok
    assert verify_audit(log.path, settings_for(log, aws_endpoint)) == 0
    assert "S3 copy OK: 4 entries" in capsys.readouterr().out


def test_verify_exports_the_backlog_left_by_an_outage(
    tmp_path: Path, s3: Any, proxy: AwsFaultProxy, aws_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    through_proxy = AwsClients(endpoint_url=proxy.url, max_attempts=1).client("s3", "us-east-1")
    log = AuditLog(tmp_path / "audit.jsonl", exporter=AuditExporter(through_proxy, BUCKET, RETENTION_DAYS))
    proxy.fail("PutObject", times=None, kind="unavailable")
    log.append("action", "t-1", {"index": 1})
    log.append("action", "t-2", {"index": 2})
    assert keys_in_bucket(s3) == []
    assert verify_audit(log.path, settings_for(log, aws_endpoint)) == 0
    out = capsys.readouterr().out
    assert f"exported 2 pending entries to s3://{BUCKET}" in out
    assert len(keys_in_bucket(s3)) == 2


def test_a_lost_marker_is_rebuilt_from_the_bucket_without_writing_any_entry_twice(
    tmp_path: Path, s3: Any
) -> None:
    log = exported_log(tmp_path, s3, 3)
    marker_path(log.path).unlink()
    log.append("action", "t-4", {"index": 4})
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert len(versions) == 4
    assert len({version["Key"] for version in versions}) == 4
    assert check_s3_copy(log.path, s3, BUCKET, datetime.now(UTC)).ok


def test_a_bucket_without_object_lock_is_reported_and_the_entry_kept(
    tmp_path: Path, aws_endpoint: str
) -> None:
    plain = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    plain.create_bucket(Bucket="opsbot-audit-plain")
    log = AuditLog(tmp_path / "audit.jsonl", exporter=AuditExporter(plain, "opsbot-audit-plain", 1))
    log.append("action", "t-1", {"index": 1})
    assert verify(log.path).entries == 1
    marker = read_marker(log.path)
    assert marker is not None
    assert marker.last_error is not None
    assert "InvalidRequest" in marker.last_error


def test_a_pipeline_run_exports_its_whole_trail(
    tmp_path: Path, s3: Any, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBOT_AUDIT_BUCKET", BUCKET)
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    estate = make_estate(pipeline)
    run = pipeline.start("t-export", {"event": crypto_event(estate.miner_instance)})
    assert run.state["outcome"] == "executed"
    lines = pipeline.ctx.audit.path.read_bytes().splitlines()
    assert len(keys_in_bucket(s3)) == len(lines) >= 8
    assert check_s3_copy(pipeline.ctx.audit.path, s3, BUCKET, datetime.now(UTC)).ok
