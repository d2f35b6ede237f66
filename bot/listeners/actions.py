"""Approve / Reject buttons: ack at once, then vote through the pipeline's authority checks."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App

from bot.blocks import parse_button_value
from bot.slack_queue import SlackHandlers

log = logging.getLogger("opsbot.slack")


def register(app: App, bridge: SlackHandlers) -> None:
    def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any], approve: bool) -> None:
        ack()
        try:
            thread_id, run_id = parse_button_value(str(action.get("value", "")))
        except ValueError as error:
            log.warning("ignored a click with a bad button value: %s", error)
            return
        bridge.handle_click(body, thread_id, run_id, approve)

    @app.action("opsbot_approve")
    def on_approve(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_click(ack, body, action, approve=True)

    @app.action("opsbot_reject")
    def on_reject(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        on_click(ack, body, action, approve=False)
