"""Pure functions that turn state into plain text for a thread or a terminal."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tools.terraform import run_snippets

ALERT_KIND_LABELS = {
    "guardduty": "GuardDuty finding",
    "cloudwatch": "CloudWatch alarm",
    "securityhub": "Security Hub finding",
    "health": "AWS Health event",
    "ec2": "EC2 event",
    "autoscaling": "Auto Scaling event",
    "chat": "alert posted in chat",
}


def outcome_of(state: dict[str, Any]) -> str:
    if state.get("outcome") in ("rolled_back", "failed", "answered"):
        return str(state["outcome"])
    if state.get("audit", {}).get("verdict") == "veto":
        return "vetoed"
    decision = state.get("decision", {}).get("decision")
    approval = state.get("approval", {}).get("status")
    if decision == "reject":
        return "rejected"
    if decision == "log_only":
        return "logged"
    if decision == "none":
        return "answered"
    if approval in ("rejected", "expired"):
        return "expired" if approval == "expired" else "declined"
    executions = state.get("executions", [])
    if any(e.get("status") == "skipped" for e in executions):
        return "in_progress_elsewhere"
    if executions and all(e.get("status") == "dry_run" for e in executions):
        return "dry_run"
    if executions and all(e.get("status") == "ok" or e.get("replayed") for e in executions):
        checks = state.get("verification", [])
        return "executed" if all(c.get("ok") for c in checks) else "executed_unverified"
    return "pending"


def params_text(params: dict[str, Any]) -> str:
    """``k=v, k=v`` for a step's params; a rollback's copy of the undone action's params is left out."""
    return ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("of_params",))


def cost_text(cost: Any) -> str:
    """A step's estimated change in monthly cost: ``+$121.47/month``, or ``cost unknown``."""
    if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
        return "cost unknown"
    sign = "-" if cost < 0 else "+"
    return f"{sign}${abs(cost):,.2f}/month"


def execution_line(result: dict[str, Any]) -> str:
    detail = result.get("error") or ""
    return f"Executed {result.get('action')} {result.get('action_id')}: {result.get('status')}" + (
        f" — {detail}" if detail else ""
    )


def rollback_line(undo: dict[str, Any]) -> str:
    return f"Rolled back {undo.get('action_id')}: {undo.get('status')}"


def verification_line(check: dict[str, Any]) -> str:
    verdict = "ok" if check.get("ok") else "FAILED"
    return f"Verified {check.get('action_id')}: {verdict} — {check.get('detail')}"


def step_line(index: int, step: dict[str, Any]) -> str:
    params = params_text(step.get("params", {}))
    cost = step.get("monthly_cost_usd")
    money = f", ≈${cost:+.0f}/month" if isinstance(cost, int | float) else ""
    return (
        f"{index}. {step.get('action')}({params}) [{step.get('risk', 'write')}{money}]"
        f" — rollback: {step.get('rollback') or 'n/a'}"
    )


def plan_lines(plan: list[dict[str, Any]]) -> list[str]:
    return [step_line(i, step) for i, step in enumerate(plan, start=1)]


NEGATIVE_OUTCOMES = {
    "vetoed": "vetoed",
    "rejected": "rejected by policy",
    "declined": "rejected",
    "expired": "expired",
}
AUTO_APPROVED = "policy:auto"  # ``approved_by`` of a run the policy let through without people
FEEDBACK_SHOWN_CHARS = 120


def duration_text(seconds: Any) -> str:
    """``45 s``, ``3 min``, ``2 h 5 min``; anything that is not a number is shown as it is."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        return str(seconds)
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{max(round(seconds), 0)} s"
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def is_negative(metadata: Mapping[str, Any]) -> bool:
    """A remembered run that was vetoed, rejected, declined or expired: an example not to follow."""
    return metadata.get("negative") in (True, "true")


def negative_note(metadata: Mapping[str, Any]) -> str:
    """``⚠ vetoed before: <reasons>`` for a negative example, otherwise empty."""
    if not is_negative(metadata):
        return ""
    verb = NEGATIVE_OUTCOMES.get(str(metadata.get("outcome")), "refused")
    reasons = str(metadata.get("reasons") or "").strip()
    return f"⚠ {verb} before" + (f": {reasons}" if reasons else "")


def vote_count(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def feedback_note(metadata: Mapping[str, Any]) -> str:
    """``👍 2 👎 1 · “latest comment”`` when people gave feedback, otherwise empty."""
    ups, downs = vote_count(metadata.get("thumbs_up")), vote_count(metadata.get("thumbs_down"))
    comments = [line for line in str(metadata.get("feedback") or "").splitlines() if line.strip()]
    parts = [f"👍 {ups} 👎 {downs}"] if ups or downs else []
    if comments:
        latest = comments[-1].strip()
        cut = latest if len(latest) <= FEEDBACK_SHOWN_CHARS else latest[: FEEDBACK_SHOWN_CHARS - 1] + "…"
        parts.append(f"“{cut}”")
    return " · ".join(parts)


def approver_list(value: Any) -> list[str]:
    """``approved_by`` as a list: metadata keeps it as a comma string, state as a list."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    return [str(item).strip() for item in items if str(item).strip()]


