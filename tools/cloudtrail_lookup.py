"""Who changed a resource, and when: CloudTrail ``lookup_events`` by resource name (management events,
the last 90 days), read-only events left out.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tools.base import AwsClients, JsonDict
from tools.context import aws_errors

PAGE_SIZE = 50  # lookup_events returns at most 50 events a call
DETAIL_FIELDS = 6


class TrailChange(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    time: datetime
    who: str
    event_name: str
    event_source: str
    resources: list[str] = Field(default_factory=list)
    details: str = ""  # the request's own values, like "ruleNumber=90 ruleAction=deny"
    error: str = ""  # the error code when the call failed

    def line(self) -> str:
        failed = f" (failed: {self.error})" if self.error else ""
        details = f": {self.details}" if self.details else ""
        return f"{self.time.astimezone(UTC):%Y-%m-%d %H:%M} UTC {self.who} {self.event_name}{details}{failed}"


def _who(event: JsonDict, record: JsonDict) -> str:
    identity = record.get("userIdentity") or {}
    issuer = identity.get("sessionContext", {}).get("sessionIssuer", {})
    if identity.get("type") == "AssumedRole" and issuer.get("userName"):
        session = str(identity.get("arn", "")).rsplit("/", 1)[-1]
        return f"{issuer['userName']}/{session}" if session else str(issuer["userName"])
    if event.get("Username"):
        return str(event["Username"])
    if identity.get("userName"):
        return str(identity["userName"])
    return str(identity.get("invokedBy") or identity.get("arn") or identity.get("type") or "unknown")


def _leaves(value: Any, skip: str) -> list[str]:
    """``key=value`` for each scalar the request carried (nested lists and ``items`` flattened)."""
    found: list[str] = []

    def walk(node: Any, key: str) -> None:
        if isinstance(node, dict):
            for child_key, child in node.items():
                walk(child, key if child_key == "items" else child_key)
        elif isinstance(node, list):
            for child in node:
                walk(child, key)
        elif node is not None and str(node) != skip and key:
            found.append(f"{key}={str(node).lower() if isinstance(node, bool) else node}")

    walk(value, "")
    return found


def _change(event: JsonDict, resource_name: str) -> TrailChange:
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    details = _leaves(record.get("requestParameters") or {}, resource_name)[:DETAIL_FIELDS]
    return TrailChange(
        time=event["EventTime"],
        who=_who(event, record),
        event_name=str(event.get("EventName", "")),
        event_source=str(event.get("EventSource", "")),
        resources=[str(r["ResourceName"]) for r in event.get("Resources", []) if r.get("ResourceName")],
        details=" ".join(details),
        error=str(record.get("errorCode") or ""),
    )


def recent_changes(
    clients: AwsClients, resource_name: str, region: str, max_events: int = 10
) -> list[TrailChange]:
    """The last ``max_events`` write events CloudTrail recorded for ``resource_name``, newest first."""
    cloudtrail = clients.client("cloudtrail", region)
    with aws_errors(f"look up CloudTrail events for {resource_name}"):
        events = cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": resource_name}],
            MaxResults=PAGE_SIZE,
        ).get("Events", [])
    writes = [event for event in events if str(event.get("ReadOnly", "false")).lower() != "true"]
    changes = [_change(event, resource_name) for event in writes]
    return sorted(changes, key=lambda change: change.time, reverse=True)[:max_events]


def change_lines(resource_name: str, changes: list[TrailChange]) -> list[str]:
    if not changes:
        return [f"CloudTrail has no recorded changes to {resource_name} in the last 90 days"]
    return [f"Recent changes to {resource_name} (CloudTrail):", *(f"  {change.line()}" for change in changes)]
