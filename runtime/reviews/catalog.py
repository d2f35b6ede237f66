"""The reviews by name, each run from one bundle of inputs (what the scheduler and the CLI hold)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policies.engine import PriceTable
from runtime.audit_log import AuditLog
from runtime.reviews.capacity import weekly_capacity
from runtime.reviews.compliance import daily_compliance
from runtime.reviews.cost import monthly_cost
from runtime.reviews.report import REVIEW_NAMES, Report, ReviewName
from tools.base import AwsClients


@dataclass(frozen=True)
class ReviewInputs:
    clients: AwsClients
    regions: Sequence[str]
    audit: AuditLog
    prices: PriceTable
    now: float


REVIEWS: dict[ReviewName, Callable[[ReviewInputs], Report]] = {
    "daily_compliance": lambda i: daily_compliance(i.clients, i.regions, i.audit, i.now),
    "weekly_capacity": lambda i: weekly_capacity(i.clients, i.regions, i.prices, i.now),
    "monthly_cost": lambda i: monthly_cost(i.clients, i.regions, i.prices, i.now),
}


def review_name(text: str) -> ReviewName:
    """``text`` as a review name; ValueError naming the known ones otherwise."""
    for name in REVIEW_NAMES:
        if text == name:
            return name
    raise ValueError(f"'{text}' is not a review; the reviews are {', '.join(REVIEW_NAMES)}.")


def run_review(name: ReviewName, inputs: ReviewInputs) -> Report:
    if not inputs.regions:
        raise ValueError("a review needs at least one region.")
    return REVIEWS[name](inputs)
