"""Every Slack message opsbot posts, as pure functions: JSON-native dicts in, Block Kit blocks out.

Listeners stay thin: they call these and hand the result to ``chat.postMessage`` / ``chat.update``.
Anything that came from a person or an alert (request text, alert titles, params, reasons) is
escaped, so ``<!channel>`` in a finding title is shown, never obeyed. Every text is cut to Slack's
limits, and a message never has more than 50 blocks.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from bot.slack_text import (
    BLOCKS_PER_MESSAGE_MAX,
    BUTTON_TEXT_MAX,
    BUTTON_VALUE_MAX,
    CONFIRM_BUTTON_MAX,
    CONFIRM_TEXT_MAX,
    CONFIRM_TITLE_MAX,
    HEADER_TEXT_MAX,
    SECTION_FIELD_TEXT_MAX,
    SECTION_TEXT_MAX,
    TEXT_OBJECT_MAX,
    clip_blocks,
    escape,
    truncate,
)
from graph.render import (
    AUTO_APPROVED,
    approver_list,
    cost_text,
    feedback_note,
    negative_note,
    outcome_of,
    params_text,
    step_line,
    verification_line,
)
from tools.registry import REGISTRY

JsonDict = dict[str, Any]
Block = dict[str, Any]

APPROVAL_BLOCK_ID = "opsbot_approval"
APPROVE_ACTION_ID = "opsbot_approve"
REJECT_ACTION_ID = "opsbot_reject"

TEXT_FALLBACK_LIMIT = 3000  # under Slack's 4,000 recommendation for a message's text
MAX_STEP_SECTIONS = 20  # further steps are folded into one section, so the buttons always fit
MAX_LIST_ITEMS = 10

SLACK_USER_RE = re.compile(r"[UW][A-Z0-9]{2,20}")
THREAD_ID_RE = re.compile(r"[A-Za-z0-9._:~-]{1,200}")
RUN_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
SAFE_URL_RE = re.compile(r"https://[^\s<>|]{1,1000}")

RISK_LABELS = {"read": "🟢 read", "write": "🟡 write", "destructive": "🔴 destructive"}
KIND_LABELS = {
    "guardduty": "GuardDuty finding",
    "cloudwatch": "CloudWatch alarm",
    "securityhub": "Security Hub finding",
    "health": "AWS Health event",
    "ec2": "EC2 event",
    "autoscaling": "Auto Scaling event",
    "chat": "chat alert",
}
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


# --- message size -------------------------------------------------------------------------------


def _fit(blocks: list[Block]) -> list[Block]:
    """At most 50 blocks with every text inside Slack's limits. Messages here are built to fit; if one
    ever does not, the approval buttons are kept rather than cut off with the tail."""
    if len(blocks) > BLOCKS_PER_MESSAGE_MAX:
        actions = [block for block in blocks if block.get("type") == "actions"]
        others = [block for block in blocks if block.get("type") != "actions"]
        keep = BLOCKS_PER_MESSAGE_MAX - len(actions) - 1
        blocks = [*others[:keep], _context(f"…{len(others) - keep} more blocks not shown"), *actions]
    return clip_blocks(blocks)


# --- small builders -----------------------------------------------------------------------------


def _plain(text: str, limit: int) -> JsonDict:
    return {"type": "plain_text", "text": truncate(text, limit) or "—", "emoji": True}


def _mrkdwn(text: str, limit: int) -> JsonDict:
    return {"type": "mrkdwn", "text": truncate(text, limit) or "—"}


def _header(text: str) -> Block:
    return {"type": "header", "text": _plain(text, HEADER_TEXT_MAX)}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, SECTION_TEXT_MAX)}


def _fields(*texts: str) -> Block:
    return {"type": "section", "fields": [_mrkdwn(text, SECTION_FIELD_TEXT_MAX) for text in texts[:10]]}


def _context(*texts: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text, TEXT_OBJECT_MAX) for text in texts[:10]]}


def _divider() -> Block:
    return {"type": "divider"}


def user(user_id: Any) -> str:
    """A Slack mention for a real user id; anything else (``cli:alice``, ``opsbot``) escaped as text."""
    text = str(user_id)
    return f"<@{text}>" if SLACK_USER_RE.fullmatch(text) else escape(text)


def users(user_ids: Any) -> str:
    items = [user_ids] if isinstance(user_ids, str) else list(user_ids or [])
    return ", ".join(user(item) for item in items) or "nobody"


def slack_date(epoch: Any) -> str:
    """A Slack date token shown in the reader's time zone, with a UTC ISO fallback."""
    try:
        seconds = int(float(epoch))
        iso = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError, OSError):
        return escape(str(epoch))
    return f"<!date^{seconds}^{{date_short_pretty}} {{time}}|{iso}>"


