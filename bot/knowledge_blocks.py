"""The knowledge section of an approval message: the runbook the plan follows and similar past incidents."""

from __future__ import annotations

from typing import Any

from bot.blocks_common import Block, JsonDict, bullet_list, section_block, users
from bot.slack_text import escape
from graph.render import AUTO_APPROVED, approver_list, feedback_note, negative_note


def _duration(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return escape(str(value))
    minutes = round(value / 60)
    if minutes < 1:
        return f"{round(value)} s"
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def _score(hit: JsonDict) -> str:
    score = hit.get("score")
    return f" (score {score:.2f})" if isinstance(score, int | float) and not isinstance(score, bool) else ""


def _approved_by(value: Any) -> str:
    approvers = approver_list(value)
    if not approvers:
        return ""
    return "auto-approved by policy" if approvers == [AUTO_APPROVED] else f"approved by {users(approvers)}"


def _incident_hit(hit: JsonDict) -> str:
    meta = hit.get("metadata") or {}
    details = [
        _approved_by(meta.get("approved_by")),
        f"resolved in {_duration(meta['resolved_in'])}" if meta.get("resolved_in") not in (None, "") else "",
        f"outcome {escape(str(meta['outcome']))}" if meta.get("outcome") else "",
        escape(negative_note(meta)),
        escape(feedback_note(meta)),
    ]
    shown = ", ".join(detail for detail in details if detail)
    return f"{escape(str(hit.get('title') or hit.get('id')))}{_score(hit)}" + (f" ({shown})" if shown else "")


def knowledge_blocks(retrieved: JsonDict) -> list[Block]:
    """Up to three runbooks and three similar past incidents; no block when nothing was retrieved."""
    runbooks = [
        f"📘 *Runbook:* {escape(str(hit.get('title') or hit.get('id')))}{_score(hit)}"
        for hit in retrieved.get("runbooks", [])[:3]
    ]
    incidents = [_incident_hit(hit) for hit in retrieved.get("incidents", [])[:3]]
    if incidents:
        runbooks.append("🗂️ *Similar past incidents:*\n" + bullet_list(incidents))
    return [section_block("\n".join(runbooks))] if runbooks else []
