"""Pure functions that turn state into plain text for a thread or a terminal."""

from __future__ import annotations

import math
from typing import Any


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


def summary(state: dict[str, Any]) -> str:
    intent = state.get("intent", {})
    lines = [f"*{intent.get('action', 'unknown')}* — {intent.get('text', '')}".rstrip(" —")]
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
    lines.append(f"Outcome: {outcome_of(state)}")
    return "\n".join(lines)
