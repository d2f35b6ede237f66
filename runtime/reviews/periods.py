"""Time labels shared by the reviews: UTC, to the minute."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_minute(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def utc_date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def window_label(days: int, now: float) -> str:
    return f"{days} days to {utc_minute(now)}"
