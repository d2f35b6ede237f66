"""The part of an approval message that stays the same from request to result: who or what asked,
the request text, the plan step by step, the audit, the policy and what the knowledge base found.

Anything that came from a person or an alert (request text, alert titles, params, reasons) is escaped,
so ``<!channel>`` in a finding title is shown, never obeyed.
"""

from __future__ import annotations

from typing import Any

from bot.blocks_common import (
    KIND_LABELS,
    Block,
    JsonDict,
    bullet_list,
    code_span,
    divider_block,
    header_block,
    section_block,
    user,
)
from bot.knowledge_blocks import knowledge_blocks
from bot.slack_text import escape, truncate
from graph.render import cost_text, params_text, step_line

MAX_STEP_SECTIONS = 20  # further steps are folded into one section, so the buttons always fit

RISK_LABELS = {"read": "🟢 read", "write": "🟡 write", "destructive": "🔴 destructive"}


def _origin(intent: JsonDict) -> str:
    alert = intent.get("alert") or {}
    if intent.get("source") != "alert":
        return f"*Requested by* {user(intent.get('requester') or 'unknown')}"
    kind = KIND_LABELS.get(str(alert.get("kind")), "alert")
    facts = [
        f"severity {alert.get('severity', 0):g}" if isinstance(alert.get("severity"), int | float) else "",
        escape(str(alert.get("finding_type") or "")),
        escape(str(alert.get("region") or "")),
        f"account {escape(str(alert.get('account')))}" if alert.get("account") else "",
    ]
    title = escape(str(alert.get("title") or "untitled"))
    return f"*Raised by a {kind}:* {title}\n" + " · ".join(fact for fact in facts if fact)


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in escape(text).splitlines() if line.strip())


def _directives_warning(directives: list[Any]) -> str:
    shown = [escape(truncate(str(d), 200)) for d in directives]
    return "⚠️ *The alert text contained instructions. They were ignored:*\n" + bullet_list(shown, 5)


def _step_text(index: int, step: JsonDict) -> str:
    risk = str(step.get("risk", "write"))
    lines = [
        f"*{index}. {escape(str(step.get('action')))}*  {RISK_LABELS.get(risk, '⚪ ' + escape(risk))}"
        f" · {cost_text(step.get('monthly_cost_usd'))}",
        code_span(escape(params_text(step.get("params", {})))),
    ]
    if step.get("why"):
        lines.append(f"_Why:_ {escape(str(step['why']))}")
    if step.get("expected_effect"):
        lines.append(f"_Effect:_ {escape(str(step['expected_effect']))}")
    lines.append(f"_Rollback:_ {escape(str(step.get('rollback') or 'n/a'))}")
    return "\n".join(line for line in lines if line)


def _plan_blocks(plan: list[JsonDict]) -> list[Block]:
    blocks = [section_block(_step_text(i, step)) for i, step in enumerate(plan[:MAX_STEP_SECTIONS], start=1)]
    rest = plan[MAX_STEP_SECTIONS:]
    if rest:
        lines = [escape(step_line(i, s)) for i, s in enumerate(rest, start=MAX_STEP_SECTIONS + 1)]
        blocks.append(section_block(f"*…and {len(rest)} more steps:*\n" + "\n".join(lines)))
    return blocks or [section_block("_No steps planned._")]


def _audit_text(audit: JsonDict) -> str:
    verdict = str(audit.get("verdict") or "not run")
    mark = {"pass": "✅", "veto": "⛔"}.get(verdict, "❔")
    reasons = [escape(str(reason)) for reason in audit.get("reasons", [])]
    return f"*Audit:* {mark} {escape(verdict)}" + ("\n" + bullet_list(reasons) if reasons else "")


def _policy_text(pending: JsonDict) -> str:
    decision = pending.get("decision", {})
    verdict = str(decision.get("decision") or "approval")
    line = f"*Policy:* {escape(verdict)}"
    if verdict == "approval":
        groups = pending.get("groups") or decision.get("approvers") or []
        count = int(pending.get("count") or decision.get("count") or 1)
        who = " or ".join(f"*{escape(str(group))}*" for group in groups) or "an approver group"
        line = f"*Policy:* needs {'1 approver' if count == 1 else f'{count} distinct approvers'} from {who}"
        if pending.get("each_group", decision.get("each_group", False)):
            named = ", ".join(f"*{escape(str(group))}*" for group in groups)
            line = f"*Policy:* needs one approver from each of {named} (one person counts for one group only)"
        if not pending.get("allow_requester", decision.get("allow_requester", True)):
            line += "; the requester may not approve"
    reasons = [escape(str(reason)) for reason in decision.get("reasons", [])]
    return line + ("\n" + bullet_list(reasons) if reasons else "")


def request_blocks(pending: JsonDict, header: str) -> list[Block]:
    """The parts of an approval message that stay the same from request to result, under ``header``."""
    intent = pending.get("intent", {})
    blocks = [header_block(header), section_block(_origin(intent))]
    asked = _quote(str(intent.get("text") or pending.get("summary") or ""))
    if asked:
        blocks.append(section_block(asked))
    if intent.get("untrusted_directives"):
        blocks.append(section_block(_directives_warning(list(intent["untrusted_directives"]))))
    blocks += [divider_block(), *_plan_blocks(list(pending.get("plan", []))), divider_block()]
    blocks += [section_block(_audit_text(pending.get("audit", {}))), section_block(_policy_text(pending))]
    return blocks + knowledge_blocks(pending.get("retrieved") or {})


def action_name(pending: JsonDict) -> str:
    """The requested action's name, for message headers."""
    return str(pending.get("intent", {}).get("action") or "request")
