"""What `status` reports, as data: the text reply and the Slack message both render this one report."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from graph.context import GraphContext
from runtime.audit_log import entries
from runtime.coordination import paused_state, rate_used
from runtime.incidents import open_incidents
from tools.base import ToolError
from tools.context import alarms_in_alarm

LAST_ACTIONS = 5
Permalink = Callable[[str], str | None]


def status_report(ctx: GraphContext, permalink: Permalink | None = None) -> dict[str, Any]:
    """Open incidents, pending approvals, the last actions, the kill switch, budgets and alarms.

    ``alarms`` is None when AWS could not be read, so "none in ALARM" and "unknown" differ.
    """
    now = ctx.clock()
    incidents = [
        {**incident, "permalink": permalink(incident["thread_id"]) if permalink else None}
        for incident in open_incidents(ctx.store)
    ]
    pending = [json.loads(raw) for key in ctx.store.keys("pending:") if (raw := ctx.store.get(key))]
    actions = [entry for entry in entries(ctx.audit.path, kind="action")][-LAST_ACTIONS:]
    return {
        "paused": paused_state(ctx.store),
        "incidents": incidents,
        "pending": pending,
        "last_actions": [
            {
                "action_id": entry["data"].get("action_id"),
                "action": entry["data"].get("action"),
                "status": entry["data"].get("status"),
                "ts": entry["ts"],
                "thread_id": entry.get("thread_id", ""),
            }
            for entry in actions
        ],
        "budgets": [
            {"action": action, "left": max(limit - rate_used(ctx.store, action, now), 0), "limit": limit}
            for action, limit in sorted(ctx.policy.rate_limits.items())
        ],
        "alarms": _alarms(ctx),
    }


def _alarms(ctx: GraphContext) -> list[dict[str, Any]] | None:
    try:
        return list(alarms_in_alarm(ctx.clients, ctx.settings.aws_region))
    except (ToolError, ClientError, BotoCoreError):
        return None
