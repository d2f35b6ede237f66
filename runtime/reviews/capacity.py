"""Weekly capacity review: each Auto Scaling group's CPU over the week and the scaling it suggests."""

from __future__ import annotations

from collections.abc import Sequence

from policies.engine import PriceTable
from runtime.reviews.capacity_rule import SCALE_IN_RULE, SCALE_OUT_RULE
from runtime.reviews.groups import GroupAssessment, assess_groups
from runtime.reviews.periods import window_label
from runtime.reviews.proposals import scale_request
from runtime.reviews.report import Report, Row, Section, count_total, money, percent, usd_total
from tools.base import AwsClients

WINDOW_DAYS = 7
COLUMNS = ("Group", "Desired (min-max)", "CPU avg", "CPU max", "Recommendation", "Rule", "Cost change")


def weekly_capacity(
    clients: AwsClients, regions: Sequence[str], prices: PriceTable, now: float, days: int = WINDOW_DAYS
) -> Report:
    groups = [group for region in regions for group in assess_groups(clients, region, now, days)]
    rows = tuple(_row(group, prices) for group in groups)
    verdicts = [group.recommendation.verdict for group in groups]
    unpriced = sorted({g.instance_type or g.name for g in groups if g.monthly_change(prices) is None})
    change = sum(group.monthly_change(prices) or 0.0 for group in groups)
    notes = [f"Rules: {SCALE_IN_RULE}; {SCALE_OUT_RULE}; always within the group's min and max size."]
    if unpriced:
        notes.append(f"No price for {', '.join(unpriced)}: left out of the cost change.")
    section = Section(
        key="groups",
        title="Auto Scaling groups",
        columns=COLUMNS,
        rows=rows,
        empty_text="No Auto Scaling groups.",
        notes=tuple(notes),
    )
    return Report(
        review="weekly_capacity",
        title="Weekly capacity review",
        period=window_label(days, now),
        generated_at=now,
        regions=tuple(regions),
        sections=(section,),
        totals=(
            count_total("groups", "Groups reviewed", len(groups)),
            count_total("scale_in", "Scale in", verdicts.count("scale in")),
            count_total("scale_out", "Scale out", verdicts.count("scale out")),
            count_total("hold", "Hold", verdicts.count("hold")),
            count_total("no_data", "No CPU data", verdicts.count("no data")),
            usd_total("monthly_cost_change", "Cost change if all are applied", change),
        ),
    )


def _row(group: GroupAssessment, prices: PriceTable) -> Row:
    advice = group.recommendation
    change = group.monthly_change(prices)
    facts: dict[str, float | int | str] = {
        "desired": group.desired,
        "min": group.min_size,
        "max": group.max_size,
        "suggested": advice.suggested,
        "verdict": advice.verdict,
        "instance_type": group.instance_type or "",
    }
    if group.cpu is not None:
        facts |= {"cpu_avg": group.cpu.average, "cpu_max": group.cpu.maximum, "samples": group.cpu.samples}
    if change is not None:
        facts["monthly_change_usd"] = change
    return Row(
        resource=group.name,
        region=group.region,
        cells=(
            group.name,
            f"{group.desired} ({group.min_size}-{group.max_size})",
            percent(group.cpu.average) if group.cpu else "—",
            percent(group.cpu.maximum) if group.cpu else "—",
            advice.verdict if advice.change == 0 else f"{advice.verdict} to {advice.suggested}",
            advice.rule,
            _signed_month(change),
        ),
        facts=facts,
        request=scale_request(group.name, advice.suggested, group.region) if advice.change else None,
    )


def _signed_month(change: float | None) -> str:
    if change is None:
        return "no price"
    if change == 0:
        return "—"
    return f"{'+' if change > 0 else ''}{money(change)}/month"