def _code(text: str) -> str:
    quoted = text.replace("`", "'")
    return f"`{quoted}`" if text else ""


def _bullets(items: list[str], limit: int = MAX_LIST_ITEMS) -> str:
    lines = [f"• {item}" for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"…and {len(items) - limit} more")
    return "\n".join(lines)


def _times(count: int) -> str:
    return f"{count} time" if count == 1 else f"{count} times"


# --- approval message ---------------------------------------------------------------------------


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
    return "⚠️ *The alert text contained instructions. They were ignored:*\n" + _bullets(shown, 5)


def _step_text(index: int, step: JsonDict) -> str:
    risk = str(step.get("risk", "write"))
    lines = [
        f"*{index}. {escape(str(step.get('action')))}*  {RISK_LABELS.get(risk, '⚪ ' + escape(risk))}"
        f" · {cost_text(step.get('monthly_cost_usd'))}",
        _code(escape(params_text(step.get("params", {})))),
    ]
    if step.get("why"):
        lines.append(f"_Why:_ {escape(str(step['why']))}")
    if step.get("expected_effect"):
        lines.append(f"_Effect:_ {escape(str(step['expected_effect']))}")
    lines.append(f"_Rollback:_ {escape(str(step.get('rollback') or 'n/a'))}")
    return "\n".join(line for line in lines if line)


def _plan_blocks(plan: list[JsonDict]) -> list[Block]:
    blocks = [_section(_step_text(i, step)) for i, step in enumerate(plan[:MAX_STEP_SECTIONS], start=1)]
    rest = plan[MAX_STEP_SECTIONS:]
    if rest:
        lines = [escape(step_line(i, s)) for i, s in enumerate(rest, start=MAX_STEP_SECTIONS + 1)]
        blocks.append(_section(f"*…and {len(rest)} more steps:*\n" + "\n".join(lines)))
    return blocks or [_section("_No steps planned._")]


def _audit_text(audit: JsonDict) -> str:
    verdict = str(audit.get("verdict") or "not run")
    mark = {"pass": "✅", "veto": "⛔"}.get(verdict, "❔")
    reasons = [escape(str(reason)) for reason in audit.get("reasons", [])]
    return f"*Audit:* {mark} {escape(verdict)}" + ("\n" + _bullets(reasons) if reasons else "")


def _policy_text(pending: JsonDict) -> str:
    decision = pending.get("decision", {})
    verdict = str(decision.get("decision") or "approval")
    line = f"*Policy:* {escape(verdict)}"
    if verdict == "approval":
        groups = pending.get("groups") or decision.get("approvers") or []
        count = int(pending.get("count") or decision.get("count") or 1)
        who = " or ".join(f"*{escape(str(group))}*" for group in groups) or "an approver group"
        line = f"*Policy:* needs {'1 approver' if count == 1 else f'{count} distinct approvers'} from {who}"
        if not pending.get("allow_requester", decision.get("allow_requester", True)):
            line += "; the requester may not approve"
    reasons = [escape(str(reason)) for reason in decision.get("reasons", [])]
    return line + ("\n" + _bullets(reasons) if reasons else "")


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


def _knowledge_blocks(retrieved: JsonDict) -> list[Block]:
    runbooks = [
        f"📘 *Runbook:* {escape(str(hit.get('title') or hit.get('id')))}{_score(hit)}"
        for hit in retrieved.get("runbooks", [])[:3]
    ]
    incidents = [_incident_hit(hit) for hit in retrieved.get("incidents", [])[:3]]
    if incidents:
        runbooks.append("🗂️ *Similar past incidents:*\n" + _bullets(incidents))
    return [_section("\n".join(runbooks))] if runbooks else []


