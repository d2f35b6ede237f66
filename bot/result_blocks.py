"""The approval message after the graph finished: who decided, then what happened to each step, what
verification found, and which executed steps can still be rolled back."""

from __future__ import annotations

from bot.approval_blocks import DECIDED_HEADERS, decision_line
from bot.blocks_common import Block, JsonDict, code_span, context_block, fit_message, section_block
from bot.request_blocks import action_name, request_blocks
from bot.slack_text import escape
from graph.render import outcome_of, verification_line
from tools.registry import REGISTRY

OUTCOME_LABELS = {
    "executed": "✅ Executed and verified",
    "executed_unverified": "⚠️ Executed, but verification did not confirm the effect",
    "rolled_back": "↩️ A step failed; the completed steps were rolled back",
    "failed": "❌ Failed; nothing needed rolling back",
    "dry_run": "🧪 Dry run: nothing changed",
    "in_progress_elsewhere": "⏳ Another executor is running this plan",
    "expired": "⌛ Expired — nothing executed",
    "declined": "❌ Rejected — nothing executed",
    "rejected": "🚫 Rejected by policy — nothing executed",
    "vetoed": "⛔ Vetoed by the audit — nothing executed",
    "logged": "📝 Logged only — nothing executed",
    "answered": "💬 Answered",
    "pending": "⏳ Waiting",
}
RESULT_HEADERS = {
    "executed": "✅ Done",
    "executed_unverified": "⚠️ Done, unverified",
    "rolled_back": "↩️ Rolled back",
    "failed": "❌ Failed",
    "dry_run": "🧪 Dry run",
}


def _step_result(index: int, step: JsonDict, result: JsonDict | None, undone: dict[str, JsonDict]) -> str:
    name = f"{index + 1}. {escape(str(step.get('action')))}"
    if result is None:
        return f"▫️ {name} — not run"
    action_id = str(result.get("action_id", ""))
    name += f" {code_span(escape(action_id))}"
    error = escape(str(result.get("error") or ""))
    status = str(result.get("status"))
    undo = undone.get(action_id)
    if status == "ok" and undo is not None:
        undo_error = escape(str(undo.get("error") or ""))
        if undo.get("status") == "rolled back":
            return f"↩️ {name} — rolled back"
        return f"⚠️ {name} — ok, then {escape(str(undo.get('status')))}" + (
            f": {undo_error}" if undo_error else ""
        )
    marks = {"ok": "✅", "dry_run": "🧪", "failed": "❌", "refused": "🚫", "skipped": "⏭️"}
    words = {"dry_run": "dry run"}.get(status, escape(status))
    replayed = " (already done earlier)" if result.get("replayed") else ""
    return f"{marks.get(status, '❔')} {name} — {words}{replayed}" + (f": {error}" if error else "")


def _undoable(result: JsonDict, undone: dict[str, JsonDict]) -> bool:
    """An executed step people can still roll back: it ran, was not undone, and its tool has an inverse."""
    spec = REGISTRY.get(str(result.get("action")))
    ran = result.get("status") == "ok" and str(result.get("action_id")) not in undone
    return ran and spec is not None and spec.rollback is not None


def _outcome_blocks(state: JsonDict) -> list[Block]:
    outcome = str(state.get("outcome") or outcome_of(state))
    plan = list(state.get("plan", []))
    by_index = {int(r.get("index", -1)): r for r in state.get("executions", [])}
    undone = {str(u.get("action_id")): u for u in state.get("rollbacks", [])}
    lines = [_step_result(i, step, by_index.get(i), undone) for i, step in enumerate(plan)]
    checks = [f"🔎 {escape(verification_line(check))}" for check in state.get("verification", [])]
    text = f"*Outcome:* {OUTCOME_LABELS.get(outcome, escape(outcome))}"
    blocks = [section_block("\n".join([text, *lines]))]
    if checks:
        blocks.append(section_block("\n".join(checks)))
    live = [str(r.get("action_id")) for r in by_index.values() if _undoable(r, undone)]
    if live:
        ids = ", ".join(code_span(escape(action_id)) for action_id in live)
        blocks.append(context_block(f"To undo, say `roll back <action id>`: {ids}"))
    return blocks


def result_blocks(pending: JsonDict, state: JsonDict, decided_by: list[str]) -> list[Block]:
    """The approval message after the graph finished: who decided, then what happened per step."""
    approval = str(state.get("approval", {}).get("status", ""))
    outcome = str(state.get("outcome") or outcome_of(state))
    status = approval if approval in DECIDED_HEADERS else ("approved" if decided_by else "")
    header = f"{RESULT_HEADERS.get(outcome) or DECIDED_HEADERS.get(status, '🤖 Ran')}: {action_name(pending)}"
    reason = str(state.get("approval", {}).get("reason") or "")
    reason = "" if status == "approved" or reason in ("rejected", "the approval expired") else reason
    line = (
        decision_line(pending, status, decided_by, reason)
        if status
        else "🤖 Ran under policy without approval"
    )
    return fit_message([*request_blocks(pending, header), context_block(line), *_outcome_blocks(state)])
