"""Settings in, the Slack side out: the bridge a worker runs requests on, and the Bolt app `serve` acks with.

The two halves meet only through the work queue: `opsbot serve` builds the Bolt app over handlers that
enqueue (``build_serve_app``), and `opsbot worker` builds the bridge that runs them on the pipeline
(``build_bridge``), with the Web API client, the thread bindings, the notifier and the user groups.
"""

from __future__ import annotations

from dataclasses import replace

from slack_bolt import App
from slack_sdk import WebClient

from bot.app import build_app
from bot.conversation import SlackBridge, SlackNotifier
from bot.slack_queue import FailClosedNotice, QueuedSlackHandlers
from bot.threads import SlackThreads
from bot.usergroups import UsergroupDirectory
from bot.web_client import make_web_client
from runtime.config import Settings
from runtime.pipeline import Pipeline
from runtime.services import with_notifier
from runtime.store import CoordinationStore
from runtime.work_queue import WorkQueue


def slack_client(settings: Settings) -> WebClient:
    if settings.slack_bot_token is None or settings.slack_signing_secret is None:
        raise ValueError("Slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    return make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)


def build_bridge(settings: Settings, pipeline: Pipeline) -> SlackBridge:
    """The worker's Slack side: runs requests on ``pipeline`` and posts summaries to their threads."""
    client = slack_client(settings)
    threads = SlackThreads(pipeline.ctx.store)
    usergroups = UsergroupDirectory(client)
    with_notifier(pipeline, SlackNotifier(client, threads))
    pipeline.ctx = replace(pipeline.ctx, expand_usergroup=usergroups.expand)
    return SlackBridge(
        pipeline=pipeline,
        client=client,
        threads=threads,
        usergroups=usergroups,
        incidents_channel=settings.incidents_channel,
    )


def build_serve_app(settings: Settings, queue: WorkQueue, store: CoordinationStore) -> App:
    """`serve`'s Bolt app: checks signatures, drops Slack's retries, enqueues, answers 5xx when it can't."""
    client = slack_client(settings)
    secret = settings.slack_signing_secret
    if secret is None:
        raise ValueError("Slack needs SLACK_SIGNING_SECRET")
    return build_app(
        QueuedSlackHandlers(queue),
        SlackThreads(store),
        client,
        secret.get_secret_value(),
        settings.alert_channels,
        process_before_response=True,
        notice=FailClosedNotice(client),
    )
