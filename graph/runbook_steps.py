"""Plans follow the best runbook when the intent allows it, and say which runbook they followed.

A runbook is followed when it was retrieved with a score of at least ``FOLLOW_AT_LEAST`` and it
applies: it names the intent's action, or the alert's finding type or kind. Following means the
plan's steps take the runbook's order, steps the runbook lists and the intent allows are added for
the same resource, and every step cites the runbook. It never adds a step the intent's table in
``graph.planning.ALLOWED_STEPS`` forbids: the audit holds plans to that table either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graph.models import Intent, PlanStep
from knowledge.retrieval import RELEVANT_AT_LEAST

StepMaker = Callable[[str, dict[str, Any], str], PlanStep]

FOLLOW_AT_LEAST = RELEVANT_AT_LEAST
INSTANCE_SCOPED = frozenset({"snapshot_instance", "isolate_instance", "stop_instance", "restart_service"})


def best_runbook(intent: Intent, retrieved: dict[str, Any]) -> dict[str, Any] | None:
    for hit in retrieved.get("runbooks", []):
        if float(hit.get("score", 0.0)) < FOLLOW_AT_LEAST:
            continue
        meta = hit.get("metadata", {})
        actions = _csv(meta.get("actions"))
        alert_types = {value.lower() for value in _csv(meta.get("alert_types"))}
        alert = intent.alert
        alert_names = {alert.finding_type.lower(), alert.kind.lower()} - {""} if alert else set()
        if intent.action in actions or alert_names & alert_types:
            return dict(hit)
    return None


def runbook_actions(runbook: dict[str, Any]) -> list[str]:
    return _csv(runbook.get("metadata", {}).get("actions"))


def follow(
    steps: list[PlanStep], runbook: dict[str, Any], allowed: frozenset[str], make_step: StepMaker
) -> list[PlanStep]:
    """The steps in the runbook's order, with allowed runbook steps for the same instance added."""
    order = runbook_actions(runbook)
    present = {step.action for step in steps}
    instance = next(
        (s.params for s in steps if s.action in INSTANCE_SCOPED and "instance_id" in s.params), None
    )
    added = []
    for action in order:
        if action in allowed and action not in present and action in INSTANCE_SCOPED and instance is not None:
            keep = {k: v for k, v in instance.items() if k in {"instance_id", "region"}}
            added.append(make_step(action, keep, f"the runbook lists {action} for this case"))
    rank = {action: index for index, action in enumerate(order)}
    ordered = sorted([*steps, *added], key=lambda step: rank.get(step.action, len(rank)))
    cite = f" (runbook {runbook.get('id')})"
    return [step.model_copy(update={"why": (step.why + cite).strip()}) for step in ordered]


def _csv(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]
