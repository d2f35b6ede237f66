"""Every Slack message opsbot posts, as pure functions: JSON-native dicts in, Block Kit blocks out.

Listeners stay thin: they call these and hand the result to ``chat.postMessage`` / ``chat.update``.
Anything that came from a person or an alert (request text, alert titles, params, reasons) is
escaped, so ``<!channel>`` in a finding title is shown, never obeyed. Every text is cut to Slack's
limits, and a message never has more than 50 blocks.

This module only gathers the public names; each message lives in its own module:
``bot.approval_blocks`` (request, decision, button values), ``bot.result_blocks`` (after execution),
``bot.incident_blocks`` (incident root), ``bot.status_blocks`` (status) and ``bot.blocks_common``
(the shared builders and the notification text).
"""

from __future__ import annotations

from bot.approval_blocks import (
    APPROVAL_BLOCK_ID,
    APPROVE_ACTION_ID,
    REJECT_ACTION_ID,
    approval_blocks,
    button_value,
    decided_blocks,
    parse_button_value,
)
from bot.blocks_common import Block, JsonDict, slack_date, text_fallback, user, users
from bot.incident_blocks import incident_root_blocks, incident_root_text, severity_label
from bot.result_blocks import result_blocks
from bot.status_blocks import status_blocks

__all__ = [
    "APPROVAL_BLOCK_ID",
    "APPROVE_ACTION_ID",
    "REJECT_ACTION_ID",
    "Block",
    "JsonDict",
    "approval_blocks",
    "button_value",
    "decided_blocks",
    "incident_root_blocks",
    "incident_root_text",
    "parse_button_value",
    "result_blocks",
    "severity_label",
    "slack_date",
    "status_blocks",
    "text_fallback",
    "user",
    "users",
]
