"""What `status` reports, as data: the text reply and the Slack message both render this one report."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from graph.context import GraphContext
from graph.llm import LlmClient
from runtime.audit_log import entries
from runtime.coordination import paused_state, rate_used
from runtime.incidents import open_incidents
from runtime.store import StoreError
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
    pending = _with_llm_usage(
        ctx, [json.loads(raw) for key in ctx.store.keys("pending:") if (raw := ctx.store.get(key))]
    )
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
        "llm": llm_report(ctx),
    }


def llm_mode(llm: LlmClient | None) -> str:
    """Which provider and models answer, from the client in use (not from the environment)."""
    if llm is None:
        return "off — rules only"
    orchestrator, auditor = llm.model_for("orchestrator"), llm.model_for("auditor")
    return f"{llm.provider} {orchestrator} (audit: {auditor})"


def llm_report(ctx: GraphContext) -> dict[str, Any]:
    """The LLM mode, today's usage and the daily budget; ``today`` and ``budget`` are None when no LLM
    is configured or the coordination store cannot be read.

    The daily budget counts tokens of every kind together (``total``); per-kind counts are per incident.
    No key says "token", as in the audit log, which redacts those.
    """
    report: dict[str, Any] = {"mode": llm_mode(ctx.llm), "today": None, "budget": None}
    if ctx.llm is None or ctx.llm_budget is None:
        return report
    try:
        today = ctx.llm_budget.today()
    except StoreError:
        return report
    report["today"] = {"calls": today.calls, "total": today.total, "cost_usd": today.cost_usd}
    report["budget"] = {
        "total_limit": today.total_limit,
        "cost_limit_usd": today.cost_limit_usd,
        "exhausted": today.exhausted,
    }
    return report


def llm_status_line(llm: dict[str, Any]) -> str:
    """``LLM: anthropic … (audit: …); today 3 calls, 4,210 tokens, $0.0123 (daily budget $5.00)``."""
    line = f"LLM: {llm.get('mode', 'off')}"
    today, budget = llm.get("today"), llm.get("budget") or {}
    if today is None:
        return line
    line += f"; today {today['calls']} calls, {today['total']:,} tokens, ${today['cost_usd']:.4f}"
    limits = []
    if budget.get("total_limit") is not None:
        limits.append(f"{budget['total_limit']:,} tokens")
    if budget.get("cost_limit_usd") is not None:
        limits.append(f"${budget['cost_limit_usd']:,.2f}")
    if limits:
        line += " (daily budget " + " / ".join(limits) + ")"
    if budget.get("exhausted"):
        line += f" — {budget['exhausted']}"
    return line


def incident_llm_text(usage: dict[str, Any]) -> str:
    """One incident's LLM usage: ``2 calls, 1,300 in / 250 out, $0.0045``."""
    return (
        f"{usage.get('calls', 0)} calls, {usage.get('input', 0):,} in / {usage.get('output', 0):,} out,"
        f" ${float(usage.get('cost_usd', 0.0)):.4f}"
    )


def _with_llm_usage(ctx: GraphContext, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each pending approval with its run's LLM usage (from the audit log) when it has none of its own."""
    wanted = {(p.get("thread_id", ""), p.get("run_id", "")) for p in pending if not p.get("llm")}
    if not wanted or ctx.llm is None:  # rules only: there is no usage to show, so don't read the log
        return pending
    usage: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in entries(ctx.audit.path):
        key = (entry.get("thread_id", ""), entry["data"].get("run_id", ""))
        llm = entry["data"].get("llm")
        if key in wanted and isinstance(llm, dict) and llm.get("calls"):
            usage[key] = llm
    return [
        p if p.get("llm") else {**p, "llm": usage.get((p.get("thread_id", ""), p.get("run_id", "")))}
        for p in pending
    ]


def _alarms(ctx: GraphContext) -> list[dict[str, Any]] | None:
    try:
        return list(alarms_in_alarm(ctx.clients, ctx.settings.aws_region))
    except (ToolError, ClientError, BotoCoreError):
        return None
