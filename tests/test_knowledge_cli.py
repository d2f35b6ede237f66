"""`opsbot knowledge ingest|search` through the real command line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main


def test_ingest_is_idempotent_and_search_prints_ids_titles_and_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPSBOT_DATA_DIR", str(tmp_path))
    assert main(["knowledge", "ingest"]) == 0
    first = capsys.readouterr().out
    assert main(["knowledge", "ingest"]) == 0
    second = capsys.readouterr().out
    shipped = len(list(Path("knowledge/runbooks").glob("*.md")))
    assert f"runbooks: {shipped} added" in first
    assert f"0 added, 0 updated, {shipped} unchanged, 0 removed" in second
    assert main(["knowledge", "search", "--json", "the box is mining bitcoin i think"]) == 0
    found = json.loads(capsys.readouterr().out)
    top = found["runbooks"][0]
    assert top["id"] == "rb-guardduty-crypto-mining"
    assert set(top) == {"id", "title", "score"}
    assert 0 < top["score"] <= 1


def test_a_broken_runbook_directory_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPSBOT_DATA_DIR", str(tmp_path))
    bad = tmp_path / "runbooks"
    bad.mkdir()
    (bad / "broken.md").write_text("no front matter here\n")
    assert main(["knowledge", "ingest", str(bad)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("opsbot: ")
    assert "broken.md" in error
    assert "\n" not in error
