"""Checkpoints on a real PostgreSQL (Debian's package) and on SQLite: a restart during a pending approval.

The Postgres case is the several-hosts setup: the second pipeline has its own data directory and
shares only PostgreSQL, Redis and AWS with the first, as a worker on another host would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from pipeline_support import ONCALL, PLATFORM, desired, executions, make_estate
from postgres_fixture import postgres_database_fixture, postgres_url_fixture  # noqa: F401

from runtime.checkpoints import (
    CheckpointerMisconfigured,
    CheckpointerUnavailable,
    close_checkpointer,
    open_checkpointer,
)
from runtime.config import Settings
from runtime.pipeline import Pipeline
from runtime.services import open_pipeline


@pytest.fixture(autouse=True)
def _no_knowledge_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runbook retrieval plays no part here; leaving it out keeps the pipeline runs fast."""
    monkeypatch.setenv("OPSBOT_EMBEDDING", "off")


def settings_for(data_dir: Path, endpoint: str, **extra: str | None) -> Settings:
    return Settings(OPSBOT_DATA_DIR=data_dir, AWS_ENDPOINT_URL=endpoint, **extra)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def host_settings(request: pytest.FixtureRequest, tmp_path: Path, aws_endpoint: str) -> list[Settings]:
    """The settings of two processes: a first one, and the one that runs after it went away."""
    if request.param == "sqlite":
        same = settings_for(tmp_path, aws_endpoint)
        return [same, same]
    database = request.getfixturevalue("postgres_database")
    redis_url = request.getfixturevalue("redis_url")
    shared = {"OPSBOT_CHECKPOINTER": "postgres", "OPSBOT_POSTGRES_URL": database, "REDIS_URL": redis_url}
    return [settings_for(tmp_path / host, aws_endpoint, **shared) for host in ("host-a", "host-b")]


def close(pipeline: Pipeline) -> None:
    checkpointer = pipeline.graph.checkpointer
    assert checkpointer is not None
    close_checkpointer(checkpointer)  # type: ignore[arg-type]


def test_a_restart_during_a_pending_approval_still_resumes_and_executes_once(
    host_settings: list[Settings],
) -> None:
    first = open_pipeline(host_settings[0])
    estate = make_estate(first)
    run = first.start("t-restart", {"text": f"scale {estate.asg_name} to 7", "requester": ONCALL})
    assert run.pending is not None
    assert desired(first, estate.asg_name) == 2
    close(first)  # the process goes away; only what it wrote to the checkpointer and the store remains

    second = open_pipeline(host_settings[1])
    try:
        expected = PostgresSaver if host_settings[1].checkpointer == "postgres" else SqliteSaver
        assert isinstance(second.graph.checkpointer, expected)
        assert second.pending("t-restart") is not None
        vote = second.vote("t-restart", PLATFORM, approve=True)
        assert vote.accepted
        assert vote.run is not None
        assert vote.run.state["outcome"] == "executed"
        assert desired(second, estate.asg_name) == 7
        again = second.vote("t-restart", PLATFORM, approve=True)
        assert not again.accepted
        assert len(executions(second, "t-restart")) == 1
        if first.ctx.audit.path != second.ctx.audit.path:
            assert executions(first, "t-restart") == []  # two hosts: nothing ran on the first
    finally:
        close(second)


def test_the_postgres_checkpointer_keeps_the_state_across_connections(postgres_database: str) -> None:
    settings = Settings(OPSBOT_CHECKPOINTER="postgres", OPSBOT_POSTGRES_URL=postgres_database)  # type: ignore[call-arg]
    config = {"configurable": {"thread_id": "t-1", "checkpoint_ns": ""}}
    first = open_checkpointer(settings)
    try:
        assert isinstance(first, PostgresSaver)
        assert first.get_tuple(config) is None  # type: ignore[arg-type]
    finally:
        close_checkpointer(first)
    second = open_checkpointer(settings)  # setup() again on existing tables is a no-op
    close_checkpointer(second)


def test_postgres_without_a_url_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    settings = Settings(OPSBOT_DATA_DIR=tmp_path, OPSBOT_CHECKPOINTER="postgres")  # type: ignore[call-arg]
    with pytest.raises(CheckpointerMisconfigured, match="OPSBOT_POSTGRES_URL"):
        open_checkpointer(settings)


def test_an_unreachable_postgres_is_one_clear_sentence_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://opsbot:hunter2-secret@/opsbot?host={tmp_path}&port=5999"
    settings = Settings(OPSBOT_CHECKPOINTER="postgres", OPSBOT_POSTGRES_URL=url)  # type: ignore[call-arg]
    with pytest.raises(CheckpointerUnavailable) as caught:
        open_checkpointer(settings)
    message = str(caught.value)
    assert message.startswith(f"cannot reach PostgreSQL at {tmp_path}:5999/opsbot:")
    assert "hunter2" not in message
    assert "\n" not in message


def test_a_malformed_url_is_refused_without_quoting_it() -> None:
    url = "postgresql://opsbot:hunter2-secret@[db/opsbot"  # psycopg would quote it, password and all
    settings = Settings(OPSBOT_CHECKPOINTER="postgres", OPSBOT_POSTGRES_URL=url)  # type: ignore[call-arg]
    with pytest.raises(CheckpointerMisconfigured) as caught:
        open_checkpointer(settings)
    assert str(caught.value) == "OPSBOT_POSTGRES_URL is not a valid PostgreSQL connection URL."
