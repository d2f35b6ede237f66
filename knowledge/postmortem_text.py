"""Small text helpers for post-mortems: outside text made safe, users, times, durations."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from graph.render import ALERT_KIND_LABELS
from graph.render import params_text as plain_params_text

TEXT_CHARS = 240

_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,}")
ALERT_LABELS = ALERT_KIND_LABELS  # one table, in graph/render.py


def as_dict(value: Any) -> dict[str, Any]:
    """A log value read as a mapping; anything else as an empty one."""
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """A log value read as a list; anything else as an empty one."""
    return list(value) if isinstance(value, list | tuple) else []


def text(value: Any, limit: int = TEXT_CHARS) -> str:
    """Outside text made safe for Markdown and Slack: one line, no mentions, links or table cells."""
    flat = " ".join(str(value).split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = flat.replace("|", "\\|").replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def user(value: Any) -> str:
    """A Slack user id as a mention; anything else (cli:alice, opsbot:expiry) as plain text."""
    name = str(value)
    return f"<@{name}>" if _SLACK_USER.fullmatch(name) else text(name, 80)


def users(values: Iterable[Any]) -> str:
    return ", ".join(user(value) for value in values)


def params_text(params: Mapping[str, Any]) -> str:
    """A step's ``k=v, k=v`` (``graph.render.params_text``), made safe and cut to 160 characters."""
    return text(plain_params_text(dict(params)), 160)


def parse_time(ts: str) -> datetime | None:
    """An entry's ISO timestamp, or None when it is not one."""
    try:
        return datetime.fromisoformat(ts)
    except ValueError:
        return None


def seconds_between(start: str, end: str) -> float | None:
    first, last = parse_time(start), parse_time(end)
    return None if first is None or last is None else max((last - first).total_seconds(), 0.0)


def elapsed(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``4 min 10 s``, ``2 h 5 min``."""
    if seconds is None:
        return "unknown"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min" + (f" {whole % 60} s" if whole % 60 else "")
    hours, minutes = whole // 3600, whole % 3600 // 60
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def clock_time(ts: str, with_date: bool) -> str:
    """``10:04:05`` (or ``2025-01-02 10:04:05``); a timestamp that does not parse is shown as it is."""
    moment = parse_time(ts)
    if moment is None:
        return text(ts, 40)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def record_detail(record: Mapping[str, Any]) -> str:
    """The few facts of an action's record that say what changed."""
    parts: list[str] = []
    snapshots = [str(as_dict(s).get("snapshot_id")) for s in as_list(record.get("snapshots"))]
    if snapshots:
        parts.append("snapshots " + ", ".join(snapshots))
    if record.get("created_groups"):
        parts.append("made " + ", ".join(str(g) for g in as_list(record["created_groups"])))
    for interface in as_list(record.get("interfaces")):
        item = as_dict(interface)
        before = ", ".join(str(g) for g in as_list(item.get("original_groups")))
        if before:
            parts.append(f"{item.get('eni_id')} groups {before} → {item.get('quarantine_group_id')}")
    if "prior_desired_capacity" in record and "desired_capacity" in record:
        parts.append(f"desired capacity {record['prior_desired_capacity']} → {record['desired_capacity']}")
    return text("; ".join(parts), 200)
