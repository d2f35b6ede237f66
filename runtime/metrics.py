"""Prometheus metrics: one registry per process, the metric names in one place, and the /metrics body.

Counters and histograms are module-level Prometheus objects on a registry of our own (not the global
default), so tests can read them back with ``sample_value``.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

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
    "Latency by stage.",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
LLM_TOKENS = Counter("opsbot_llm_tokens_total", "LLM tokens, by direction.", ["direction"], registry=REGISTRY)


def render_latest() -> tuple[bytes, str]:
    """The /metrics body and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def sample_value(name: str, labels: dict[str, str] | None = None) -> float:
    """The current value of one sample (0 when it was never recorded)."""
    value = REGISTRY.get_sample_value(name, labels or {})
    return 0.0 if value is None else value
