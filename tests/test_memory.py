"""Incident memory on a real Pipeline (moto server) and a real Chroma store: remember, find, learn."""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from pipeline_support import (
    ONCALL,
    PLATFORM,
    SECURITY,
    FakeClock,
    Recorder,
    crypto_event,
    make_estate,
    make_pipeline,
)

from bot.blocks import approval_blocks, text_fallback
from cli.demo import injected_alarm
from cli.estate import Estate
from graph.render import summary
from knowledge.cli import add_knowledge_commands
from knowledge.config import KnowledgeConfig
from knowledge.embedding import HashingEmbedding
from knowledge.lazy_store import LazyKnowledgeStore
from knowledge.lessons import lessons
from knowledge.memory import ChromaMemory, incident_record
from knowledge.retrieval import ChromaRetriever, NoKnowledge
from knowledge.store import KnowledgeStore
from runtime.pipeline import Pipeline

CRYPTO = "CryptoCurrency:EC2/BitcoinTool.B!DNS"


@dataclass
class Remembering:
    pipeline: Pipeline
    store: KnowledgeStore
    memory: ChromaMemory
    estate: Estate

    def posted(self) -> str:
        return self.pipeline.ctx.notifier.posts[-1][1]  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def env(tmp_path: Path, aws_endpoint: str) -> Iterator[Remembering]:
    pipeline = make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())
    store = KnowledgeStore.open_local(tmp_path / "knowledge", HashingEmbedding())
    memory = ChromaMemory(store)
    pipeline.ctx = replace(pipeline.ctx, retriever=ChromaRetriever(store), memory=memory)
    yield Remembering(pipeline, store, memory, make_estate(pipeline))
    store.close()


def test_a_handled_alert_is_found_for_a_similar_alert_with_its_feedback(env: Remembering) -> None:
    first = env.pipeline.start("t-crypto-1", {"event": crypto_event(env.estate.miner_instance)})
    assert first.state["outcome"] == "executed"
    incident_id = f"t-crypto-1/{first.state['run_id']}"
    stored = env.store.get_incident(incident_id)
    assert stored is not None
    assert "isolate instance" in stored.document
    assert CRYPTO in stored.document
    meta = stored.metadata
    assert meta["approved_by"] == "policy:auto"
    assert meta["outcome"] == "executed"
    assert meta["negative"] == "false"
    assert meta["plan_actions"] == "snapshot_instance,isolate_instance"
    assert meta["alert_kind"] == "guardduty"
    assert meta["finding_type"] == CRYPTO
    assert re.fullmatch(r"\d+ s", str(meta["resolved_in"]))
    assert 0 <= float(meta["resolution_seconds"]) < 60

    assert env.memory.feedback("t-crypto-1", vote="up", text="right call, fast", user=PLATFORM) == incident_id
    assert env.memory.feedback("t-crypto-1", vote="up", text=None, user=SECURITY) == incident_id
    assert env.memory.feedback("t-nothing-here", vote="down", text=None, user=PLATFORM) is None
    with pytest.raises(ValueError, match="needs a vote"):
        env.memory.feedback("t-crypto-1", vote=None, text="  ", user=PLATFORM)
    liked = env.store.get_incident(incident_id)
    assert liked is not None
    assert liked.metadata["thumbs_up"] == 2
    assert liked.metadata["feedback"] == f"{PLATFORM}: right call, fast"

    second = env.pipeline.start("t-crypto-2", {"event": crypto_event(env.estate.web_instances[0])})
    assert second.state["outcome"] == "executed"
    hits = second.state["retrieved"]["incidents"]
    assert hits[0]["id"] == incident_id
    assert hits[0]["score"] > 0.5
    assert {k: hits[0]["metadata"][k] for k in ("approved_by", "outcome", "thumbs_up")} == {
        "approved_by": "policy:auto",
        "outcome": "executed",
        "thumbs_up": 2,
    }
    assert hits[0]["metadata"]["resolved_in"] == meta["resolved_in"]
    shown = env.posted()
    assert "Similar past incidents:" in shown
    assert "auto-approved by policy" in shown
    assert "👍 2 👎 0 · “U0PLATFORM1: right call, fast”" in shown
    assert env.store.count_incidents() == 2

    [lesson] = lessons(env.store)
    assert (lesson.action, lesson.alert_type, lesson.count, lesson.executed) == (
        "isolate_instance",
        CRYPTO,
        2,
        2,
    )
    assert (lesson.thumbs_up, lesson.thumbs_down, lesson.negatives) == (2, 0, 0)
    assert lesson.feedback == [f"{PLATFORM}: right call, fast"]
    assert lesson.takeaway == "mostly approved and liked"


