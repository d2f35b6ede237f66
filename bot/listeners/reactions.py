"""👍 / 👎 on an incident thread's messages: feedback stored with the incident."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.slack_queue import SlackHandlers


def register(app: App, bridge: SlackHandlers) -> None:
    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any]) -> None:
        bridge.handle_reaction(event)
