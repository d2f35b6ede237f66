"""The worker's side of the queue: each kind of work item run on the pipeline (and Slack, when configured).

- ``alert``: an AWS event from POST /events (EventBridge or SNS): one incident thread per alert.
- ``slack``: a call the Bolt listeners made, ``{"method", "kwargs"}``, run on the real ``SlackBridge``.

Every item runs under a run id derived from its stream entry id (runtime/redelivery.py), so an item
taken over from a dead worker continues the run it began instead of starting another.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot.conversation import SlackBridge
from bot.slack_queue import SLACK_METHODS, SLACK_WORK
from graph.parsing import EventFormatError, parse_event
from runtime.coordination import resume_claim_key, run_scope
from runtime.pipeline import Pipeline
from runtime.redelivery import open_incident_once, run_id_for
from runtime.reviews.delivery import slack_poster
from runtime.reviews.runner import ReviewRuntime, run_due_reviews
from runtime.vendor_expiry import sweep_once
from runtime.work_queue import WorkItem
from runtime.worker import Handler, PeriodicTask, WorkRejected

log = logging.getLogger("opsbot.worker")
ALERT_WORK = "alert"
EXPIRY_SWEEP_SECONDS = 30.0
VENDOR_SWEEP_SECONDS = 30.0
REVIEW_TICK_SECONDS = 45.0


def alert_payload(event: dict[str, Any], requester: str) -> dict[str, Any]:
    return {"event": event, "requester": requester}


class AlertWork:
    """An alert from POST /events: open (or count a repeat of) its incident, and run it."""

    def __init__(self, pipeline: Pipeline, bridge: SlackBridge | None = None) -> None:
        self.pipeline = pipeline
        self.bridge = bridge

    def __call__(self, item: WorkItem) -> None:
        event, requester = item.payload.get("event"), str(item.payload.get("requester") or "aws:events")
        if not isinstance(event, dict):
            raise WorkRejected("the alert item carries no event object")
        try:
            alert = parse_event(event)
        except EventFormatError as error:
            raise WorkRejected(f"not an alert opsbot reads: {error}") from error
        run_id = run_id_for(item.id)
        if self.bridge is not None:  # the incident thread lives in Slack
            replace(self.bridge, run_id=run_id).intake_alert(event, alert, requester)
            return
        ctx = self.pipeline.ctx
        incident = open_incident_once(
            ctx.store, run_id, alert.fingerprint, alert.resolved, alert.title, ctx.clock()
        )
        if incident.run:
            self.pipeline.start_or_resume(
                incident.thread_id, {"event": event, "requester": requester}, run_id
            )


class SlackWork:
    """A Slack request queued by `serve`, run on the bridge under the item's run id."""

    def __init__(self, bridge: SlackBridge) -> None:
        self.bridge = bridge

    def __call__(self, item: WorkItem) -> None:
        method, kwargs = item.payload.get("method"), item.payload.get("kwargs")
        if method not in SLACK_METHODS or not isinstance(kwargs, dict):
            raise WorkRejected(f"not a Slack request opsbot queues: method {method!r}")
        call: Callable[..., Any] = getattr(replace(self.bridge, run_id=run_id_for(item.id)), str(method))
        try:
            inspect.signature(call).bind(**kwargs)
        except TypeError as error:
            raise WorkRejected(f"{method} cannot take {sorted(kwargs)}: {error}") from error
        if method == "handle_click" and item.deliveries > 1 and self._carried_on(kwargs):
            return
        call(**kwargs)

    def _carried_on(self, click: dict[str, Any]) -> bool:
        """A click redelivered after its worker died having claimed the approval: carry that run on
        (the vote itself would now be refused as already decided)."""
        thread_id, run_id = str(click.get("thread_id", "")), str(click.get("run_id", ""))
        if self.bridge.pipeline.ctx.store.get(resume_claim_key(run_scope(thread_id, run_id))) is None:
            return False
        log.info("carrying on approved run %s of %s after its worker stopped", run_id, thread_id)
        return self.bridge.pipeline.continue_run(thread_id, run_id) is not None


def no_slack(item: WorkItem) -> None:
    """Slack work on a worker without Slack settings: left for a worker that has them."""
    raise RuntimeError("this worker has no Slack settings (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)")


def work_handlers(pipeline: Pipeline, bridge: SlackBridge | None) -> dict[str, Handler]:
    return {ALERT_WORK: AlertWork(pipeline, bridge), SLACK_WORK: SlackWork(bridge) if bridge else no_slack}


def periodic_tasks(pipeline: Pipeline, bridge: SlackBridge | None) -> list[PeriodicTask]:
    """Work every worker does between polls: approvals whose time is up are closed (and marked in Slack),
    vendor access whose time is up is revoked, and the scheduled reviews that are due run (once per
    period across every worker, under a lock in the coordination store)."""

    def expire_due() -> None:
        closed = bridge.expire_due() if bridge is not None else len(pipeline.expire_due())
        if closed:
            log.info("%d approval(s) expired", closed)

    def revoke_expired_vendor_access() -> None:
        sweep_once(pipeline)

    reviews = ReviewRuntime.from_context(
        pipeline.ctx, slack_poster(bridge.client) if bridge is not None else None
    )

    def run_scheduled_reviews() -> None:
        run_due_reviews(reviews, pipeline.ctx.clock())

    return [
        (EXPIRY_SWEEP_SECONDS, expire_due),
        (VENDOR_SWEEP_SECONDS, revoke_expired_vendor_access),
        (REVIEW_TICK_SECONDS, run_scheduled_reviews),
    ]
