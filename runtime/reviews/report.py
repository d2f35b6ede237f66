"""What every scheduled review returns: a typed report of sections, rows and totals.

A report is read-only data. The fixes it proposes are ``Row.request`` strings, requests the team can
paste to opsbot in Slack, where they go through the graph, policy and approval like any other request.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ReviewName = Literal["daily_compliance", "weekly_capacity", "monthly_cost"]
REVIEW_NAMES: tuple[ReviewName, ...] = ("daily_compliance", "weekly_capacity", "monthly_cost")

Fact = float | int | str
TotalUnit = Literal["count", "usd_month"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Row(_Frozen):
    """One finding. ``cells`` line up with the section's ``columns``; ``facts`` hold the same numbers
    typed, for tests and the audit log; ``saving_usd`` is an estimated monthly saving, if priced."""

    resource: str
    region: str
    cells: tuple[str, ...]
    facts: dict[str, Fact] = Field(default_factory=dict)
    saving_usd: float | None = None
    request: str | None = None


class Section(_Frozen):
    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...] = ()
    empty_text: str = "Nothing found."
    notes: tuple[str, ...] = ()
    priced: bool = False  # whether rows carry a monthly saving

    @model_validator(mode="after")
    def _cells_match_columns(self) -> Section:
        for row in self.rows:
            if len(row.cells) != len(self.columns):
                raise ValueError(
                    f"section {self.key}: row {row.resource} has {len(row.cells)} cells "
                    f"for {len(self.columns)} columns"
                )
        return self

    @property
    def saving_usd(self) -> float:
        """The sum of the rows' (rounded) savings, so the shown numbers add up."""
        return round(sum(row.saving_usd or 0.0 for row in self.rows), 2)

    def resources(self) -> list[str]:
        return [row.resource for row in self.rows]


class Total(_Frozen):
    key: str
    label: str
    value: float
    unit: TotalUnit = "count"


class Report(_Frozen):
    review: ReviewName
    title: str
    period: str
    generated_at: float
    regions: tuple[str, ...]
    sections: tuple[Section, ...]
    totals: tuple[Total, ...]
    notes: tuple[str, ...] = ()

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(f"report {self.review} has no section {key!r}")

    def total(self, key: str) -> float:
        for total in self.totals:
            if total.key == key:
                return total.value
        raise KeyError(f"report {self.review} has no total {key!r}")

    def requests(self) -> list[str]:
        """Every request the report proposes, in report order."""
        return [row.request for section in self.sections for row in section.rows if row.request]

    def summary(self) -> dict[str, float]:
        """The totals by key: what the audit log records about a run."""
        return {total.key: total.value for total in self.totals}


def count_total(key: str, label: str, value: int) -> Total:
    return Total(key=key, label=label, value=value, unit="count")


def usd_total(key: str, label: str, value: float) -> Total:
    return Total(key=key, label=label, value=round(value, 2), unit="usd_month")


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def monthly(value: float | None) -> str:
    return "no price" if value is None else f"{money(value)}/month"


def percent(value: float) -> str:
    return f"{value:.1f}%"


def format_total(total: Total) -> str:
    if total.unit == "usd_month":
        return monthly(total.value)
    return f"{int(total.value)}"
