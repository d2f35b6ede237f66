"""Settings in, a ready Slack bot out: the Web API client, the bridge, the Bolt app, the notifier."""

from __future__ import annotations

from dataclasses import dataclass, replace

from slack_bolt import App

from bot.app import build_app
from bot.conversation import SlackBridge, SlackNotifier
from bot.threads import SlackThreads
from bot.usergroups import UsergroupDirectory
from bot.web_client import make_web_client
from runtime.config import Settings
from runtime.pipeline import Pipeline
from runtime.services import with_notifier


@dataclass(frozen=True)
class SlackBot:
    app: App
    bridge: SlackBridge


def build_slack_bot(settings: Settings, pipeline: Pipeline) -> SlackBot:
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ValueError("Slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    threads = SlackThreads(pipeline.ctx.store)
    usergroups = UsergroupDirectory(client)
    with_notifier(pipeline, SlackNotifier(client, threads))
    pipeline.ctx = replace(pipeline.ctx, expand_usergroup=usergroups.expand)
    bridge = SlackBridge(
        pipeline=pipeline,
        client=client,
        threads=threads,
        usergroups=usergroups,
        incidents_channel=settings.incidents_channel,
    )
    app = build_app(bridge, client, settings.slack_signing_secret.get_secret_value(), settings.alert_channels)
    return SlackBot(app, bridge)
