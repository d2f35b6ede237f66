"""The audit log on real files: the chain verifies, every kind of tampering is caught, secrets never land."""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runtime.audit_log import AuditLog, AuditLogCorrupted, entries, verify

ZERO_HASH = "0" * 64


def _hash_of(record: dict[str, Any]) -> str:
    """Recomputed here, independently of the module, from the documented rule."""
    body = {key: value for key, value in record.items() if key != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _write_chain(path: Path, count: int) -> list[str]:
    log = AuditLog(path)
    for index in range(1, count + 1):
        log.append("step", f"T{index % 3}", {"action": "tag_resource", "index": index})
    return path.read_text().splitlines(keepends=True)


def _rewrite(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines))


def test_a_chain_of_100_entries_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 100)
    report = verify(path)
    assert report.ok, report.reason
    assert (report.entries, report.first_bad_seq) == (100, None)

    records = [json.loads(line) for line in lines]
    assert [record["seq"] for record in records] == list(range(1, 101))
    assert records[0]["prev_hash"] == ZERO_HASH
    for previous, record in itertools.pairwise(records):
        assert record["prev_hash"] == previous["hash"]
    for record in records:
        assert set(record) == {"seq", "ts", "kind", "thread_id", "data", "prev_hash", "hash"}
        assert record["hash"] == _hash_of(record)
        assert datetime.fromisoformat(record["ts"]).utcoffset() == UTC.utcoffset(None)
    assert report.last_hash == records[-1]["hash"]


def test_append_returns_what_it_wrote(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "nested" / "audit.jsonl", fsync=True)
    first = log.append("request", "C1/1700000000.000100", {"text": "isolate i-0abc"})
    second = log.append("decision", "C1/1700000000.000100", {"decision": "approval"})
    assert (first.seq, first.prev_hash) == (1, ZERO_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    on_disk = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert on_disk == [first.as_dict(), second.as_dict()]


def test_editing_one_field_of_entry_40_is_reported_at_40(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 100)
    record = json.loads(lines[39])
    record["data"]["action"] = "terminate_instance"
    lines[39] = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    _rewrite(path, lines)

    report = verify(path)
    assert not report.ok
    assert (report.first_bad_seq, report.entries) == (40, 39)
    assert "hash" in report.reason


def test_editing_entry_40_and_recomputing_its_hash_breaks_the_link_at_41(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 100)
    record = json.loads(lines[39])
    record["kind"] = "nothing-to-see"
    record["hash"] = _hash_of(record)
    lines[39] = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    _rewrite(path, lines)

    report = verify(path)
    assert (report.ok, report.first_bad_seq) == (False, 41)
    assert "prev_hash" in report.reason


def test_deleting_entry_10_is_reported_at_10_the_missing_seq(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 30)
    del lines[9]
    _rewrite(path, lines)

    report = verify(path)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, 10, 9)
    assert "deleted" in report.reason


def test_deleting_entry_10_and_renumbering_the_rest_is_still_caught_at_10(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 30)
    del lines[9]
    renumbered = []
    for record in (json.loads(line) for line in lines):
        if record["seq"] > 10:
            record["seq"] -= 1
        renumbered.append(json.dumps(record) + "\n")
    _rewrite(path, renumbered)

    report = verify(path)
    assert (report.ok, report.first_bad_seq) == (False, 10)


def test_swapping_two_lines_is_reported_at_the_first(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 30)
    lines[19], lines[20] = lines[20], lines[19]
    _rewrite(path, lines)

    report = verify(path)
    assert (report.ok, report.first_bad_seq) == (False, 20)


def test_a_duplicated_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 10)
    lines.insert(5, lines[4])
    _rewrite(path, lines)

    report = verify(path)
    assert (report.ok, report.first_bad_seq) == (False, 6)


def test_a_forged_line_with_a_good_hash_but_wrong_prev_hash_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 100)
    forged: dict[str, Any] = {
        "seq": 101,
        "ts": datetime.now(UTC).isoformat(),
        "kind": "approval",
        "thread_id": "T1",
        "data": {"approved_by": "U-attacker"},
        "prev_hash": hashlib.sha256(b"a guess").hexdigest(),
    }
    forged["hash"] = _hash_of(forged)
    _rewrite(path, [*lines, json.dumps(forged) + "\n"])

    report = verify(path)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, 101, 100)
    assert "prev_hash" in report.reason
    assert report.last_hash == json.loads(lines[-1])["hash"]


def test_garbage_and_truncated_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    lines = _write_chain(path, 60)
    _rewrite(path, [*lines[:49], "this is not json\n", *lines[50:]])
    report = verify(path)
    assert (report.ok, report.first_bad_seq) == (False, 50)
    assert "not a valid" in report.reason

    cut = "".join(lines)[:-25]  # a write that stopped half way through entry 60
    path.write_text(cut)
    report = verify(path)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, 60, 59)
    assert "truncated" in report.reason
    with pytest.raises(AuditLogCorrupted, match="no line end"):
        AuditLog(path).append("step", "T1", {"after": "crash"})
    assert path.read_text() == cut


