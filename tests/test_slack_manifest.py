"""bot/manifest.yaml asks for exactly the scopes and events the code uses: no more, no fewer."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
MANIFEST = yaml.safe_load((ROOT / "bot/manifest.yaml").read_text())

# Web API methods -> the bot scope each needs (Slack's method reference; chat.getPermalink needs none).
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_getPermalink": None,
    "reactions_add": "reactions:write",
    "usergroups_list": "usergroups:read",
    "usergroups_users_list": "usergroups:read",
}
EVENT_SCOPES = {
    "app_mention": ["app_mentions:read"],
    "message": ["channels:history", "groups:history"],
    "reaction_added": ["reactions:read"],
}
MESSAGE_EVENTS = {"message.channels", "message.groups"}


def bot_sources() -> str:
    return "\n".join(path.read_text() for path in sorted((ROOT / "bot").rglob("*.py")))


def test_every_web_api_call_is_known_and_its_scope_is_requested() -> None:
    called = set(re.findall(r"client\.([a-z]+_[A-Za-z_]+)\(", bot_sources()))
    assert called, "the bot calls the Web API"
    unknown = called - METHOD_SCOPES.keys()
    assert not unknown, f"add the scope for {unknown} to METHOD_SCOPES and the manifest"
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    for method in called:
        needed = METHOD_SCOPES[method]
        assert needed is None or needed in scopes, f"{method} needs {needed}"


def test_the_manifest_asks_for_nothing_the_code_does_not_use() -> None:
    source = bot_sources()
    called = set(re.findall(r"client\.([a-z]+_[A-Za-z_]+)\(", source))
    events = set(re.findall(r'@app\.event\("([a-z_]+)"\)', source))
    used = {METHOD_SCOPES[m] for m in called if METHOD_SCOPES.get(m)}
    used |= {scope for event in events for scope in EVENT_SCOPES[event]}
    if "@app.command(" in source:
        used.add("commands")
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == used


def test_events_interactivity_and_the_slash_command_match_the_listeners() -> None:
    source = bot_sources()
    events = set(re.findall(r'@app\.event\("([a-z_]+)"\)', source))
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    expected = {e for e in events if e != "message"} | (MESSAGE_EVENTS if "message" in events else set())
    assert subscribed == expected
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is ("@app.action(" in source)
    commands = set(re.findall(r'@app\.command\("(/[a-z]+)"\)', source))
    assert {c["command"] for c in MANIFEST["features"]["slash_commands"]} == commands
    urls = {
        MANIFEST["settings"]["event_subscriptions"]["request_url"],
        MANIFEST["settings"]["interactivity"]["request_url"],
    }
    assert {url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1] for url in urls} == {"slack/events"}
