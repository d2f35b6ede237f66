"""Channel messages: alert-integration posts in alert channels, and follow-ups in opsbot's threads.

Messages that mention opsbot are left to the app_mention listener, so nothing is handled twice.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.slack_queue import SlackHandlers
from graph.parsing.slack_posts import is_alert_post


def register(app: App, bridge: SlackHandlers, alert_channels: set[str]) -> None:
    @app.event("message")
    def on_message(event: dict[str, Any], context: BoltContext) -> None:
        own_bot = context.bot_id
        if event.get("channel") in alert_channels and is_alert_post(event, own_bot_id=own_bot):
            bridge.handle_alert_post(event)
            return
        mentioned = context.bot_user_id and f"<@{context.bot_user_id}>" in str(event.get("text", ""))
        if event.get("thread_ts") and not mentioned and not event.get("bot_id") and not event.get("subtype"):
            bridge.handle_thread_reply(event)
