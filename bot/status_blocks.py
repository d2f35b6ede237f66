"""The ``status`` answer: kill switch, open incidents, pending approvals, last actions, budgets, alarms,
LLM usage."""

from __future__ import annotations

import re
from typing import Any

from bot.blocks_common import (
    Block,
    JsonDict,
    bullet_list,
    code_span,
    context_block,
    fit_message,
    header_block,
    section_block,
    slack_date,
    thread_text,
    times_text,
    user,
)
from bot.slack_text import escape, truncate
from runtime.status import incident_llm_text, llm_status_line

SAFE_URL_RE = re.compile(r"https://[^\s<>|]{1,1000}")


def _paused_text(paused: JsonDict | None) -> str:
    if not paused:
        return "▶️ *Automation running*"
    reason = str(paused.get("reason") or "")
    return (
        f"⏸️ *Automation PAUSED* by {user(paused.get('by', 'unknown'))} since {slack_date(paused.get('at'))}"
        + (f" — {escape(reason)}" if reason else "")
    )


def _incident_item(incident: JsonDict) -> str:
    title = escape(str(incident.get("title") or "untitled"))
    link = str(incident.get("permalink") or "")
    shown = (
        f"<{link}|{title}>"
        if SAFE_URL_RE.fullmatch(link)
        else f"{title} {code_span(escape(str(incident.get('thread_id', ''))))}"
    )
    opened = f", opened {slack_date(incident['opened_at'])}" if incident.get("opened_at") else ""
    return f"{shown} — seen {times_text(int(incident.get('repeats', 0)) + 1)}{opened}"


def _pending_item(pending: JsonDict) -> str:
    groups = ", ".join(escape(str(group)) for group in pending.get("groups", [])) or "an approver"
    summary = escape(str(pending.get("summary") or pending.get("intent", {}).get("text", "")))
    return (
        f"{code_span(thread_text(pending))} {summary} — needs {groups}"
        f" ({int(pending.get('count') or 1)}), expires {slack_date(pending.get('expires_at'))}"
        + (f" · LLM {escape(incident_llm_text(pending['llm']))}" if pending.get("llm") else "")
    )


def _when(value: Any) -> str:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return slack_date(value) if is_number else escape(str(value))


def _alarms_text(alarms: list[JsonDict] | None) -> str:
    if alarms is None:
        return "*CloudWatch alarms:* AWS not reachable"
    if not alarms:
        return "*CloudWatch alarms:* none in ALARM"
    items = [
        escape(str(a.get("name")))
        + (f" — {escape(truncate(str(a['reason']), 200))}" if a.get("reason") else "")
        for a in alarms
    ]
    return f"🚨 *CloudWatch alarms in ALARM ({len(alarms)})*\n" + bullet_list(items)


def _titled_list(title: str, items: list[str]) -> str:
    return f"*{title} ({len(items)})*\n" + (bullet_list(items) if items else "none")


def status_blocks(report: JsonDict) -> list[Block]:
    """The ``status`` answer: kill switch, open incidents, pending approvals, actions, budgets, alarms."""
    actions = [
        f"{code_span(escape(str(a.get('action_id'))))} {escape(str(a.get('action')))}:"
        f" {escape(str(a.get('status')))} ({_when(a.get('ts'))})"
        for a in report.get("last_actions", [])
    ]
    budgets = [
        f"{escape(str(b.get('action')))} {b.get('left')}/{b.get('limit')}" for b in report.get("budgets", [])
    ]
    return fit_message(
        [
            header_block("opsbot status"),
            section_block(_paused_text(report.get("paused"))),
            section_block(
                _titled_list("Open incidents", [_incident_item(i) for i in report.get("incidents", [])])
            ),
            section_block(
                _titled_list("Pending approvals", [_pending_item(p) for p in report.get("pending", [])])
            ),
            section_block(_titled_list("Last actions", actions)),
            section_block("*Rate budget left this hour:* " + (", ".join(budgets) or "no limits set")),
            section_block(_alarms_text(report.get("alarms"))),
            *([context_block("🤖 " + escape(llm_status_line(report["llm"])))] if report.get("llm") else []),
        ]
    )
