"""`opsbot ask` in real subprocesses: the terminal approval prompt, and a pause that survives restarts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_support import desired, make_estate, make_pipeline

OPSBOT = [sys.executable, "-m", "cli.main"]


@pytest.fixture
def env(tmp_path: Path, aws_endpoint: str) -> dict[str, str]:
    # The knowledge base is tested elsewhere; here each process would pay for importing chromadb.
    state = str(tmp_path / "state")
    return {
        **os.environ,
        "OPSBOT_DATA_DIR": state,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "OPSBOT_EMBEDDING": "off",
    }


def ask(env: dict[str, str], text: str, stdin: str = "") -> str:
    done = subprocess.run(
        [*OPSBOT, "ask", text], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_terminal_approval_executes_after_an_authorised_id(env, tmp_path: Path, aws_endpoint: str) -> None:
    estate = make_estate(make_pipeline(tmp_path / "setup", aws_endpoint))
    out = ask(env, f"scale {estate.asg_name} to 9", stdin="U0STRANGER1\nU0PLATFORM1\n")
    assert "Approval needed from platform" in out
    assert "not authorised" in out
    assert "Outcome: executed" in out
    assert desired(make_pipeline(tmp_path / "check", aws_endpoint), estate.asg_name) == 9


def test_pause_survives_a_restart_and_blocks_execution(env, tmp_path: Path, aws_endpoint: str) -> None:
    estate = make_estate(make_pipeline(tmp_path / "setup", aws_endpoint))
    assert "PAUSED" in ask(env, "pause")
    assert "Automation: PAUSED" in ask(env, "status")  # a new process reads the same flag
    out = ask(env, f"snapshot {estate.db_instance}")
    assert "Decision: reject" in out
    assert "paused" in out
    assert "Automation resumed" in ask(env, "resume")
    assert "Outcome: executed" in ask(env, f"snapshot {estate.db_instance}")


def test_help_investigate_and_unknown_answer_without_executing(
    env, tmp_path: Path, aws_endpoint: str
) -> None:
    estate = make_estate(make_pipeline(tmp_path / "setup", aws_endpoint))
    assert "scale web-asg to 6" in ask(env, "help")
    investigated = ask(env, f"investigate {estate.db_instance}")
    assert "state=running" in investigated
    assert "Environment" not in investigated.splitlines()[0]
    assert "did not understand" in ask(env, "make me a sandwich")