def _content(pending: JsonDict, header: str) -> list[Block]:
    """The parts of an approval message that stay the same from request to result."""
    intent = pending.get("intent", {})
    blocks = [_header(header), _section(_origin(intent))]
    asked = _quote(str(intent.get("text") or pending.get("summary") or ""))
    if asked:
        blocks.append(_section(asked))
    if intent.get("untrusted_directives"):
        blocks.append(_section(_directives_warning(list(intent["untrusted_directives"]))))
    blocks += [_divider(), *_plan_blocks(list(pending.get("plan", []))), _divider()]
    blocks += [_section(_audit_text(pending.get("audit", {}))), _section(_policy_text(pending))]
    return blocks + _knowledge_blocks(pending.get("retrieved") or {})


def _action_name(pending: JsonDict) -> str:
    return str(pending.get("intent", {}).get("action") or "request")


def _destructive_steps(pending: JsonDict) -> list[JsonDict]:
    return [step for step in pending.get("plan", []) if step.get("risk") == "destructive"]


def _buttons(pending: JsonDict) -> Block:
    value = button_value(pending)
    approve: JsonDict = {
        "type": "button",
        "action_id": APPROVE_ACTION_ID,
        "text": _plain("Approve", BUTTON_TEXT_MAX),
        "style": "primary",
        "value": value,
    }
    destructive = _destructive_steps(pending)
    if destructive:
        named = ", ".join(f"{s.get('action')} ({params_text(s.get('params', {}))})" for s in destructive)
        approve["confirm"] = {
            "title": _plain("Approve a destructive action?", CONFIRM_TITLE_MAX),
            "text": _plain(f"This cannot be undone: {named}.", CONFIRM_TEXT_MAX),
            "confirm": _plain("Approve", CONFIRM_BUTTON_MAX),
            "deny": _plain("Cancel", CONFIRM_BUTTON_MAX),
            "style": "danger",
        }
    reject = {
        "type": "button",
        "action_id": REJECT_ACTION_ID,
        "text": _plain("Reject", BUTTON_TEXT_MAX),
        "style": "danger",
        "value": value,
    }
    return {"type": "actions", "block_id": APPROVAL_BLOCK_ID, "elements": [approve, reject]}


def _expiry(pending: JsonDict) -> Block:
    return _context(f"⏳ Expires {slack_date(pending.get('expires_at'))} · thread {_code(_thread(pending))}")


def _thread(pending: JsonDict) -> str:
    return escape(str(pending.get("thread_id", "")))


def approval_blocks(pending: JsonDict) -> list[Block]:
    """The approval request: what, who, the plan, audit, policy, knowledge, expiry and the buttons."""
    header = f"🔐 Approval needed: {_action_name(pending)}"
    return _fit([*_content(pending, header), _expiry(pending), _buttons(pending)])


def button_value(pending: JsonDict) -> str:
    """The compact JSON each button carries back: which thread and which run on it."""
    value = json.dumps(
        {"thread_id": str(pending.get("thread_id", "")), "run_id": str(pending.get("run_id", ""))},
        separators=(",", ":"),
    )
    if len(value) > BUTTON_VALUE_MAX:
        raise ValueError(f"the button value is {len(value)} characters; Slack allows {BUTTON_VALUE_MAX}")
    return value


