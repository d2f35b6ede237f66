"""Prometheus metrics from real runs: pipelines on moto's server, the Slack app, the LLM transport.

The registry is process-wide, so every test reads counters before and after and checks the change.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_anthropic import FakeAnthropic, fake_anthropic_fixture, text_reply, usage_block  # noqa: F401
from fake_slack import FakeSlack
from pipeline_support import (
    ONCALL,
    PLATFORM,
    FakeClock,
    Recorder,
    crypto_event,
    desired,
    group_ids,
    make_estate,
    make_pipeline,
)
from prometheus_client.parser import text_string_to_metric_families
from slack_support import fake_slack_fixture  # noqa: F401 - the fake_slack fixture

from cli.demo import injected_alarm
from graph.executor import execute_step
from graph.llm import LlmSettings, build_llm_client, text_block
from graph.models import PlanStep
from runtime.coordination import run_scope, step_lock_key
from runtime.incidents import open_incident
from runtime.metrics import event_source, render_latest, sample_value
from runtime.pipeline import Pipeline
from runtime.store import SqliteStore

API_KEY = "sk-ant-api03-test-key-0000"
FAMILIES = {
    "opsbot_events",
    "opsbot_decisions",
    "opsbot_executions",
    "opsbot_vetoes",
    "opsbot_queue_depth",
    "opsbot_latency_seconds",
    "opsbot_run_seconds",
    "opsbot_llm_tokens",
    "opsbot_approvals",
    "opsbot_slack_api_errors",
    "opsbot_alerts_deduplicated",
}


def value(name: str, **labels: str) -> float:
    return sample_value(name, labels)


def latency_count(stage: str) -> float:
    return value("opsbot_latency_seconds_count", stage=stage)


def run_count(source: str) -> float:
    return value("opsbot_run_seconds_count", source=source)


@pytest.fixture
def pipeline(tmp_path: Path, aws_endpoint: str) -> Pipeline:
    return make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())


def test_an_alert_over_http_counts_its_event_decision_executions_and_latencies(pipeline: Pipeline) -> None:
    estate = make_estate(pipeline)
    events = value("opsbot_events_total", source="http")
    auto = value("opsbot_decisions_total", path="auto")
    snapshots = value("opsbot_executions_total", action="snapshot_instance", result="ok")
    isolations = value("opsbot_executions_total", action="isolate_instance", result="ok")
    plans, executes, runs = latency_count("plan"), latency_count("execute"), run_count("http")
    vetoes = value("opsbot_vetoes_total")

    run = pipeline.start(
        "t-metrics-auto", {"event": crypto_event(estate.miner_instance), "requester": "aws:events"}
    )

    assert run.state["outcome"] == "executed"
    assert estate.web_group_id not in group_ids(pipeline, estate.miner_instance)
    assert value("opsbot_events_total", source="http") == events + 1
    assert value("opsbot_decisions_total", path="auto") == auto + 1
    assert value("opsbot_executions_total", action="snapshot_instance", result="ok") == snapshots + 1
    assert value("opsbot_executions_total", action="isolate_instance", result="ok") == isolations + 1
    assert latency_count("plan") == plans + 1
    assert latency_count("execute") == executes + 1
    assert run_count("http") == runs + 1
    assert value("opsbot_vetoes_total") == vetoes


def test_an_approved_request_counts_the_approval_path_and_the_resumed_run(pipeline: Pipeline) -> None:
    estate = make_estate(pipeline)
    mentions = value("opsbot_events_total", source="slack_mention")
    approval = value("opsbot_decisions_total", path="approval")
    approved = value("opsbot_approvals_total", outcome="approved")
    scaled = value("opsbot_executions_total", action="scale_asg", result="ok")
    resumed = run_count("approval")

    run = pipeline.start("t-metrics-scale", {"text": f"scale {estate.asg_name} to 5", "requester": ONCALL})
    assert run.pending is not None
    assert value("opsbot_decisions_total", path="approval") == approval + 1
    assert value("opsbot_executions_total", action="scale_asg", result="ok") == scaled
    vote = pipeline.vote("t-metrics-scale", PLATFORM, approve=True)

    assert vote.run is not None
    assert desired(pipeline, estate.asg_name) == 5
    assert value("opsbot_events_total", source="slack_mention") == mentions + 1
    assert value("opsbot_approvals_total", outcome="approved") == approved + 1
    assert value("opsbot_executions_total", action="scale_asg", result="ok") == scaled + 1
    assert run_count("approval") == resumed + 1


def test_a_vetoed_plan_counts_a_veto_a_reject_and_no_execution(pipeline: Pipeline) -> None:
    estate = make_estate(pipeline)
    vetoes = value("opsbot_vetoes_total")
    rejects = value("opsbot_decisions_total", path="reject")
    cli = value("opsbot_events_total", source="cli")

    run = pipeline.start("t-metrics-veto", {"event": injected_alarm(estate)})

    assert run.state["audit"]["verdict"] == "veto"
    assert value("opsbot_vetoes_total") == vetoes + 1
    assert value("opsbot_decisions_total", path="reject") == rejects + 1
    assert value("opsbot_events_total", source="cli") == cli + 1  # no requester: the demo and evals
    assert desired(pipeline, estate.asg_name) == 2


def test_an_aws_error_at_execution_counts_a_failed_step(pipeline: Pipeline) -> None:
    estate = make_estate(pipeline)
    pipeline.start("t-metrics-fail", {"text": f"scale {estate.asg_name} to 6", "requester": ONCALL})
    autoscaling = pipeline.ctx.clients.client("autoscaling", "us-east-1")
    autoscaling.delete_auto_scaling_group(AutoScalingGroupName=estate.asg_name, ForceDelete=True)
    failed = value("opsbot_executions_total", action="scale_asg", result="failed")

    vote = pipeline.vote("t-metrics-fail", PLATFORM, approve=True)

    assert vote.run is not None
    assert [e["status"] for e in vote.run.state["executions"]] == ["failed"]
    assert value("opsbot_executions_total", action="scale_asg", result="failed") == failed + 1


def test_refused_and_skipped_steps_are_counted_by_result(pipeline: Pipeline) -> None:
    estate = make_estate(pipeline)
    pipeline.start("t-metrics-refuse", {"text": f"scale {estate.asg_name} to 7", "requester": ONCALL})
    state = pipeline.last_state("t-metrics-refuse")  # waiting for approval: nothing approved yet
    step = PlanStep.model_validate(state["plan"][0])
    refused = value("opsbot_executions_total", action="scale_asg", result="refused")
    skipped = value("opsbot_executions_total", action="scale_asg", result="skipped")

    result = execute_step(pipeline.ctx, state, 0, step)
    assert result["status"] == "refused"
    assert value("opsbot_executions_total", action="scale_asg", result="refused") == refused + 1

    other = {**state, "run_id": "held-elsewhere"}
    assert pipeline.ctx.store.claim(
        step_lock_key(run_scope("t-metrics-refuse", "held-elsewhere"), 0), "other"
    )
    assert execute_step(pipeline.ctx, other, 0, step)["status"] == "skipped"
    assert value("opsbot_executions_total", action="scale_asg", result="skipped") == skipped + 1
    assert desired(pipeline, estate.asg_name) == 2


def test_dry_run_steps_are_counted_as_dry_run(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBOT_DRY_RUN", "true")
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    estate = make_estate(pipeline)
    dry = value("opsbot_executions_total", action="isolate_instance", result="dry_run")

    run = pipeline.start(
        "t-metrics-dry", {"event": crypto_event(estate.miner_instance), "requester": "cli:me"}
    )

    assert run.state["outcome"] == "dry_run"
    assert value("opsbot_executions_total", action="isolate_instance", result="dry_run") == dry + 1


def test_repeats_of_an_alert_count_as_deduplicated_but_a_resolution_does_not(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "coordination.sqlite")
    deduplicated = value("opsbot_alerts_deduplicated_total")
    assert open_incident(store, "fp-1").is_new
    assert not open_incident(store, "fp-1").run
    assert not open_incident(store, "fp-1").run
    assert value("opsbot_alerts_deduplicated_total") == deduplicated + 2
    assert open_incident(store, "fp-1", resolved=True).run
    assert value("opsbot_alerts_deduplicated_total") == deduplicated + 2


def test_event_sources_come_from_the_requester() -> None:
    assert event_source({"text": "status", "requester": "cli:alice"}) == "cli"
    assert event_source({"event": {}}) == "cli"
    assert event_source({"event": {}, "requester": "aws:sns"}) == "http"
    assert event_source({"event": {}, "requester": "integration:B0ALERTS"}) == "slack_alert"
    assert event_source({"text": "scale web-asg to 3", "requester": "U0ONCALL042"}) == "slack_mention"


def test_llm_tokens_are_counted_by_direction(fake_anthropic: FakeAnthropic) -> None:
    settings = LlmSettings(
        ANTHROPIC_API_KEY="sk-ant-api03-test-key-0000", ANTHROPIC_BASE_URL=fake_anthropic.url
    )
    client = build_llm_client(settings, None, backoff_base_seconds=0.02)
    assert client is not None
    before = {d: value("opsbot_llm_tokens_total", direction=d) for d in ("input", "output", "cache_read")}
    fake_anthropic.script(text_reply("ok", usage=usage_block(input=25, output=40, cache_read=7)))
    try:
        client.call("orchestrator", [text_block("Be brief.")], [{"role": "user", "content": "status"}])
    finally:
        client.close()
    assert value("opsbot_llm_tokens_total", direction="input") == before["input"] + 25
    assert value("opsbot_llm_tokens_total", direction="output") == before["output"] + 40
    assert value("opsbot_llm_tokens_total", direction="cache_read") == before["cache_read"] + 7


@pytest.fixture
def slack(tmp_path: Path, aws_endpoint: str, fake_slack: FakeSlack) -> Iterator[Any]:
    from slack_harness import SlackHarness  # imported here: a change on the Slack side fails only this test

    harness = SlackHarness(tmp_path, aws_endpoint, fake_slack)
    try:
        yield harness
    finally:
        harness.close()


def test_a_slack_alert_post_counts_its_event_the_ack_and_slack_errors(
    slack: Any, fake_slack: FakeSlack
) -> None:
    alerts = value("opsbot_events_total", source="slack_alert")
    acks = latency_count("slack_ack")
    errors = value("opsbot_slack_api_errors_total", method="chat.postMessage", error="channel_not_found")
    fake_slack.fail("chat.postMessage", error="channel_not_found", times=None)

    assert slack.alert_post().status == 200

    slack.wait_until(lambda: value("opsbot_events_total", source="slack_alert") == alerts + 1, what="the run")
    slack.wait_until(
        lambda: (
            value("opsbot_slack_api_errors_total", method="chat.postMessage", error="channel_not_found")
            > errors
        ),
        what="a failed post",
    )
    assert latency_count("slack_ack") == acks + 1


def test_render_latest_parses_and_holds_every_family(pipeline: Pipeline) -> None:
    estate = make_estate(pipeline)
    pipeline.start("t-metrics-render", {"event": crypto_event(estate.miner_instance)})
    body, content_type = render_latest()
    assert content_type.startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(body.decode())}
    assert set(families) >= FAMILIES
    executed = [
        sample
        for sample in families["opsbot_executions"].samples
        if sample.labels == {"action": "isolate_instance", "result": "ok"} and sample.name.endswith("_total")
    ]
    assert len(executed) == 1
    assert executed[0].value >= 1
