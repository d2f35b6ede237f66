"""Helpers for tests that talk to Slack: the ``fake_slack`` fixture, request signing, event bodies.

To get the ``fake_slack`` fixture, either list this module in the root conftest
(``pytest_plugins = ["slack_support"]``) or import it into the test module:
``from slack_support import fake_slack_fixture  # noqa: F401``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack

SLACK_FIXTURES = Path(__file__).parent / "fixtures" / "slack"
USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")


@pytest.fixture(name="fake_slack")
def fake_slack_fixture() -> Iterator[FakeSlack]:
    """A fresh fake Slack Web API for one test; ``fake_slack.url`` is the WebClient base_url."""
    fake = FakeSlack()
    try:
        yield fake
    finally:
        fake.stop()


def sign(secret: str, body: str, ts: int | None = None) -> dict[str, str]:
    """The headers Slack sends with a request: ``v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``.

    ``ts`` defaults to now, which Bolt's five-minute freshness check accepts.
    """
    timestamp = int(time.time()) if ts is None else ts
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(timestamp)}


def signed_json(secret: str, payload: dict[str, Any], ts: int | None = None) -> tuple[str, dict[str, str]]:
    """``payload`` as a JSON body, with its signature headers and Content-Type."""
    body = json.dumps(payload)
    headers = {"Content-Type": "application/json", **sign(secret, body, ts)}
    return body, headers


def load_slack_fixture(fixture_name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/fixtures/slack/<fixture_name>`` (``.json`` optional)."""
    name = fixture_name if fixture_name.endswith(".json") else f"{fixture_name}.json"
    loaded = json.loads((SLACK_FIXTURES / name).read_text())
    if not isinstance(loaded, dict):
        raise TypeError(f"{name} does not hold a JSON object")
    return loaded


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The ``rich_text`` block Slack attaches to a user's message with this text."""
    elements: list[dict[str, Any]] = []
    start = 0
    for mention in USER_MENTION.finditer(text):
        if mention.start() > start:
            elements.append({"type": "text", "text": text[start : mention.start()]})
        elements.append({"type": "user", "user_id": mention.group(1)})
        start = mention.end()
    if start < len(text):
        elements.append({"type": "text", "text": text[start:]})
    section = {"type": "rich_text_section", "elements": elements}
    return [{"type": "rich_text", "block_id": "opsbt", "elements": [section]}]


def event_body(
    fixture_name: str,
    *,
    event_id: str | None = None,
    text: str | None = None,
    channel: str | None = None,
    ts: str | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """An Events API body from a real fixture, with the usual fields replaced.

    ``ts`` sets both ``event.ts`` and ``event.event_ts`` (they are equal for a new message).
    ``text`` also rebuilds the event's ``rich_text`` blocks, if it has any, so the two agree
    (``<@U...>`` becomes a user element, as Slack sends it). Each call returns an independent copy.
    """
    body = copy.deepcopy(load_slack_fixture(fixture_name))
    event = body.get("event")
    if not isinstance(event, dict):
        raise ValueError(f"{fixture_name} is not an Events API body (no 'event' object)")
    if event_id is not None:
        body["event_id"] = event_id
    if text is not None:
        event["text"] = text
        if "blocks" in event:
            event["blocks"] = rich_text_blocks(text)
    if channel is not None:
        event["channel"] = channel
    if ts is not None:
        event["ts"] = ts
        event["event_ts"] = ts
    if user is not None:
        event["user"] = user
    return body