def parse_button_value(value: str) -> tuple[str, str]:
    """``(thread_id, run_id)`` from a button value that came back from Slack (untrusted)."""
    if not isinstance(value, str) or len(value) > BUTTON_VALUE_MAX:
        raise ValueError("the button value is not a string of at most 2000 characters")
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        raise ValueError("the button value is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"thread_id", "run_id"}:
        raise ValueError("the button value must be an object with exactly thread_id and run_id")
    thread_id, run_id = data["thread_id"], data["run_id"]
    if not isinstance(thread_id, str) or not THREAD_ID_RE.fullmatch(thread_id):
        raise ValueError("the button value has no valid thread_id")
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise ValueError("the button value has no valid run_id")
    return thread_id, run_id


# --- after a decision, after execution ----------------------------------------------------------

DECIDED_HEADERS = {
    "approved": "✅ Approved",
    "rejected": "❌ Rejected",
    "expired": "⌛ Expired",
    "superseded": "♻️ Superseded",
}
STILL_OPEN = ("partial", "pending")  # some approvals recorded, more needed: the buttons stay


def _decision_line(pending: JsonDict, status: str, by: list[str], note: str) -> str:
    lines = {
        "approved": f"✅ Approved by {users(by)}",
        "rejected": f"❌ Rejected by {users(by)}",
        "expired": "⌛ Expired — nothing executed",
        "superseded": "♻️ Superseded by a newer request — nothing executed",
    }
    if status in STILL_OPEN:
        line = f"Approval {len(by)} of {int(pending.get('count') or 1)} recorded ({users(by)})"
    elif status in lines:
        line = lines[status]
    else:
        raise ValueError(f"unknown approval status {status!r}: use one of {', '.join([*lines, *STILL_OPEN])}")
    return line + (f" — {escape(note)}" if note else "")


def decided_blocks(pending: JsonDict, status: str, by: list[str], note: str = "") -> list[Block]:
    """The approval message updated in place with who decided; the buttons go, unless more approvals
    are needed (``partial``: "Approval 1 of 2 recorded")."""
    line = _context(_decision_line(pending, status, by, note))
    if status in STILL_OPEN:
        header = f"🔐 Approval needed: {_action_name(pending)}"
        return _fit([*_content(pending, header), line, _expiry(pending), _buttons(pending)])
    header = f"{DECIDED_HEADERS[status]}: {_action_name(pending)}"
    return _fit([*_content(pending, header), line])


def _step_result(index: int, step: JsonDict, result: JsonDict | None, undone: dict[str, JsonDict]) -> str:
    name = f"{index + 1}. {escape(str(step.get('action')))}"
    if result is None:
        return f"▫️ {name} — not run"
    action_id = str(result.get("action_id", ""))
    name += f" {_code(escape(action_id))}"
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
    blocks = [_section("\n".join([text, *lines]))]
    if checks:
        blocks.append(_section("\n".join(checks)))
    live = [str(r.get("action_id")) for r in by_index.values() if _undoable(r, undone)]
    if live:
        ids = ", ".join(_code(escape(action_id)) for action_id in live)
        blocks.append(_context(f"To undo, say `roll back <action id>`: {ids}"))
    return blocks


def result_blocks(pending: JsonDict, state: JsonDict, decided_by: list[str]) -> list[Block]:
    """The approval message after the graph finished: who decided, then what happened per step."""
    approval = str(state.get("approval", {}).get("status", ""))
    outcome = str(state.get("outcome") or outcome_of(state))
    status = approval if approval in DECIDED_HEADERS else ("approved" if decided_by else "")
    header = (
        f"{RESULT_HEADERS.get(outcome) or DECIDED_HEADERS.get(status, '🤖 Ran')}: {_action_name(pending)}"
    )
    reason = str(state.get("approval", {}).get("reason") or "")
    reason = "" if status == "approved" or reason in ("rejected", "the approval expired") else reason
    line = (
        _decision_line(pending, status, decided_by, reason)
        if status
        else "🤖 Ran under policy without approval"
    )
    return _fit([*_content(pending, header), _context(line), *_outcome_blocks(state)])


# --- incident root message ----------------------------------------------------------------------


def severity_label(severity: float) -> str:
    """GuardDuty's bands (0-10): critical ≥ 9, high ≥ 7, medium ≥ 4, low > 0."""
    for floor, label in ((9.0, "🟣 Critical"), (7.0, "🔴 High"), (4.0, "🟠 Medium"), (0.1, "🟡 Low")):
        if severity >= floor:
            return label
    return "⚪ Informational"


def _alert_resources(alert: JsonDict) -> list[str]:
    keys = ("instance_ids", "asg_names", "remote_ips", "resource_ids")
    named = [str(item) for key in keys for item in alert.get(key, [])]
    return list(dict.fromkeys(named))


def _severity(alert: JsonDict) -> float:
    value = alert.get("severity", 0.0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def incident_root_blocks(
    alert: JsonDict, thread_id: str, repeats: int, first_seen: float | None = None
) -> list[Block]:
    """The root message of an incident thread; ``chat.update`` it with the new ``repeats`` count.

    ``repeats`` counts deliveries after the first, as ``runtime.incidents`` does: seen = repeats + 1.
    """
    severity = _severity(alert)
    kind = KIND_LABELS.get(str(alert.get("kind")), "alert")
    flags = [flag for flag in ("sample", "resolved") if alert.get(flag)]
    header = f"{severity_label(severity)} {kind}" + "".join(f" ({flag})" for flag in flags)
    resources = [_code(escape(r)) for r in _alert_resources(alert)]
    shown = ", ".join(resources[:MAX_LIST_ITEMS]) + (
        f" and {len(resources) - MAX_LIST_ITEMS} more" if len(resources) > MAX_LIST_ITEMS else ""
    )
    where = escape(str(alert.get("region") or "unknown region"))
    where += f" · account {escape(str(alert['account']))}" if alert.get("account") else ""
    seen = [f"👀 Seen {_times(max(repeats, 0) + 1)}"]
    if first_seen is not None:
        seen.append(f"first {slack_date(first_seen)}")
    seen.append(f"thread {_code(escape(thread_id))}")
    return _fit(
        [
            _header(header),
            _section(f"*{escape(str(alert.get('title') or 'untitled'))}*"),
            _fields(
                f"*Type*\n{escape(str(alert.get('finding_type') or kind))}",
                f"*Severity*\n{severity:g}",
                f"*Where*\n{where}",
                f"*Resources*\n{shown or 'none named'}",
            ),
            _context(" · ".join(seen)),
        ]
    )


def incident_root_text(alert: JsonDict, thread_id: str, repeats: int, first_seen: float | None = None) -> str:
    """The notification line of the incident root message (escaped: it is mrkdwn too)."""
    kind = KIND_LABELS.get(str(alert.get("kind")), "alert")
    title = escape(str(alert.get("title") or "untitled"))
    text = f"{severity_label(_severity(alert))} {kind}: {title} (seen {_times(max(repeats, 0) + 1)})"
    return truncate(text, TEXT_FALLBACK_LIMIT)


# --- status -------------------------------------------------------------------------------------


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
        else f"{title} {_code(escape(str(incident.get('thread_id', ''))))}"
    )
    opened = f", opened {slack_date(incident['opened_at'])}" if incident.get("opened_at") else ""
    return f"{shown} — seen {_times(int(incident.get('repeats', 0)) + 1)}{opened}"


def _pending_item(pending: JsonDict) -> str:
    groups = ", ".join(escape(str(group)) for group in pending.get("groups", [])) or "an approver"
    summary = escape(str(pending.get("summary") or pending.get("intent", {}).get("text", "")))
    return (
        f"{_code(_thread(pending))} {summary} — needs {groups}"
        f" ({int(pending.get('count') or 1)}), expires {slack_date(pending.get('expires_at'))}"
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
    return f"🚨 *CloudWatch alarms in ALARM ({len(alarms)})*\n" + _bullets(items)


def _titled_list(title: str, items: list[str]) -> str:
    return f"*{title} ({len(items)})*\n" + (_bullets(items) if items else "none")


def status_blocks(report: JsonDict) -> list[Block]:
    """The ``status`` answer: kill switch, open incidents, pending approvals, actions, budgets, alarms."""
    actions = [
        f"{_code(escape(str(a.get('action_id'))))} {escape(str(a.get('action')))}:"
        f" {escape(str(a.get('status')))} ({_when(a.get('ts'))})"
        for a in report.get("last_actions", [])
    ]
    budgets = [
        f"{escape(str(b.get('action')))} {b.get('left')}/{b.get('limit')}" for b in report.get("budgets", [])
    ]
    return _fit(
        [
            _header("opsbot status"),
            _section(_paused_text(report.get("paused"))),
            _section(
                _titled_list("Open incidents", [_incident_item(i) for i in report.get("incidents", [])])
            ),
            _section(
                _titled_list("Pending approvals", [_pending_item(p) for p in report.get("pending", [])])
            ),
            _section(_titled_list("Last actions", actions)),
            _section("*Rate budget left this hour:* " + (", ".join(budgets) or "no limits set")),
            _section(_alarms_text(report.get("alarms"))),
        ]
    )


# --- notification text --------------------------------------------------------------------------


def _texts(block: Block) -> list[str]:
    if block.get("type") not in ("header", "section", "context"):
        return []
    objects = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
    return [
        obj["text"] if obj.get("type") == "mrkdwn" else escape(obj["text"])
        for obj in objects
        if isinstance(obj, dict) and isinstance(obj.get("text"), str)
    ]


def text_fallback(blocks: list[Block]) -> str:
    """The ``text`` of chat.postMessage for these blocks: notifications and screen readers read it.

    It is parsed as mrkdwn, so plain_text parts (headers) are escaped here; mrkdwn parts already are.
    """
    lines = [text for block in blocks for text in _texts(block)]
    return truncate("\n".join(lines), TEXT_FALLBACK_LIMIT) or "opsbot"
