"""Typed readers for the untyped JSON of AWS events, and the error every event parser raises.

Each reader returns an empty value of its type for a missing or mistyped field; the ``required_``
readers raise ``EventFormatError`` with a one-line message instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph.models import AlertFacts
from tools.base import REGION_RE

REGION_NAMES = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Canada (Central)": "ca-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "EU (Ireland)": "eu-west-1",
    "Europe (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "Europe (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3",
    "Europe (Paris)": "eu-west-3",
    "EU (Frankfurt)": "eu-central-1",
    "Europe (Frankfurt)": "eu-central-1",
    "EU (Stockholm)": "eu-north-1",
    "Europe (Stockholm)": "eu-north-1",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Mumbai)": "ap-south-1",
}

JsonObject = dict[str, Any]


class EventFormatError(ValueError):
    """The payload is not an alert opsbot can read; the message says what is wrong in one line."""


@dataclass(frozen=True)
class ParsedEvent:
    """An alert plus the structured facts that steer the action but have no AlertFacts field."""

    alert: AlertFacts
    resource_role: str = ""  # GuardDuty service.resourceRole: TARGET or ACTOR


def read_obj(data: Any, key: str) -> JsonObject:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def read_list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def read_strings(data: Any, key: str) -> list[str]:
    """The string items of the list at ``key`` (other items are skipped)."""
    return [item for item in read_list(data, key) if isinstance(item, str)]


def read_str(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def required_str(data: JsonObject, key: str, where: str) -> str:
    value = read_str(data, key)
    if not value:
        raise EventFormatError(f"the {where} has no '{key}'")
    return value


def required_obj(data: JsonObject, key: str, where: str) -> JsonObject:
    value = data.get(key)
    if not isinstance(value, dict):
        raise EventFormatError(f"the {where} has no '{key}' object")
    return value


def read_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EventFormatError(f"the {what} {value!r} is not a number")
    try:
        return float(value)
    except ValueError:
        raise EventFormatError(f"the {what} {value!r} is not a number") from None


def clamp_severity(severity: float) -> float:
    return min(max(severity, 0.0), 10.0)


def pick_region(*candidates: str) -> str:
    """The first candidate that is a region code (or a region's display name); else the first given."""
    for candidate in candidates:
        if REGION_RE.match(candidate):
            return candidate
        if candidate in REGION_NAMES:
            return REGION_NAMES[candidate]
    return next((candidate for candidate in candidates if candidate), "us-east-1")


def arn_part(arn: str, index: int) -> str:
    parts = arn.split(":")
    return parts[index] if arn.startswith("arn:") and len(parts) > index else ""


def event_origin(event: JsonObject) -> tuple[str, str]:
    """(account, region) from an EventBridge event's top-level fields."""
    return read_str(event, "account"), pick_region(read_str(event, "region"))
