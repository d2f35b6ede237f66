"""The approval message: the request with its Approve/Reject buttons, then the same message updated in
place once people decided. Also the value each button carries back to opsbot, and its strict parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from bot.blocks_common import (
    Block,
    JsonDict,
    code_span,
    context_block,
    fit_message,
    plain_text,
    slack_date,
    thread_text,
    users,
)
from bot.request_blocks import action_name, request_blocks
from bot.slack_text import (
    BUTTON_TEXT_MAX,
    BUTTON_VALUE_MAX,
    CONFIRM_BUTTON_MAX,
    CONFIRM_TEXT_MAX,
    CONFIRM_TITLE_MAX,
    escape,
)
from graph.render import params_text
from policies.decision import one_from_each

APPROVAL_BLOCK_ID = "opsbot_approval"
APPROVE_ACTION_ID = "opsbot_approve"
REJECT_ACTION_ID = "opsbot_reject"

THREAD_ID_RE = re.compile(r"[A-Za-z0-9._:~-]{1,200}")
RUN_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

DECIDED_HEADERS = {
    "approved": "✅ Approved",
    "rejected": "❌ Rejected",
    "expired": "⌛ Expired",
    "superseded": "♻️ Superseded",
}
STILL_OPEN = ("partial", "pending")  # some approvals recorded, more needed: the buttons stay


# --- the request ------------------------------------------------------------------------------


def _destructive_steps(pending: JsonDict) -> list[JsonDict]:
    return [step for step in pending.get("plan", []) if step.get("risk") == "destructive"]


def _buttons(pending: JsonDict) -> Block:
    value = button_value(pending)
    approve: JsonDict = {
        "type": "button",
        "action_id": APPROVE_ACTION_ID,
        "text": plain_text("Approve", BUTTON_TEXT_MAX),
        "style": "primary",
        "value": value,
    }
    destructive = _destructive_steps(pending)
    if destructive:
        named = ", ".join(f"{s.get('action')} ({params_text(s.get('params', {}))})" for s in destructive)
        approve["confirm"] = {
            "title": plain_text("Approve a destructive action?", CONFIRM_TITLE_MAX),
            "text": plain_text(f"This cannot be undone: {named}.", CONFIRM_TEXT_MAX),
            "confirm": plain_text("Approve", CONFIRM_BUTTON_MAX),
            "deny": plain_text("Cancel", CONFIRM_BUTTON_MAX),
            "style": "danger",
        }
    reject = {
        "type": "button",
        "action_id": REJECT_ACTION_ID,
        "text": plain_text("Reject", BUTTON_TEXT_MAX),
        "style": "danger",
        "value": value,
    }
    return {"type": "actions", "block_id": APPROVAL_BLOCK_ID, "elements": [approve, reject]}


def _expiry(pending: JsonDict) -> Block:
    return context_block(
        f"⏳ Expires {slack_date(pending.get('expires_at'))} · thread {code_span(thread_text(pending))}"
    )


def request_header(pending: JsonDict) -> str:
    """The header of an open request; an emergency (it needs the incident commander, and paged) says so."""
    if pending.get("emergency"):
        return f"🚨 Emergency approval needed: {action_name(pending)}"
    return f"🔐 Approval needed: {action_name(pending)}"


def approval_blocks(pending: JsonDict) -> list[Block]:
    """The approval request: what, who, the plan, audit, policy, knowledge, expiry and the buttons."""
    header = request_header(pending)
    return fit_message(
        [*request_blocks(pending, header), *_each_group_block(pending), _expiry(pending), _buttons(pending)]
    )


def _still_needed(missing: Sequence[str]) -> str:
    """'still needed: one approver from each of security and compliance' (group names escaped)."""
    return "still needed: " + one_from_each([f"*{escape(str(group))}*" for group in missing])


def _each_group_block(pending: JsonDict) -> list[Block]:
    """For a one-from-each-group approval, which groups still have no approver (all of them, at first)."""
    if not pending.get("each_group") or not pending.get("groups"):
        return []
    line = _still_needed(list(pending["groups"]))
    return [context_block(f"👥 {line[0].upper()}{line[1:]}; one person counts for one group only")]


# --- the button value -------------------------------------------------------------------------


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


# --- after a decision ---------------------------------------------------------------------------


def decision_line(
    pending: JsonDict, status: str, by: list[str], note: str, missing: Sequence[str] | None = None
) -> str:
    """Who decided and how (``approved``, ``rejected``, ``expired``, ``superseded``, or still open).

    ``missing``: for a one-from-each-group approval still open, the groups with no approver yet.
    """
    lines = {
        "approved": f"✅ Approved by {users(by)}",
        "rejected": f"❌ Rejected by {users(by)}",
        "expired": "⌛ Expired — nothing executed",
        "superseded": "♻️ Superseded by a newer request — nothing executed",
    }
    if status in STILL_OPEN and pending.get("each_group"):
        groups = list(pending.get("groups") or [])
        gaps = groups if missing is None else list(missing)
        line = f"Approval {len(groups) - len(gaps)} of {len(groups)} recorded ({users(by)})"
        line += f" — {_still_needed(gaps)}" if gaps else ""
    elif status in STILL_OPEN:
        line = f"Approval {len(by)} of {int(pending.get('count') or 1)} recorded ({users(by)})"
    elif status in lines:
        line = lines[status]
    else:
        raise ValueError(f"unknown approval status {status!r}: use one of {', '.join([*lines, *STILL_OPEN])}")
    return line + (f" — {escape(note)}" if note else "")


def decided_blocks(
    pending: JsonDict, status: str, by: list[str], note: str = "", missing: Sequence[str] | None = None
) -> list[Block]:
    """The approval message updated in place with who decided; the buttons go, unless more approvals
    are needed (``partial``: "Approval 1 of 2 recorded"; with one approver from each group, also which
    groups are ``missing``)."""
    line = context_block(decision_line(pending, status, by, note, missing))
    if status in STILL_OPEN:
        header = request_header(pending)
        return fit_message([*request_blocks(pending, header), line, _expiry(pending), _buttons(pending)])
    header = f"{DECIDED_HEADERS[status]}: {action_name(pending)}"
    return fit_message([*request_blocks(pending, header), line])
