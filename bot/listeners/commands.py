"""`/opsbot status` (private to the caller) and `/opsbot <request>` (a new thread in the channel)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.slack_queue import SlackHandlers
from graph.control import HELP


def register(app: App, bridge: SlackHandlers) -> None:
    @app.command("/opsbot")
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        text = str(command.get("text", "")).strip()
        if text.lower() in ("", "help"):
            ack(text=HELP)
            return
        ack(text="On it.")
        bridge.handle_command(
            channel=str(command.get("channel_id", "")), user=str(command.get("user_id", "")), text=text
        )
