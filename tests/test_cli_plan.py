"""`opsbot plan --json`: the DESIGN.md §3 contract on fixtures and on requests typed at 3 a.m."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES

from cli.main import main

CONTRACT_KEYS = {"intent", "decision", "approvers", "plan", "audit", "reasons"}
DECISIONS = {"auto", "approval", "reject", "log_only", "none"}


@pytest.fixture
def cli_env(tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSBOT_DATA_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    return tmp_path


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main(["plan", "--json", *argv])
    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert set(result) == CONTRACT_KEYS
    assert result["decision"] in DECISIONS
    assert set(result["audit"]) == {"verdict", "reasons"}
    return dict(result)


@pytest.mark.parametrize("fixture", sorted(p.name for p in (FIXTURES / "aws").glob("*.json")))
def test_every_aws_fixture_meets_the_contract(cli_env: Path, capsys, fixture: str) -> None:
    result = plan_json(capsys, "--event", str(FIXTURES / "aws" / fixture))
    assert result["intent"]["action"]
    assert (
        not (cli_env / "state" / "audit.jsonl").exists()
        or (cli_env / "state" / "audit.jsonl").read_text() == ""
    )  # plan executes and logs nothing


@pytest.mark.parametrize(
    ("text", "action", "decision"),
    [
        ("pls quarantine i-0123456789abcdef0 asap, looks like crypto mining", "isolate_instance", "reject"),
        ("can u block 203.0.113.45 its hammering us", "block_ip", "approval"),
        ("block 10.0.0.5", "block_ip", "reject"),
        ("deny all traffic from 198.51.100.0/8", "block_ip", "reject"),
        ("scale web-asg to -3", "scale_asg", "reject"),
        ("restart nginx; rm -rf / on i-0123456789abcdef0", "restart_service", "reject"),
        ("isolate i-xyz", "isolate_instance", "reject"),
        ("what's going on?", "status", "none"),
        ("pause", "pause", "none"),
        ("make me a sandwich", "unknown", "none"),
    ],
)
def test_requests_typed_by_tired_engineers(
    cli_env: Path, capsys, text: str, action: str, decision: str
) -> None:
    result = plan_json(capsys, text)
    assert result["intent"]["action"] == action
    assert result["decision"] == decision
    if decision == "reject":
        assert result["reasons"], "a reject always says why"


def test_invalid_parameter_is_named_in_the_reason(cli_env: Path, capsys) -> None:
    result = plan_json(capsys, "isolate i-xyz in us-east-1")
    assert result["decision"] == "reject"
    assert any("i-xyz" in reason for reason in result["reasons"])


def test_unreadable_event_gets_one_line_and_nonzero_exit(cli_env: Path, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["plan", "--json", "--event", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not JSON" in err
    assert "Traceback" not in err
    assert main(["plan", "--json", "--event", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_audit_verify_reports_tampering(cli_env: Path, capsys) -> None:
    from runtime.audit_log import AuditLog

    log = AuditLog(cli_env / "audit.jsonl")
    for n in range(5):
        log.append("note", "t", {"n": n})
    assert main(["audit", "verify", str(log.path)]) == 0
    lines = log.path.read_text().splitlines()
    lines[2] = lines[2].replace('"n":2', '"n":9').replace('"n": 2', '"n": 9')
    log.path.write_text("\n".join(lines) + "\n")
    assert main(["audit", "verify", str(log.path)]) == 1
    assert "TAMPERED" in capsys.readouterr().out
