"""@opsbot mentions: acked by Bolt at once, then answered in the message's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.slack_queue import SlackHandlers


def register(app: App, bridge: SlackHandlers) -> None:
    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:
        bridge.handle_mention(event)
