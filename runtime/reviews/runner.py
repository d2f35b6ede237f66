"""Run each due review once per period across every replica, and deliver it.

For a due review, a replica claims ``review-run:<review>:<period>`` in the coordination store (TTL
``RUN_LOCK_SECONDS``) and re-checks ``review-done:<review>:<period>``; only the claimant runs. After the
run it writes the done key (kept until the period ends, plus a day), so another replica or a restart in
the same period does nothing. A run that could not read AWS writes no done key: the lock expires and
the review is tried again ``RUN_LOCK_SECONDS`` later. A delivery that fails (Slack, SES) is logged and
audited but not retried, so the channel never gets the same report twice.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import BotoCoreError, ClientError

from policies.engine import PriceTable
from runtime.audit_log import AuditLog
from runtime.config import Settings
from runtime.reviews.catalog import ReviewInputs, run_review
from runtime.reviews.delivery import Delivery, Destinations, Poster, audit_review, deliver
from runtime.reviews.report import Report
from runtime.reviews.schedule import DueReview, ReviewSchedule, parse_schedule
from runtime.store import CoordinationStore
from tools.base import AwsClients, ToolError

if TYPE_CHECKING:
    from graph.context import GraphContext

log = logging.getLogger("opsbot.reviews")

RUN_LOCK_SECONDS = 900.0
DONE_GRACE_SECONDS = 86400.0
DEFAULT_TICK_SECONDS = 45.0
TRIGGER = "schedule"


@dataclass(frozen=True)
class ReviewRuntime:
    """What the scheduler needs; ``regions`` defaults to the configured AWS region, and a failed run
    is tried again after ``run_lock_seconds``."""

    clients: AwsClients
    store: CoordinationStore
    audit: AuditLog
    prices: PriceTable
    settings: Settings
    post: Poster | None = None
    regions: Sequence[str] = field(default_factory=tuple)
    run_lock_seconds: float = RUN_LOCK_SECONDS

    @classmethod
    def from_context(cls, ctx: GraphContext, post: Poster | None = None) -> ReviewRuntime:
        return cls(ctx.clients, ctx.store, ctx.audit, ctx.prices, ctx.settings, post)

    def review_regions(self) -> list[str]:
        return list(self.regions) or [self.settings.aws_region]

    def destinations(self) -> Destinations:
        return Destinations(
            channel=self.settings.reports_channel,
            post=self.post,
            ses_region=self.settings.aws_region,
            sender=self.settings.ses_sender,
            recipients=tuple(self.settings.report_emails),
        )


@dataclass(frozen=True)
class ReviewRun:
    name: str
    period: str
    status: Literal["ok", "partial", "failed"]
    report: Report | None = None
    delivery: Delivery | None = None
    error: str | None = None


def done_key(name: str, period: str) -> str:
    return f"review-done:{name}:{period}"


def run_lock_key(name: str, period: str) -> str:
    return f"review-run:{name}:{period}"


def last_run_key(name: str) -> str:
    return f"review-last:{name}"


def last_runs(store: CoordinationStore, names: Sequence[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for name in names:
        raw = store.get(last_run_key(name))
        if raw is not None:
            found[name] = float(raw)
    return found


def run_due_reviews(
    runtime: ReviewRuntime, now: float, schedule: ReviewSchedule | None = None
) -> list[ReviewRun]:
    """Run the reviews due at ``now`` that no replica has run this period; the runs this call made."""
    plan = schedule or parse_schedule(runtime.settings.review_schedule)
    destinations = runtime.destinations()
    if not destinations.any:
        log.debug("no review runs: neither a reports channel with a poster nor SES email is configured")
        return []
    runs: list[ReviewRun] = []
    for due in plan.due(last_runs(runtime.store, list(plan.slots)), now):
        run = _run_once(runtime, due, now, destinations)
        if run is not None:
            runs.append(run)
    return runs


def _run_once(runtime: ReviewRuntime, due: DueReview, now: float, to: Destinations) -> ReviewRun | None:
    store = runtime.store
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if store.get(done_key(due.name, due.period)) is not None:
        store.put(last_run_key(due.name), repr(now))
        return None
    if not store.claim(run_lock_key(due.name, due.period), owner, runtime.run_lock_seconds):
        return None
    if store.get(done_key(due.name, due.period)) is not None:
        return None
    inputs = ReviewInputs(runtime.clients, runtime.review_regions(), runtime.audit, runtime.prices, now)
    try:
        report = run_review(due.name, inputs)
    except (ToolError, ClientError, BotoCoreError, ValueError) as error:
        message = f"the {due.name} review for {due.period} failed: {error}"
        log.warning(message)
        audit_review(runtime.audit, due.name, due.period, TRIGGER, error=str(error))
        return ReviewRun(due.name, due.period, "failed", error=message)
    delivery = deliver(report, runtime.clients, to)
    ttl = max(due.period_ends_at - now, 0.0) + DONE_GRACE_SECONDS
    record = {"at": now, "posted_to": delivery.posted_to, "emailed_to": list(delivery.emailed_to)}
    store.put(done_key(due.name, due.period), json.dumps(record), ttl)
    store.put(last_run_key(due.name), repr(now))
    audit_review(runtime.audit, due.name, due.period, TRIGGER, report, delivery)
    status: Literal["ok", "partial"] = "partial" if delivery.errors else "ok"
    log.info(
        "review %s for %s: %s (posted to %s, emailed to %d)",
        due.name,
        due.period,
        status,
        delivery.posted_to or "nobody",
        len(delivery.emailed_to),
    )
    for problem in delivery.errors:
        log.warning("review %s for %s: %s", due.name, due.period, problem)
    return ReviewRun(due.name, due.period, status, report, delivery)


def start_review_scheduler(
    runtime: ReviewRuntime,
    *,
    schedule: ReviewSchedule | None = None,
    interval_seconds: float = DEFAULT_TICK_SECONDS,
    clock: Callable[[], float] = time.time,
    stop: threading.Event | None = None,
) -> threading.Thread:
    """A daemon thread that runs ``run_due_reviews`` now and every ``interval_seconds`` until ``stop``
    is set. A bad OPSBOT_REVIEW_SCHEDULE raises ScheduleError here, at startup, not in the thread."""
    if interval_seconds <= 0:
        raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
    plan = schedule or parse_schedule(runtime.settings.review_schedule)
    halt = stop or threading.Event()
    if not runtime.destinations().any:
        log.warning("scheduled reviews are off: set OPSBOT_REPORTS_CHANNEL (with Slack) or OPSBOT_SES_SENDER")
    else:
        log.info("scheduled reviews: %s", plan.describe())

    def loop() -> None:
        while True:
            try:
                run_due_reviews(runtime, clock(), plan)
            except Exception as error:  # the scheduler outlives any one bad tick
                log.warning("scheduled reviews skipped a tick: %s", error)
            if halt.wait(interval_seconds):
                return

    thread = threading.Thread(target=loop, name="opsbot-reviews", daemon=True)
    thread.start()
    return thread
