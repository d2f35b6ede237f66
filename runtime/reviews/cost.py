"""Monthly cost review: idle instances, unattached volumes, old snapshots and oversized groups, each with
the monthly saving the price table (policies/prices.yaml) estimates for fixing it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policies.engine import PriceTable
from runtime.reviews.cost_items import (
    idle_instance_rows,
    old_snapshot_rows,
    oversized_group_rows,
    unattached_volume_rows,
)
from runtime.reviews.periods import window_label
from runtime.reviews.report import Report, Row, Section, Total, count_total, usd_total
from tools.base import AwsClients

IDLE_DAYS = 14
IDLE_CPU_BELOW = 5.0
SNAPSHOT_AGE_DAYS = 90

RowSource = Callable[[AwsClients, str, PriceTable, float], tuple[list[Row], list[str]]]


@dataclass(frozen=True)
class Finder:
    """One kind of waste: its section's key, short label, title, columns, empty text and row source."""

    key: str
    label: str
    title: str
    columns: tuple[str, ...]
    empty_text: str
    rows: RowSource

    def section(self, clients: AwsClients, regions: Sequence[str], prices: PriceTable, now: float) -> Section:
        rows: list[Row] = []
        notes: list[str] = []
        for region in regions:
            found, said = self.rows(clients, region, prices, now)
            rows += found
            notes += said
        return Section(
            key=self.key,
            title=self.title,
            columns=self.columns,
            rows=tuple(rows),
            empty_text=self.empty_text,
            notes=tuple(dict.fromkeys(notes)),
            priced=True,
        )


FINDERS = (
    Finder(
        "idle_instances",
        "Idle instances",
        f"Idle instances (running, CPU avg < {IDLE_CPU_BELOW:g}% over {IDLE_DAYS} days)",
        ("Instance", "Name", "Type", "CPU avg", "CPU max"),
        "No idle instances.",
        lambda c, r, p, n: idle_instance_rows(c, r, p, n, IDLE_DAYS, IDLE_CPU_BELOW),
    ),
    Finder(
        "unattached_volumes",
        "Unattached volumes",
        "Unattached EBS volumes",
        ("Volume", "Size", "Type", "Created"),
        "No unattached volumes.",
        unattached_volume_rows,
    ),
    Finder(
        "old_snapshots",
        "Old snapshots",
        f"Snapshots older than {SNAPSHOT_AGE_DAYS} days",
        ("Snapshot", "Size", "Age", "Description"),
        f"No snapshot is older than {SNAPSHOT_AGE_DAYS} days.",
        lambda c, r, p, n: old_snapshot_rows(c, r, p, n, SNAPSHOT_AGE_DAYS),
    ),
    Finder(
        "oversized_groups",
        "Oversized groups",
        f"Oversized Auto Scaling groups (CPU over {IDLE_DAYS} days)",
        ("Group", "Type", "Desired", "Suggested", "CPU avg", "CPU max"),
        "No oversized groups.",
        lambda c, r, p, n: oversized_group_rows(c, r, p, n, IDLE_DAYS),
    ),
)


def monthly_cost(clients: AwsClients, regions: Sequence[str], prices: PriceTable, now: float) -> Report:
    sections = [finder.section(clients, regions, prices, now) for finder in FINDERS]
    totals: list[Total] = []
    for finder, section in zip(FINDERS, sections, strict=True):
        totals.append(count_total(section.key, finder.label, len(section.rows)))
        totals.append(
            usd_total(f"{section.key}_saving", f"Saving on {finder.label.lower()}", section.saving_usd)
        )
    totals.append(usd_total("total_saving", "Estimated total saving", sum(s.saving_usd for s in sections)))
    return Report(
        review="monthly_cost",
        title="Monthly cost review",
        period=window_label(IDLE_DAYS, now),
        generated_at=now,
        regions=tuple(regions),
        sections=tuple(sections),
        totals=tuple(totals),
        notes=tuple(_report_notes(regions, prices)),
    )


def _report_notes(regions: Sequence[str], prices: PriceTable) -> list[str]:
    notes = [
        f"Savings use the price table ({prices.region}, as of {prices.as_of}): instances at the hourly "
        f"price x {prices.hours_per_month} h, volumes and snapshots per GB-month. A snapshot is priced at "
        "its source volume's size, an upper bound (snapshots are incremental).",
        "opsbot has no action that deletes volumes or snapshots: the proposed request tags them for "
        "deletion, which the team then does in its IaC or the console.",
    ]
    elsewhere = sorted(set(regions) - {prices.region})
    if elsewhere:
        notes.append(f"Prices for {', '.join(elsewhere)} are taken from {prices.region}'s table.")
    return notes