def test_a_plan_a_person_rejected_is_shown_as_a_negative_example(env: Remembering) -> None:
    web_1, web_2 = env.estate.web_instances
    run = env.pipeline.start("t-term-1", {"text": f"terminate {web_1}", "requester": ONCALL})
    assert run.pending is not None
    declined = env.pipeline.vote("t-term-1", SECURITY, approve=False)
    assert declined.run is not None
    assert declined.run.state["outcome"] == "declined"
    stored = env.store.get_incident(f"t-term-1/{run.state['run_id']}")
    assert stored is not None
    assert stored.metadata["negative"] == "true"
    assert stored.metadata["reasons"] == f"declined by {SECURITY}"
    assert stored.metadata["requester"] == ONCALL
    assert "approved_by" not in stored.metadata or stored.metadata["approved_by"] == ""
    assert env.memory.feedback("t-term-1", vote="down", text="web-1 was serving traffic", user=PLATFORM)

    again = env.pipeline.start("t-term-2", {"text": f"terminate {web_2}", "requester": ONCALL})
    assert again.pending is not None
    [hit] = again.pending["retrieved"]["incidents"]
    assert hit["id"] == stored.id
    blocks = text_fallback(approval_blocks(again.pending))
    assert f"⚠ rejected before: declined by {SECURITY}" in blocks
    assert "👍 0 👎 1 · “U0PLATFORM1: web-1 was serving traffic”" in blocks
    text = summary(again.state)
    assert "Similar past incidents:" in text
    assert f"⚠ rejected before: declined by {SECURITY}" in text

    [lesson] = lessons(env.store)
    assert (lesson.action, lesson.alert_type, lesson.negatives, lesson.thumbs_down) == (
        "terminate_instance",
        "request",
        1,
        1,
    )
    assert lesson.takeaway == f"often rejected: declined by {SECURITY}"


def test_a_vetoed_plan_is_remembered_and_lessons_are_printed(
    env: Remembering, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vetoed = env.pipeline.start("t-inject-1", {"event": injected_alarm(env.estate)})
    assert vetoed.state["outcome"] == "vetoed"
    veto_reason = vetoed.state["audit"]["reasons"][0]
    stored = env.store.get_incident(f"t-inject-1/{vetoed.state['run_id']}")
    assert stored is not None
    assert stored.metadata["negative"] == "true"
    assert str(stored.metadata["reasons"]).startswith(veto_reason[:50])
    assert "«" in veto_reason
    assert "IGNORE" in veto_reason.upper()
    assert "IGNORE" not in str(stored.metadata["reasons"]).upper()  # the alert's instructions stay out

    again = env.pipeline.start("t-inject-2", {"event": injected_alarm(env.estate)})
    assert again.state["outcome"] == "vetoed"
    assert again.state["retrieved"]["incidents"][0]["id"] == stored.id
    assert f"⚠ vetoed before: {veto_reason[:50]}" in env.posted()
    status = env.pipeline.start("t-status", {"text": "status", "requester": ONCALL})
    assert status.state["outcome"] == "answered"
    assert env.store.count_incidents() == 2  # control answers are not incidents

    top = argparse.ArgumentParser(prog="opsbot")
    add_knowledge_commands(top.add_subparsers(dest="command", required=True))
    settings = SimpleNamespace(data_dir=tmp_path, knowledge_dir=tmp_path / "knowledge", embedding="hashing")
    as_json = top.parse_args(["knowledge", "lessons", "--json"])
    assert as_json.run(as_json, settings) == 0
    [lesson] = json.loads(capsys.readouterr().out)["lessons"]
    assert lesson["count"] == 2
    assert lesson["negatives"] == 2
    assert lesson["executed"] == 0
    assert lesson["takeaway"].startswith(f"often vetoed: {veto_reason[:40]}")
    as_table = top.parse_args(["knowledge", "lessons"])
    assert as_table.run(as_table, settings) == 0
    table = capsys.readouterr().out
    header = "action  alert type  runs  executed  refused  up  down  takeaway"
    assert " ".join(table.splitlines()[0].split()) == header.replace("  ", " ")
    assert re.search(
        rf"{lesson['action']}\s+{re.escape(lesson['alert_type'])}\s+2\s+0\s+2\s+0\s+0\s+often", table
    )


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_remembering_never_fails_a_run_when_the_store_is_unreachable(
    tmp_path: Path, aws_endpoint: str
) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())
    unreachable = LazyKnowledgeStore(KnowledgeConfig(host="127.0.0.1", port=9, embedding="hashing"))
    pipeline.ctx = replace(pipeline.ctx, retriever=NoKnowledge(), memory=ChromaMemory(unreachable))
    estate = make_estate(pipeline)
    collected = Collected()
    logging.getLogger("knowledge.memory").addHandler(collected)
    try:
        run = pipeline.start("t-no-store", {"event": crypto_event(estate.miner_instance)})
    finally:
        logging.getLogger("knowledge.memory").removeHandler(collected)
    assert run.state["outcome"] == "executed"
    assert collected.messages == [f"incident t-no-store/{run.state['run_id']} was not remembered"]
    assert ChromaMemory(unreachable).feedback("t-no-store", vote="up", text=None, user=PLATFORM) is None


def test_an_incident_record_without_audit_entries_has_no_timing(tmp_path: Path) -> None:
    state = {
        "thread_id": "t-x",
        "run_id": "r1",
        "intent": {"action": "scale_asg", "text": "scale web-asg to 6", "requester": ONCALL},
        "plan": [{"action": "scale_asg", "params": {"asg_name": "web-asg", "desired": 6}}],
        "decision": {"decision": "approval"},
        "approval": {"status": "approved", "approvers": [PLATFORM, SECURITY]},
        "executions": [{"status": "ok"}],
        "verification": [{"ok": True}],
    }
    record = incident_record(state, tmp_path / "missing-audit.jsonl")
    assert record.id == "t-x/r1"
    assert record.metadata["approved_by"] == f"{PLATFORM},{SECURITY}"
    assert record.metadata["outcome"] == "executed"
    assert record.metadata["alert_type"] == "request"
    assert "resolved_in" not in record.metadata
    assert record.document.splitlines()[0] == "scale asg scale web-asg to 6"
