"""OPSBOT_REVIEW_SCHEDULE: parsing, its errors, and which reviews are due when."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.reviews.schedule import DEFAULT_SPEC, ScheduleError, Slot, due_reviews, parse_schedule


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_unset_or_blank_spec_is_the_default() -> None:
    default = parse_schedule(DEFAULT_SPEC)
    assert parse_schedule(None) == default == parse_schedule("  ")
    assert default.slots == {
        "daily_compliance": Slot("daily", 8, 0),
        "weekly_capacity": Slot("weekly", 8, 0, weekday=0),
        "monthly_cost": Slot("monthly", 8, 0, day=1),
    }
    assert default.describe() == (
        "daily_compliance daily at 08:00 UTC; weekly_capacity Mondays at 08:00 UTC; "
        "monthly_cost day 1 of each month at 08:00 UTC"
    )


def test_named_entries_replace_defaults_and_off_turns_one_or_all_off() -> None:
    schedule = parse_schedule("weekly_capacity = Friday 17:30 UTC; monthly_cost=off;")
    assert schedule.slots == {
        "daily_compliance": Slot("daily", 8, 0),
        "weekly_capacity": Slot("weekly", 17, 30, weekday=4),
    }
    assert parse_schedule("OFF").slots == {}
    assert parse_schedule("daily_compliance=15").slots["daily_compliance"] == Slot("monthly", 8, 0, day=15)
    assert parse_schedule("daily_compliance=tue 6:05").slots["daily_compliance"] == Slot(
        "weekly", 6, 5, weekday=1
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("daily_compliance daily 08:00", "needs the form review=when"),
        ("nightly_cost=daily 08:00", "'nightly_cost' is not a review"),
        ("daily_compliance=daily 24:00", "'24:00' is not a time of day"),
        ("daily_compliance=daily 8h", "'8h' is not a time of day"),
        ("daily_compliance=daily 08:60", "'08:60' is not a time of day"),
        ("monthly_cost=31 08:00", "day of the month must be 1-28"),
        ("monthly_cost=0", "day of the month must be 1-28"),
        ("weekly_capacity=someday 08:00", "'someday' is not 'daily', a weekday"),
        ("weekly_capacity=", "say when as"),
        ("weekly_capacity=mon 08:00 09:00", "say when as"),
        ("monthly_cost=1; monthly_cost=2", "names monthly_cost twice"),
    ],
)
def test_bad_specs_fail_with_a_message_naming_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message) as caught:
        parse_schedule(spec)
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)


def test_daily_is_due_once_its_time_has_passed_until_it_runs() -> None:
    schedule = parse_schedule("daily_compliance=daily 08:00; weekly_capacity=off; monthly_cost=off")
    assert [d.period for d in schedule.due({}, at("2025-11-22T07:59:59"))] == [
        "2025-11-21"
    ]  # yesterday's, not run
    due = schedule.due({}, at("2025-11-22T08:00:00"))
    assert [(d.name, d.period) for d in due] == [("daily_compliance", "2025-11-22")]
    assert due[0].scheduled_at == at("2025-11-22T08:00:00")
    assert due[0].period_ends_at == at("2025-11-23T08:00:00")
    ran = {"daily_compliance": at("2025-11-22T08:00:30")}
    assert schedule.due(ran, at("2025-11-22T23:59:00")) == []
    assert [d.period for d in schedule.due(ran, at("2025-11-23T08:00:00"))] == ["2025-11-23"]


def test_weekly_and_monthly_periods() -> None:
    schedule = parse_schedule("daily_compliance=off; weekly_capacity=mon 08:00; monthly_cost=1 08:00")
    sunday = at("2025-11-23T12:00:00")
    due = {d.name: d for d in schedule.due({}, sunday)}
    assert due["weekly_capacity"].scheduled_at == at("2025-11-17T08:00:00")
    assert due["weekly_capacity"].period == "2025-W47"
    assert due["monthly_cost"].scheduled_at == at("2025-11-01T08:00:00")
    assert due["monthly_cost"].period == "2025-11"
    assert due["monthly_cost"].period_ends_at == at("2025-12-01T08:00:00")
    new_year = {d.name: d for d in schedule.due({}, at("2026-01-01T07:00:00"))}
    assert new_year["monthly_cost"].period == "2025-12"
    assert new_year["monthly_cost"].period_ends_at == at("2026-01-01T08:00:00")
    monday = {
        d.name: d
        for d in schedule.due({"weekly_capacity": at("2025-11-17T08:01:00")}, at("2025-11-24T08:00:00"))
    }
    assert monday["weekly_capacity"].period == "2025-W48"


def test_due_reviews_uses_the_default_schedule() -> None:
    due = due_reviews({}, at("2025-12-01T08:00:00"))  # a Monday, the first of the month
    assert sorted((d.name, d.period) for d in due) == [
        ("daily_compliance", "2025-12-01"),
        ("monthly_cost", "2025-12"),
        ("weekly_capacity", "2025-W49"),
    ]