def past_incident_line(hit: dict[str, Any]) -> str:
    """One similar past incident as plain text: title, score, who approved, how long, how it ended,
    whether it was refused before and what people said about it."""
    meta = hit.get("metadata") or {}
    approvers = approver_list(meta.get("approved_by"))
    auto = approvers == [AUTO_APPROVED]
    facts = [
        "auto-approved by policy" if auto else f"approved by {', '.join(approvers)}" if approvers else "",
        f"resolved in {duration_text(meta['resolved_in'])}"
        if meta.get("resolved_in") not in (None, "")
        else "",
        f"outcome {meta['outcome']}" if meta.get("outcome") else "",
        negative_note(meta),
        feedback_note(meta),
    ]
    score = hit.get("score")
    scored = f" (score {score:.2f})" if isinstance(score, int | float) and not isinstance(score, bool) else ""
    shown = "; ".join(fact for fact in facts if fact)
    return f"{hit.get('title') or hit.get('id')}{scored}" + (f" — {shown}" if shown else "")


def summary(state: dict[str, Any]) -> str:
    intent = state.get("intent", {})
    lines = [f"*{intent.get('action', 'unknown')}* — {intent.get('text', '')}".rstrip(" —")]
    incidents = (state.get("retrieved") or {}).get("incidents") or []
    if incidents:
        lines.append("Similar past incidents:")
        lines += [f"  - {past_incident_line(hit)}" for hit in incidents]
    runbook = (state.get("context") or {}).get("runbook")
    if runbook:
        lines.append(
            f"Runbook followed: {runbook.get('title')} ({runbook.get('id')}, score {runbook.get('score')})"
        )
    if state.get("plan"):
        lines.append("Plan:")
        lines += ["  " + line for line in plan_lines(state["plan"])]
    audit = state.get("audit", {})
    if audit:
        lines.append(f"Audit: {audit.get('verdict')}")
        lines += [f"  - {reason}" for reason in audit.get("reasons", [])]
    decision = state.get("decision", {})
    if decision:
        groups = ", ".join(decision.get("approvers", []))
        lines.append(f"Decision: {decision.get('decision')}" + (f" (approvers: {groups})" if groups else ""))
        if audit.get("verdict") != "veto":  # the audit's reasons were just shown
            lines += [f"  - {reason}" for reason in decision.get("reasons", [])]
    approval = state.get("approval", {})
    if approval.get("status") not in (None, "not_needed", "pending"):
        who = ", ".join(approval.get("approvers", [])) or approval.get("by", "")
        lines.append(
            f"Approval: {approval['status']}"
            + (f" by {who}" if who else "")
            + (f" — {approval['reason']}" if approval.get("reason") else "")
        )
    lines += [execution_line(result) for result in state.get("executions", [])]
    lines += [rollback_line(undo) for undo in state.get("rollbacks", [])]
    lines += [verification_line(check) for check in state.get("verification", [])]
    if state.get("reply"):
        lines.append(str(state["reply"]))
    lines += [f"Note: {note}" for note in llm_notes(state)]
    lines.append(f"Outcome: {outcome_of(state)}")
    lines += terraform_section(state)
    return "\n".join(lines)


def terraform_section(state: dict[str, Any]) -> list[str]:
    """The Terraform for the run's executed write steps, in a code block; nothing when there is none."""
    snippets = run_snippets(state.get("executions", []), state.get("rollbacks", []))
    if not snippets:
        return []
    return ["Terraform to keep your IaC in step:", "```", "\n\n".join(snippets), "```"]


def llm_notes(state: dict[str, Any]) -> list[str]:
    """What the thread should know about the LLM: a fallback to rules, a budget used up, an audit
    that could not run. "LLM off" is said once at start-up, not on every run."""
    notes = state.get("llm", {}).get("notes", [])
    return [str(note) for note in notes if not str(note).startswith("LLM off")]
