"""When each review runs: ``OPSBOT_REVIEW_SCHEDULE``, all times UTC.

The spec is ``review=when`` entries separated by ``;``, for example::

    daily_compliance=daily 08:00; weekly_capacity=mon 08:00; monthly_cost=1 08:00

``when`` is ``daily``, a weekday (``mon`` … ``sun`` or the full name) or a day of the month (1-28,
so every month has it), then an optional ``HH:MM`` (default 08:00) and an optional ``UTC``; or
``off``. A review the spec does not name keeps its default (the example above is the default); the
whole spec ``off`` turns every review off.

A review's *period* runs from one scheduled time to the next. It is due when its latest scheduled
time has passed and it has not run since: a replica that was down at 08:00 runs it when it comes back,
within the same period. The period key (``2026-11-22``, ``2026-W47``, ``2026-11``) names the period for
the lock that lets one replica run it once.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from runtime.reviews.report import REVIEW_NAMES, ReviewName

DEFAULT_SPEC = "daily_compliance=daily 08:00; weekly_capacity=mon 08:00; monthly_cost=1 08:00"
DEFAULT_TIME = (8, 0)
LAST_DAY_OF_MONTH = 28
WEEKDAYS = {name.lower(): index for index, name in enumerate(calendar.day_name)} | {
    name.lower(): index for index, name in enumerate(calendar.day_abbr)
}
TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")

Cadence = Literal["daily", "weekly", "monthly"]


class ScheduleError(ValueError):
    """OPSBOT_REVIEW_SCHEDULE cannot be read; the message names the entry and what is wrong."""


@dataclass(frozen=True)
class Slot:
    cadence: Cadence
    hour: int
    minute: int
    weekday: int = 0  # Monday 0, for weekly
    day: int = 1  # day of the month, for monthly

    def latest(self, now: datetime) -> datetime:
        """The last scheduled time at or before ``now``."""
        at = now.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.cadence == "daily":
            return at if at <= now else at - timedelta(days=1)
        if self.cadence == "weekly":
            at -= timedelta(days=(now.weekday() - self.weekday) % 7)
            return at if at <= now else at - timedelta(days=7)
        at = at.replace(day=self.day)
        if at <= now:
            return at
        year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
        return at.replace(year=year, month=month)

    def following(self, at: datetime) -> datetime:
        """The scheduled time after ``at`` (itself a scheduled time)."""
        if self.cadence == "daily":
            return at + timedelta(days=1)
        if self.cadence == "weekly":
            return at + timedelta(days=7)
        year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
        return at.replace(year=year, month=month)

    def period_key(self, at: datetime) -> str:
        if self.cadence == "daily":
            return at.strftime("%Y-%m-%d")
        if self.cadence == "weekly":
            year, week, _ = at.isocalendar()
            return f"{year}-W{week:02d}"
        return at.strftime("%Y-%m")

    def describe(self) -> str:
        time = f"{self.hour:02d}:{self.minute:02d} UTC"
        if self.cadence == "daily":
            return f"daily at {time}"
        if self.cadence == "weekly":
            return f"{calendar.day_name[self.weekday]}s at {time}"
        return f"day {self.day} of each month at {time}"


@dataclass(frozen=True)
class DueReview:
    name: ReviewName
    period: str
    scheduled_at: float
    period_ends_at: float


@dataclass(frozen=True)
class ReviewSchedule:
    slots: Mapping[ReviewName, Slot]

    def due(self, last_runs: Mapping[str, float], now: float) -> list[DueReview]:
        moment = datetime.fromtimestamp(now, UTC)
        found: list[DueReview] = []
        for name, slot in self.slots.items():
            at = slot.latest(moment)
            if last_runs.get(name, float("-inf")) >= at.timestamp():
                continue
            found.append(DueReview(name, slot.period_key(at), at.timestamp(), slot.following(at).timestamp()))
        return found

    def describe(self) -> str:
        if not self.slots:
            return "no review is scheduled"
        return "; ".join(f"{name} {slot.describe()}" for name, slot in self.slots.items())


def parse_schedule(spec: str | None) -> ReviewSchedule:
    """The schedule a spec describes; the default when the spec is unset or blank."""
    slots: dict[ReviewName, Slot | None] = {name: slot for name, slot in _entries(DEFAULT_SPEC).items()}
    text = (spec or "").strip()
    if text.lower() == "off":
        return ReviewSchedule({})
    if text:
        slots |= _entries(text)
    return ReviewSchedule({name: slot for name, slot in slots.items() if slot is not None})


def due_reviews(
    last_runs: Mapping[str, float], now: float, schedule: ReviewSchedule | None = None
) -> list[DueReview]:
    """The reviews due at ``now`` given when each last ran (epoch seconds); the default schedule if none."""
    return (schedule or parse_schedule(None)).due(last_runs, now)


def _entries(text: str) -> dict[ReviewName, Slot | None]:
    found: dict[ReviewName, Slot | None] = {}
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        name_text, sep, when = entry.partition("=")
        if not sep:
            raise ScheduleError(
                f"schedule entry '{entry}' needs the form review=when, like daily_compliance=daily 08:00."
            )
        name = _review(name_text.strip(), entry)
        if name in found:
            raise ScheduleError(f"the schedule names {name} twice.")
        found[name] = _slot(when.strip(), entry)
    return found


def _review(text: str, entry: str) -> ReviewName:
    for name in REVIEW_NAMES:
        if text == name:
            return name
    raise ScheduleError(f"schedule entry '{entry}': '{text}' is not a review; use {', '.join(REVIEW_NAMES)}.")


def _slot(when: str, entry: str) -> Slot | None:
    words = when.lower().split()
    if words[-1:] == ["utc"]:
        words = words[:-1]
    if words == ["off"]:
        return None
    if not words or len(words) > 2:
        raise ScheduleError(
            f"schedule entry '{entry}': say when as 'daily', a weekday or a day of the month, "
            "then HH:MM (UTC), or 'off'."
        )
    hour, minute = _time(words[1], entry) if len(words) == 2 else DEFAULT_TIME
    day = words[0]
    if day == "daily":
        return Slot("daily", hour, minute)
    if day in WEEKDAYS:
        return Slot("weekly", hour, minute, weekday=WEEKDAYS[day])
    if day.isdigit():
        number = int(day)
        if not 1 <= number <= LAST_DAY_OF_MONTH:
            raise ScheduleError(
                f"schedule entry '{entry}': day of the month must be 1-{LAST_DAY_OF_MONTH}, "
                "so every month has it."
            )
        return Slot("monthly", hour, minute, day=number)
    raise ScheduleError(
        f"schedule entry '{entry}': '{day}' is not 'daily', a weekday (mon-sun) or a day of the month (1-28)."
    )


def _time(text: str, entry: str) -> tuple[int, int]:
    match = TIME_RE.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ScheduleError(
            f"schedule entry '{entry}': '{text}' is not a time of day as HH:MM (00:00-23:59)."
        )
    return int(match.group(1)), int(match.group(2))
