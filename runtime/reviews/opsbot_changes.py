"""The changes opsbot made in a time window, from its audit log: executed ``action`` entries with
status ``ok`` (dry runs, refusals and failures changed nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runtime.audit_log import AuditLog


@dataclass(frozen=True)
class Change:
    at: float
    action: str
    action_id: str
    thread_id: str
    resources: tuple[str, ...]
    params: dict[str, object]


def changes_between(audit: AuditLog, start: float, end: float) -> list[Change]:
    found: list[Change] = []
    for entry in audit.entries(kind="action"):
        data = entry["data"]
        if data.get("status") != "ok":
            continue
        try:
            at = datetime.fromisoformat(str(entry["ts"])).timestamp()
        except ValueError:
            continue
        if not start <= at <= end:
            continue
        params = data.get("params") if isinstance(data.get("params"), dict) else {}
        resources = data.get("resources") if isinstance(data.get("resources"), list) else []
        found.append(
            Change(
                at=at,
                action=str(data.get("action", "")),
                action_id=str(data.get("action_id", entry["seq"])),
                thread_id=str(entry["thread_id"]),
                resources=tuple(str(resource) for resource in resources),
                params=dict(params or {}),
            )
        )
    return found


def target_text(change: Change) -> str:
    if change.resources:
        return ", ".join(change.resources)
    shown = {key: value for key, value in change.params.items() if key != "region"}
    return ", ".join(f"{key}={value}" for key, value in shown.items()) or "—"