def test_an_empty_log_verifies_and_a_missing_one_does_not(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    assert verify(empty).ok
    assert verify(empty).entries == 0
    missing = verify(tmp_path / "missing.jsonl")
    assert not missing.ok
    assert "does not exist" in missing.reason
    assert list(entries(tmp_path / "missing.jsonl")) == []


def test_long_lines_larger_than_the_tail_chunk_chain_correctly(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("context", "T1", {"output": "x" * 20_000})
    log.append("context", "T1", {"output": "é\n" * 9_000})
    third = log.append("step", "T1", {"ok": True})
    assert third.seq == 3
    report = verify(log.path)
    assert (report.ok, report.entries) == (True, 3)


def test_values_that_are_not_json_are_stored_as_json(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    entry = log.append(
        "step",
        "T1",
        {
            "when": datetime(2024, 5, 1, tzinfo=UTC),
            "where": Path("/tmp/x"),
            "ids": {"b", "a"},
            "nan": float("nan"),
        },
    )
    assert entry.data == {
        "when": "2024-05-01T00:00:00+00:00",
        "where": "/tmp/x",
        "ids": ["a", "b"],
        "nan": "nan",
    }
    assert verify(log.path).ok


def test_entries_filters_by_thread_and_kind(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("request", "T1", {"n": 1})
    log.append("request", "T2", {"n": 2})
    log.append("decision", "T1", {"n": 3})
    assert [e["data"]["n"] for e in entries(log.path)] == [1, 2, 3]
    assert [e["data"]["n"] for e in entries(log.path, thread_id="T1")] == [1, 3]
    assert [e["data"]["n"] for e in log.entries(thread_id="T1", kind="decision")] == [3]
    assert [e["data"]["n"] for e in entries(log.path, kind="request")] == [1, 2]


# ------------------------------------------------------------------------------------------ secrets

SECRETS = [
    "plain-token-value",
    "s3cr3t-signing",
    "hunter2",
    "apikey-value",
    "Bearer abc.def",
    "FwoGZXIvYXdzEJr",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "-----BEGIN PRIVATE KEY-----",
    "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp",
    "xoxp-1111-2222-3333-abcdef",
    "xapp-1-A0123456789-1234567890-abcdef0123",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    "sk-ant-api03-Zx9_yW-8vU7tS6rQ5pO4",
]


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    entry = log.append(
        "request",
        "C1/1700000000.000100",
        {
            "token": "plain-token-value",
            "SLACK_SIGNING_SECRET": "s3cr3t-signing",
            "db_password": "hunter2",
            "X-Api-Key": "apikey-value",
            "headers": {"Authorization": "Bearer abc.def", "Accept": "application/json"},
            "aws": {
                "Credentials": {"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                "session_token": "FwoGZXIvYXdzEJr",
                "AccessKeyId": "ASIAY34FZKBOKMUTVV7A",
            },
            "private_key": "-----BEGIN PRIVATE KEY-----",
            "text": "here is xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp and xoxp-1111-2222-3333-abcdef",
            "notes": ["app token xapp-1-A0123456789-1234567890-abcdef0123", "key AKIAIOSFODNN7EXAMPLE"],
            "llm": {"configured_with": "sk-ant-api03-Zx9_yW-8vU7tS6rQ5pO4"},
        },
    )
    raw = log.path.read_text()
    for secret in SECRETS:
        assert secret not in raw, secret
    data = entry.data
    assert data["token"] == data["db_password"] == data["X-Api-Key"] == "[redacted]"
    assert data["headers"] == {"Authorization": "[redacted]", "Accept": "application/json"}
    assert data["aws"]["Credentials"] == "[redacted]"
    assert data["aws"]["AccessKeyId"] == "ASIA[redacted]"
    assert data["text"] == "here is xoxb-[redacted] and xoxp-[redacted]"
    assert data["notes"] == ["app token xapp-[redacted]", "key AKIA[redacted]"]
    assert data["llm"] == {"configured_with": "sk-ant-[redacted]"}
    assert next(entries(log.path)) == entry.as_dict()
    assert verify(log.path).ok


# -------------------------------------------------------------------------------------- concurrency


def _append_from_process(path: str, writer: str, count: int, barrier: Any) -> None:
    log = AuditLog(Path(path))
    barrier.wait(timeout=60)
    for index in range(count):
        log.append("step", writer, {"writer": writer, "index": index})


def test_threads_and_processes_appending_at_once_keep_one_contiguous_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3 + 8)
    processes = [
        context.Process(target=_append_from_process, args=(str(path), f"process-{i}", 50, barrier))
        for i in range(3)
    ]
    for process in processes:
        process.start()
    errors: list[BaseException] = []

    def run(writer: str) -> None:
        try:
            _append_from_process(str(path), writer, 50, barrier)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"thread-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert not errors, errors

    report = verify(path)
    assert report.ok, report.reason
    assert report.entries == 550
    records = list(entries(path))
    assert [record["seq"] for record in records] == list(range(1, 551))
    per_writer: dict[str, list[int]] = {}
    for record in records:
        per_writer.setdefault(record["data"]["writer"], []).append(record["data"]["index"])
    assert len(per_writer) == 11
    assert all(indexes == list(range(50)) for indexes in per_writer.values())
