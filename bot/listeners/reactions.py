"""👍 / 👎 on an incident thread's messages: feedback stored with the incident."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.conversation import SlackBridge


def register(app: App, bridge: SlackBridge) -> None:
    @app.event("reaction_added")
    def on_reaction(event: dict[str, Any]) -> None:
        bridge.handle_reaction(event)
