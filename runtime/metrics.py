"""Prometheus metrics: one registry per process, the metric names in one place, and the /metrics body.

Counters and histograms are module-level Prometheus objects on a registry of our own (not the global
default), so tests can read them back with ``sample_value``. Instrumentation points call the small
``record_*`` helpers and ``observe`` below, so each stays one line and label values stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_RUN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

EVENTS = Counter("opsbot_events_total", "Events received, by source.", ["source"], registry=REGISTRY)
DECISIONS = Counter("opsbot_decisions_total", "Plan decisions, by path.", ["path"], registry=REGISTRY)
EXECUTIONS = Counter(
    "opsbot_executions_total",
    "Executed steps, by action and result.",
    ["action", "result"],
    registry=REGISTRY,
)
VETOES = Counter("opsbot_vetoes_total", "Plans the audit vetoed.", registry=REGISTRY)
QUEUE_DEPTH = Gauge("opsbot_queue_depth", "Work items waiting or in flight.", registry=REGISTRY)
LATENCY = Histogram(
    "opsbot_latency_seconds",
    "Latency by stage: each graph node by its name (parse, plan, execute ...) and slack_ack.",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
RUN_LATENCY = Histogram(
    "opsbot_run_seconds",
    "Whole graph runs, by what started them (an event source, or approval for a resumed run).",
    ["source"],
    buckets=_RUN_BUCKETS,
    registry=REGISTRY,
)
LLM_TOKENS = Counter("opsbot_llm_tokens_total", "LLM tokens, by direction.", ["direction"], registry=REGISTRY)
APPROVALS = Counter(
    "opsbot_approvals_total",
    "Approval requests decided, by outcome (approved, rejected, expired).",
    ["outcome"],
    registry=REGISTRY,
)
SLACK_API_ERRORS = Counter(
    "opsbot_slack_api_errors_total",
    "Slack Web API calls that failed, by method and Slack's error code.",
    ["method", "error"],
    registry=REGISTRY,
)
ALERTS_DEDUPLICATED = Counter(
    "opsbot_alerts_deduplicated_total",
    "Alert deliveries folded into an incident already open for the same fingerprint.",
    registry=REGISTRY,
)

EVENT_SOURCES = ("slack_mention", "slack_alert", "http", "cli")
DECISION_PATHS = ("auto", "approval", "reject", "log_only")
EXECUTION_RESULTS = ("ok", "dry_run", "failed", "refused", "skipped")
APPROVAL_OUTCOMES = ("approved", "rejected", "expired")
_OTHER = "other"  # any label value outside the known set, so a bad value never adds a time series


def _bounded(value: str, known: tuple[str, ...]) -> str:
    return value if value in known else _OTHER


def event_source(run_input: Mapping[str, Any]) -> str:
    """Where a run's input came from, read from its requester (see bot/ and cli/ for who sets what).

    ``cli:<user>`` and no requester at all (the demo, evals) are the CLI; ``aws:events`` and ``aws:sns``
    came in over HTTP; ``integration:<bot>`` is an alert posted in a Slack channel; anyone else is a
    person writing to the bot in Slack.
    """
    requester = str(run_input.get("requester") or "")
    if not requester or requester.startswith("cli:"):
        return "cli"
    if requester.startswith("aws:"):
        return "http"
    if requester.startswith("integration:"):
        return "slack_alert"
    return "slack_mention"


def record_event(source: str) -> None:
    EVENTS.labels(source=_bounded(source, EVENT_SOURCES)).inc()


def record_decision(path: str) -> None:
    DECISIONS.labels(path=_bounded(path, DECISION_PATHS)).inc()


def record_execution(action: str, result: str) -> None:
    """One executed step. ``action`` comes from the tool registry, so its values are bounded."""
    EXECUTIONS.labels(action=action, result=_bounded(result, EXECUTION_RESULTS)).inc()


def record_audit_verdict(verdict: str) -> None:
    """Count the audit's verdict: only vetoes are kept."""
    if verdict == "veto":
        VETOES.inc()


def record_approval(outcome: str) -> None:
    APPROVALS.labels(outcome=_bounded(outcome, APPROVAL_OUTCOMES)).inc()


def record_slack_error(method: str, error: str) -> None:
    """A failed Slack Web API call: ``method`` like ``chat.postMessage``, ``error`` Slack's error code."""
    SLACK_API_ERRORS.labels(method=method, error=error or "unknown").inc()


def record_alert_deduplicated() -> None:
    ALERTS_DEDUPLICATED.inc()


def record_llm_tokens(input: int, output: int, cache_read: int = 0, cache_write: int = 0) -> None:
    """Tokens of one LLM call; cache reads and writes are counted apart from plain input."""
    for direction, count in (
        ("input", input),
        ("output", output),
        ("cache_read", cache_read),
        ("cache_write", cache_write),
    ):
        if count > 0:
            LLM_TOKENS.labels(direction=direction).inc(count)


def record_latency(stage: str, seconds: float) -> None:
    LATENCY.labels(stage=stage).observe(seconds)


@contextmanager
def observe(stage: str) -> Iterator[None]:
    """Time the block into ``opsbot_latency_seconds{stage}``, also when it raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        record_latency(stage, time.perf_counter() - started)


@contextmanager
def observe_run(source: str) -> Iterator[None]:
    """Time one whole graph run into ``opsbot_run_seconds{source}``, also when it raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        RUN_LATENCY.labels(source=_bounded(source, (*EVENT_SOURCES, "approval"))).observe(
            time.perf_counter() - started
        )


def set_queue_depth(depth: int) -> None:
    QUEUE_DEPTH.set(depth)


def render_latest() -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def sample_value(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample (0 when it was never recorded)."""
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def _initialise_known_series() -> None:
    """Known label values start at 0, so rate() and absent() work before the first event."""
    for source in EVENT_SOURCES:
        EVENTS.labels(source=source)
    for path in DECISION_PATHS:
        DECISIONS.labels(path=path)
    for outcome in APPROVAL_OUTCOMES:
        APPROVALS.labels(outcome=outcome)


_initialise_known_series()
