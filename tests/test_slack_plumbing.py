"""The Slack plumbing: the fake Web API, the WebClient we build, Bolt on top, and the text limits."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
from typing import Any

import pytest
from fake_slack import FakeSlack
from slack_bolt import App, BoltResponse, Say
from slack_bolt.request import BoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_support import (
    event_body,
    fake_slack_fixture,  # noqa: F401 - provides the fake_slack fixture
    load_slack_fixture,
    sign,
    signed_json,
)

from bot import slack_text
from bot.slack_text import clip_blocks, escape, split_text, truncate
from bot.web_client import DEFAULT_BASE_URL, make_web_client

SECRET = "test-signing-secret"
TOKEN = "xoxb-opsbot-test"


# -- request signing and fixtures --------------------------------------------------------------------


def test_sign_reproduces_slacks_documented_signature() -> None:
    vector = load_slack_fixture("slack_signed_request_docs_vector")
    timestamp = int(vector["headers"]["X-Slack-Request-Timestamp"])

    headers = sign(vector["signing_secret"], vector["body"], timestamp)

    assert headers == {
        "X-Slack-Signature": vector["headers"]["X-Slack-Signature"],
        "X-Slack-Request-Timestamp": vector["headers"]["X-Slack-Request-Timestamp"],
    }


def test_sign_defaults_to_now_and_slack_sdk_accepts_it() -> None:
    body = json.dumps(event_body("slack_event_app_mention"))
    headers = sign(SECRET, body)

    assert abs(int(headers["X-Slack-Request-Timestamp"]) - time.time()) < 5
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    assert not SignatureVerifier("another-secret").is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )


def test_event_body_overrides_fields_and_returns_independent_copies() -> None:
    original = load_slack_fixture("slack_event_app_mention.json")

    first = event_body(
        "slack_event_app_mention",
        event_id="Ev0001",
        text="<@U0OPSBOT> isolate i-0abc",
        channel="C0OPS",
        ts="1700000001.000100",
        user="U0ALICE",
    )
    second = event_body("slack_event_app_mention")
    first["event"]["type"] = "changed"

    assert first["event_id"] == "Ev0001"
    assert first["event"]["text"] == "<@U0OPSBOT> isolate i-0abc"
    assert first["event"]["channel"] == "C0OPS"
    assert first["event"]["ts"] == first["event"]["event_ts"] == "1700000001.000100"
    assert first["event"]["user"] == "U0ALICE"
    assert second == original, "overrides and edits must not leak into later bodies"


def test_event_body_keeps_rich_text_blocks_in_step_with_the_text() -> None:
    body = event_body("slack_event_message_channel", text="<@U0OPSBOT> status please")

    section = body["event"]["blocks"][0]["elements"][0]
    assert section["elements"] == [
        {"type": "user", "user_id": "U0OPSBOT"},
        {"type": "text", "text": " status please"},
    ]


def test_event_body_refuses_a_fixture_without_an_event() -> None:
    with pytest.raises(ValueError, match="not an Events API body"):
        event_body("slack_block_actions_button")


# -- the fake Web API through the real WebClient -----------------------------------------------------


def test_auth_test_and_post_message_answer_like_slack(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]

    auth = client.auth_test()
    first = client.chat_postMessage(channel="C0OPS", text="hello", blocks=blocks, thread_ts="1.000001")
    second = client.chat_postMessage(channel="C0OPS", text="again")

    assert (auth["user_id"], auth["bot_id"], auth["team_id"], auth["user"]) == (
        "U0OPSBOT",
        "B0OPSBOT",
        "T111",
        "opsbot",
    )
    assert first["channel"] == "C0OPS"
    assert first["message"]["text"] == "hello"
    assert first["message"]["blocks"] == blocks
    assert first["message"]["thread_ts"] == "1.000001"
    assert first["ts"] == "1700000000.000100"
    assert float(second["ts"]) > float(first["ts"])
    call = fake_slack.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == blocks
    assert call.token == TOKEN
    assert call.response["ts"] == first["ts"], "each call records the answer it got"
    assert [c.method for c in fake_slack.calls] == ["auth.test", "chat.postMessage", "chat.postMessage"]


def test_form_encoded_json_params_and_query_params_are_decoded(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    attachments = [{"fallback": "alarm", "color": "danger", "fields": [{"title": "a", "value": "b"}]}]

    client.api_call(
        "chat.postMessage", data={"channel": "C0OPS", "text": "x", "attachments": json.dumps(attachments)}
    )
    client.users_info(user="U0ALICE")

    posted = fake_slack.calls_to("chat.postMessage")[0]
    assert posted.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert posted.params["attachments"] == attachments
    assert fake_slack.calls_to("users.info")[0].params == {"user": "U0ALICE"}


def test_post_message_is_checked_like_slack_checks_it(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)

    with pytest.raises(SlackApiError) as no_text:
        client.api_call("chat.postMessage", json={"channel": "C0OPS"})
    with pytest.raises(SlackApiError) as no_channel:
        client.chat_postMessage(channel="", text="hi")

    assert no_text.value.response["error"] == "no_text"
    assert no_channel.value.response["error"] == "channel_not_found"


def test_timestamps_stay_unique_under_concurrent_posts(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    stamps: list[str] = []
    lock = threading.Lock()

    def post() -> None:
        for _ in range(10):
            ts = client.chat_postMessage(channel="C0OPS", text="x")["ts"]
            with lock:
                stamps.append(ts)

    workers = [threading.Thread(target=post) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(set(stamps)) == 40
    assert len(fake_slack.calls_to("chat.postMessage")) == 40


def test_other_methods_answer_in_slacks_shapes(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)

    update = client.chat_update(channel="C0OPS", ts="1700000000.000100", text="edited")
    ephemeral = client.chat_postEphemeral(channel="C0OPS", user="U0ALICE", text="only you")
    client.reactions_add(channel="C0OPS", timestamp="1700000000.000100", name="eyes")
    with pytest.raises(SlackApiError) as again:
        client.reactions_add(channel="C0OPS", timestamp="1700000000.000100", name="eyes")
    link = client.chat_getPermalink(channel="C0OPS", message_ts="1700000000.000100")
    channel = client.conversations_info(channel="C0OPS")
    fake_slack.users["U0ALICE"] = {"real_name": "Alice Ops"}
    user = client.users_info(user="U0ALICE")
    anything = client.api_call("pins.add", data={"channel": "C0OPS"})

    assert (update["ts"], update["message"]["text"]) == ("1700000000.000100", "edited")
    assert ephemeral["message_ts"]
    assert again.value.response["error"] == "already_reacted"
    assert link["permalink"].endswith("/archives/C0OPS/p1700000000000100")
    assert channel["channel"]["id"] == "C0OPS"
    assert channel["channel"]["is_channel"] is True
    assert user["user"]["id"] == "U0ALICE"
    assert user["user"]["real_name"] == "Alice Ops"
    assert anything["ok"] is True
    assert fake_slack.calls_to("pins.add")[0].params == {"channel": "C0OPS"}


def test_usergroups_are_configurable_and_unknown_ones_fail(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    fake_slack.usergroups = {"S0SECURITY": ["U1", "U2"], "S0NET": ["U3"]}
    fake_slack.usergroup_handles = {"S0NET": "network-oncall"}

    members = client.usergroups_users_list(usergroup="S0SECURITY")
    listing = client.usergroups_list(include_users=True)
    with pytest.raises(SlackApiError) as unknown:
        client.usergroups_users_list(usergroup="S0NOBODY")

    assert members["users"] == ["U1", "U2"]
    handles = {group["handle"]: (group["id"], group["users"]) for group in listing["usergroups"]}
    assert handles == {"security": ("S0SECURITY", ["U1", "U2"]), "network-oncall": ("S0NET", ["U3"])}
    assert unknown.value.response["error"] == "no_such_subteam"


def test_scripted_error_fails_once_then_recovers(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    fake_slack.fail("chat.postMessage", error="channel_not_found")

    with pytest.raises(SlackApiError) as failed:
        client.chat_postMessage(channel="C0GONE", text="x")
    recovered = client.chat_postMessage(channel="C0GONE", text="x")

    assert failed.value.response["error"] == "channel_not_found"
    assert recovered["ok"] is True
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_fail_needs_a_failure_to_script(fake_slack: FakeSlack) -> None:
    with pytest.raises(ValueError, match="non-200 status or an error"):
        fake_slack.fail("chat.postMessage")


def test_wait_for_sees_calls_from_background_threads_and_times_out_clearly(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)

    def later() -> None:
        time.sleep(0.1)
        client.reactions_add(channel="C0OPS", timestamp="1.2", name="eyes")

    threading.Thread(target=later, daemon=True).start()

    calls = fake_slack.wait_for("reactions.add", timeout=5)
    assert calls[0].params["name"] == "eyes"
    with pytest.raises(AssertionError, match=r"expected 2 call\(s\) to reactions.add.*reactions.add"):
        fake_slack.wait_for("reactions.add", count=2, timeout=0.2)


def test_reset_forgets_calls_and_failures(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    client.auth_test()
    fake_slack.fail("auth.test", error="invalid_auth", times=None)

    fake_slack.reset()

    assert fake_slack.calls == []
    assert client.auth_test()["ok"] is True


def test_response_url_posts_are_recorded(fake_slack: FakeSlack) -> None:
    from slack_sdk.webhook import WebhookClient

    response = WebhookClient(fake_slack.response_url("approval")).send(text="approved", replace_original=True)

    assert (response.status_code, response.body) == (200, "ok")
    assert fake_slack.calls_to("response_url/approval")[0].params["text"] == "approved"


def test_a_stopped_fake_refuses_connections() -> None:
    fake = FakeSlack()
    client = make_web_client(TOKEN, fake.url, max_retries=0)
    assert client.auth_test()["ok"] is True

    fake.stop()
    fake.stop()  # idempotent

    with pytest.raises(urllib.error.URLError):
        client.auth_test()


# -- make_web_client retries ---------------------------------------------------------------------------


def test_rate_limit_is_retried_after_retry_after(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    fake_slack.fail("chat.postMessage", status=429, retry_after=1, times=1)

    started = time.monotonic()
    response = client.chat_postMessage(channel="C0OPS", text="hello")
    elapsed = time.monotonic() - started

    assert response["ok"] is True
    assert [call.status for call in fake_slack.calls_to("chat.postMessage")] == [429, 200]
    assert elapsed >= 1.0


def test_rate_limit_without_retries_raises(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url, max_retries=0)
    fake_slack.fail("chat.postMessage", status=429, retry_after=1)

    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C0OPS", text="hello")

    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_server_error_is_retried(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    fake_slack.fail("chat.update", status=500, times=1)

    response = client.chat_update(channel="C0OPS", ts="1.2", text="x")

    assert response["ok"] is True
    assert len(fake_slack.calls_to("chat.update")) == 2


def test_server_errors_stop_after_max_retries(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url, max_retries=1)
    fake_slack.fail("chat.update", status=503, times=None)

    with pytest.raises(SlackApiError) as failed:
        client.chat_update(channel="C0OPS", ts="1.2", text="x")

    assert failed.value.response.status_code == 503
    assert len(fake_slack.calls_to("chat.update")) == 2


def test_ok_false_raises_slack_api_error_without_retrying(fake_slack: FakeSlack) -> None:
    client = make_web_client(TOKEN, fake_slack.url)
    fake_slack.fail("reactions.add", error="not_in_channel", times=None)

    with pytest.raises(SlackApiError) as failed:
        client.reactions_add(channel="C0OPS", timestamp="1.2", name="eyes")

    assert failed.value.response["error"] == "not_in_channel"
    assert len(fake_slack.calls_to("reactions.add")) == 1


def test_default_base_url_is_slacks() -> None:
    assert make_web_client(None, None).base_url == DEFAULT_BASE_URL == "https://slack.com/api/"
    assert make_web_client("xoxb-1", "").base_url == DEFAULT_BASE_URL
    with pytest.raises(ValueError, match="max_retries"):
        make_web_client(None, None, max_retries=-1)


# -- Bolt on the fake ---------------------------------------------------------------------------------


def bolt_app(fake: FakeSlack) -> App:
    return App(
        client=make_web_client(TOKEN, fake.url),
        signing_secret=SECRET,
        token_verification_enabled=False,
    )


def dispatch(app: App, payload: dict[str, Any], secret: str = SECRET) -> BoltResponse:
    body, headers = signed_json(secret, payload)
    return app.dispatch(BoltRequest(body=body, headers=headers))


def test_bolt_app_answers_auth_test_through_the_fake_and_replies(fake_slack: FakeSlack) -> None:
    app = bolt_app(fake_slack)

    @app.event("app_mention")
    def reply(event: dict[str, Any], say: Say) -> None:
        say(text=f"heard: {event['text']}", thread_ts=event["ts"])

    response = dispatch(app, event_body("slack_event_app_mention", text="<@U0OPSBOT> status"))

    assert response.status == 200
    posted = fake_slack.wait_for("chat.postMessage")[0]
    assert posted.params["text"] == "heard: <@U0OPSBOT> status"
    assert posted.params["channel"] == "C111"
    assert posted.params["thread_ts"] == "1595926230.009600"
    assert fake_slack.calls_to("auth.test"), "Bolt authorizes with auth.test before the listener runs"


def test_bolt_rejects_a_request_signed_with_another_secret(fake_slack: FakeSlack) -> None:
    app = bolt_app(fake_slack)

    @app.event("app_mention")
    def reply(say: Say) -> None:
        say(text="should not happen")

    response = dispatch(app, event_body("slack_event_app_mention"), secret="not-the-secret")

    assert response.status == 401
    time.sleep(0.2)
    assert fake_slack.calls_to("chat.postMessage") == []


# -- text limits --------------------------------------------------------------------------------------

WORDS = ["alarm", "i-0abc123", "ok", "CPUUtilization", "<@U1>", "&", "x" * 40, "sg-123", "🔥", "a<b"]


def random_text(rng: random.Random, *, fences: bool) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 400)):
        roll = rng.random()
        if fences and roll < 0.03:
            parts.append("\n```\n")
        elif roll < 0.08:
            parts.append("\n\n")
        elif roll < 0.18:
            parts.append("\n")
        elif roll < 0.2:
            parts.append("y" * rng.randint(50, 300))  # a word longer than small limits
        else:
            parts.append(rng.choice(WORDS) + " ")
    return "".join(parts)


def squash(text: str) -> str:
    return "".join(text.replace("```", "").split())


def test_split_text_keeps_every_chunk_within_the_limit_and_loses_nothing() -> None:
    rng = random.Random(20240611)
    for _ in range(300):
        text = random_text(rng, fences=False)
        limit = rng.choice([16, 40, 100, 500, 3900])

        chunks = split_text(text, limit)

        assert all(0 < len(chunk) <= limit for chunk in chunks), (limit, text)
        assert squash("".join(chunks)) == squash(text), (limit, text)


def test_split_text_closes_and_reopens_code_blocks() -> None:
    rng = random.Random(7)
    for _ in range(300):
        text = random_text(rng, fences=True)
        if text.count("```") % 2:
            text += "\n```"
        limit = rng.choice([20, 60, 200, 1000])

        chunks = split_text(text, limit)

        assert all(0 < len(chunk) <= limit for chunk in chunks), (limit, text)
        assert all(chunk.count("```") % 2 == 0 for chunk in chunks), (limit, text, chunks)
        assert squash("".join(chunks)) == squash(text), (limit, text)


def test_split_text_prefers_paragraphs_then_lines_then_words() -> None:
    paragraph = "word " * 30  # 150 characters
    text = f"{paragraph.strip()}\n\n{paragraph.strip()}"
    assert split_text(text, 200) == [paragraph.strip(), paragraph.strip()]

    lines = "\n".join(["line of text"] * 10)  # 129 characters
    assert split_text(lines, 70) == ["\n".join(["line of text"] * 5)] * 2

    words = " ".join(["word"] * 40)  # 199 characters
    chunks = split_text(words, 50)
    assert all(chunk.startswith("word") and chunk.endswith("word") for chunk in chunks)


def test_split_text_a_code_block_split_in_the_middle() -> None:
    code = "\n".join(f"line {n}" for n in range(40))
    text = f"Output:\n```\n{code}\n```\nDone."

    chunks = split_text(text, 120)

    assert len(chunks) > 2
    assert chunks[0].startswith("Output:\n```\nline 0")
    assert chunks[0].endswith("\n```")
    assert all(chunk.startswith("```\n") for chunk in chunks[1:-1])
    assert chunks[-1].endswith("Done.")
    assert "".join(chunks).count("line ") == 40


def test_split_text_edge_cases() -> None:
    assert split_text("") == []
    assert split_text("  \n\n ") == []
    assert split_text("short") == ["short"]
    assert split_text("y" * 100, 30) == ["y" * 30, "y" * 30, "y" * 30, "y" * 10]
    with pytest.raises(ValueError, match="at least 16"):
        split_text("text", 10)


def test_split_text_does_not_cut_a_link_or_mention() -> None:
    link = "<https://console.aws.amazon.com/ec2/home?region=us-east-1#Instances:|the instance i-0abc>"
    text = "see " * 5 + link + " now"

    chunks = split_text(text, 120)

    assert any(link in chunk for chunk in chunks), chunks


def test_truncate_respects_the_limit_and_marks_the_cut() -> None:
    rng = random.Random(99)
    for _ in range(300):
        text = random_text(rng, fences=True)
        limit = rng.randint(1, 400)

        result = truncate(text, limit)

        assert len(result) <= limit
        if len(text) <= limit:
            assert result == text
        else:
            assert result.endswith("…")
            assert squash(text).startswith(squash(result[:-1])), (limit, text, result)


def test_truncate_keeps_entities_whole_and_closes_code() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("hello world", 8) == "hello w…"
    assert truncate("abc <@U0ALICE> done", 10) == "abc…"
    assert truncate("a &amp; b", 4) == "a…"
    code = truncate("```\n" + "x" * 100 + "\n```", 30)
    assert len(code) <= 30
    assert code.endswith("\n```\n…")
    assert code.count("```") == 2
    with pytest.raises(ValueError, match="at least 1"):
        truncate("x", 0)


def test_escape_neutralises_mentions_and_links() -> None:
    hostile = "<!channel> see <https://evil.example|aws console> & <@U0ADMIN>"

    escaped = escape(hostile)

    assert "<" not in escaped
    assert ">" not in escaped
    assert escaped == ("&lt;!channel&gt; see &lt;https://evil.example|aws console&gt; &amp; &lt;@U0ADMIN&gt;")
    assert escape("&lt;") == "&amp;lt;", "already-escaped text is shown literally, not decoded"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def test_clip_blocks_clips_each_text_to_its_block_limit() -> None:
    long = "z" * 5000
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": long}},
        section(long),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": long}] * 12},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": long}] * 11},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": long},
                    "value": "run-1",
                    "confirm": {
                        "title": {"type": "plain_text", "text": long},
                        "text": {"type": "mrkdwn", "text": long},
                        "confirm": {"type": "plain_text", "text": long},
                        "deny": {"type": "plain_text", "text": long},
                    },
                }
            ]
            * 30,
        },
        {"type": "markdown", "text": "m" * 20_000},
    ]

    header, body, fields, context, actions, markdown = clip_blocks(blocks)

    assert len(header["text"]["text"]) == slack_text.HEADER_TEXT_MAX
    assert len(body["text"]["text"]) == slack_text.SECTION_TEXT_MAX
    assert len(fields["fields"]) == slack_text.SECTION_FIELDS_MAX
    assert fields["fields"][-1]["text"] == "… 3 more not shown"
    assert all(len(f["text"]) <= slack_text.SECTION_FIELD_TEXT_MAX for f in fields["fields"])
    assert len(context["elements"]) == slack_text.CONTEXT_ELEMENTS_MAX
    assert context["elements"][-1]["text"] == "… 2 more not shown"
    assert all(len(e["text"]) <= slack_text.TEXT_OBJECT_MAX for e in context["elements"])
    assert len(actions["elements"]) == slack_text.ACTIONS_ELEMENTS_MAX
    button = actions["elements"][0]
    assert len(button["text"]["text"]) == slack_text.BUTTON_TEXT_MAX
    assert button["text"]["text"].endswith("…")
    assert button["value"] == "run-1"
    assert len(button["confirm"]["title"]["text"]) == slack_text.CONFIRM_TITLE_MAX
    assert len(button["confirm"]["text"]["text"]) == slack_text.CONFIRM_TEXT_MAX
    assert len(button["confirm"]["deny"]["text"]) == slack_text.CONFIRM_BUTTON_MAX
    assert len(markdown["text"]) == slack_text.MARKDOWN_BLOCK_TEXT_MAX
    assert blocks[1]["text"]["text"] == long, "the input is not modified"


def test_clip_blocks_keeps_fifty_blocks_and_says_how_many_were_dropped() -> None:
    blocks = [section(f"block {n}") for n in range(120)]

    clipped = clip_blocks(blocks)

    assert len(clipped) == slack_text.BLOCKS_PER_MESSAGE_MAX
    assert clipped[48] == section("block 48")
    assert clipped[-1] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "… 71 more not shown"}]}
    assert clip_blocks(blocks[:50]) == blocks[:50]


def test_clip_blocks_refuses_a_button_value_slack_would_reject() -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Approve"}, "value": "v" * 2001}

    with pytest.raises(ValueError, match="2001 characters and Slack allows 2000"):
        clip_blocks([{"type": "actions", "elements": [button]}])
