"""The Slack bot end to end: signed requests into the real Bolt app behind `opsbot serve`, a real
pipeline acting on moto's server, and a fake Slack Web API that records what the bot said."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pipeline_support import ONCALL, PLATFORM, PLATFORM_2, SECURITY, STRANGER, desired, group_ids
from slack_harness import ALERTS, INCIDENTS, OPS, SlackHarness
from slack_support import (
    event_body,
    fake_slack_fixture,  # noqa: F401 - the fake_slack fixture
)

from runtime.audit_log import entries

SECURITY_2 = "U0SECURITY2"


@pytest.fixture
def slack(tmp_path: Path, aws_endpoint: str, fake_slack, redis_url: str) -> Iterator[SlackHarness]:  # type: ignore[no-untyped-def]
    harness = SlackHarness(tmp_path, aws_endpoint, fake_slack, redis_url)
    try:
        yield harness
    finally:
        harness.close()


def executed(slack: SlackHarness, action: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    found = [e["data"] for e in entries(slack.pipeline.ctx.audit.path, kind="action")]
    return [d for d in found if d.get("status") == "ok" and (action is None or d.get("action") == action)]


# ----- signatures ----------------------------------------------------------------------------------


def test_forged_and_stale_signatures_get_401_and_nothing_runs(slack: SlackHarness) -> None:
    body = json.dumps({"type": "event_callback", "event_id": "EvForged", "event": {"type": "app_mention"}})
    forged = slack.post(
        body,
        {
            "Content-Type": "application/json",
            "X-Slack-Signature": "v0=" + "0" * 64,
            "X-Slack-Request-Timestamp": str(int(time.time())),
        },
    )
    stale = slack.signed(body, "application/json", ts=int(time.time()) - 6 * 60)
    unsigned = slack.post(body, {"Content-Type": "application/json"})
    assert (forged.status, stale.status, unsigned.status) == (401, 401, 401)
    time.sleep(0.2)
    assert slack.fake.calls_to("chat.postMessage") == []


def test_url_verification_answers_the_challenge(slack: SlackHarness) -> None:
    body = (Path(__file__).parent / "fixtures/slack/slack_url_verification.json").read_text()
    reply = slack.signed(body, "application/json")
    assert reply.status == 200
    assert json.loads(body)["challenge"] in reply.body


# ----- mentions ------------------------------------------------------------------------------------


def test_a_mention_is_acked_with_eyes_and_answered_in_its_thread(slack: SlackHarness) -> None:
    event = slack.mention("scale web-asg to 3", ONCALL)
    reaction = slack.fake.wait_for("reactions.add")[0]
    assert (reaction.params["name"], reaction.params["timestamp"]) == ("eyes", event["ts"])
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 3, what="the auto scale to run")
    replies = slack.fake.wait_for("chat.postMessage")
    assert all(call.params.get("thread_ts") == event["ts"] for call in replies)
    assert "scale_asg" in replies[0].params["text"]


def test_a_retried_event_is_handled_once(slack: SlackHarness) -> None:
    event = slack.mention("scale web-asg to 3", ONCALL)
    body = {
        "type": "event_callback",
        "event_id": f"Ev{slack._events:08d}",
        "event": event,
        "team_id": "T111",
        "api_app_id": "A111",
    }
    retry = slack.signed(
        json.dumps(body),
        "application/json",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status == 200
    slack.wait_until(lambda: len(executed(slack, "scale_asg")) == 1, what="one execution")
    time.sleep(0.3)
    assert len(slack.fake.calls_to("reactions.add")) == 1
    assert len(executed(slack, "scale_asg")) == 1


# ----- approvals -----------------------------------------------------------------------------------


def test_an_authorised_approval_executes_once_and_updates_the_message(slack: SlackHarness) -> None:
    event = slack.mention("scale web-asg to 6", ONCALL)
    value, message_ts, blocks = slack.approval_message()
    assert any("scale_asg" in json.dumps(block) for block in blocks)
    assert slack.click(PLATFORM, value, message_ts).status == 200
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 6, what="the approved scale")
    updates = slack.fake.wait_for("chat.update", 2)
    assert all(call.params["ts"] == message_ts for call in updates)
    final = json.dumps(updates[-1].params["blocks"])
    assert PLATFORM in final
    assert "opsbot_approve" not in final
    assert len(executed(slack, "scale_asg")) == 1
    assert all(
        call.params.get("thread_ts") in (None, event["ts"])
        for call in slack.fake.calls_to("chat.postMessage")
    )


def test_an_unauthorised_click_is_refused_privately_and_logged(slack: SlackHarness) -> None:
    slack.mention("scale web-asg to 6", ONCALL)
    value, message_ts, _ = slack.approval_message()
    slack.click(STRANGER, value, message_ts)
    ephemeral = slack.fake.wait_for("chat.postEphemeral")[0]
    assert ephemeral.params["user"] == STRANGER
    assert "not authorised" in ephemeral.params["text"]
    denied = list(entries(slack.pipeline.ctx.audit.path, kind="approval_denied"))
    assert denied
    assert denied[-1]["data"]["user"] == STRANGER
    assert desired(slack.pipeline, "web-asg") == 2
    assert executed(slack) == []
    assert slack.pipeline.pending(denied[-1]["thread_id"]) is not None


def test_two_person_rule_refuses_the_requester_and_needs_two_others(slack: SlackHarness) -> None:
    miner = slack.estate.miner_instance
    slack.mention(f"terminate {miner}", SECURITY)
    value, message_ts, _ = slack.approval_message()
    slack.click(SECURITY, value, message_ts)  # the requester
    assert "requester" in slack.fake.wait_for("chat.postEphemeral")[0].params["text"]
    slack.click(PLATFORM, value, message_ts)
    slack.wait_until(lambda: any("1 of 2" in t for t in slack.texts("chat.update")), what="1 of 2 shown")
    assert executed(slack) == []
    slack.click(PLATFORM, value, message_ts)  # the same person twice still counts once
    time.sleep(0.3)
    assert executed(slack) == []
    slack.click(SECURITY_2, value, message_ts)
    slack.wait_until(lambda: len(executed(slack, "terminate_instance")) == 1, what="termination")


def test_twenty_concurrent_clicks_give_one_execution(slack: SlackHarness) -> None:
    slack.mention("scale web-asg to 6", ONCALL)
    value, message_ts, _ = slack.approval_message()
    barrier = threading.Barrier(20)

    def click(index: int) -> None:
        barrier.wait()
        slack.click(PLATFORM if index % 2 else PLATFORM_2, value, message_ts)

    workers = [threading.Thread(target=click, args=(i,)) for i in range(20)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 6, what="the scale")
    time.sleep(0.5)
    assert len(executed(slack, "scale_asg")) == 1
    assert len([e for e in entries(slack.pipeline.ctx.audit.path, kind="action")]) == 1


def test_an_expired_approval_is_marked_and_never_executes(slack: SlackHarness) -> None:
    slack.mention("scale web-asg to 6", ONCALL)
    value, message_ts, _ = slack.approval_message()
    slack.clock.now += 2 * 3600
    assert slack.bridge.expire_due() == 1
    update = slack.fake.wait_for("chat.update")[-1]
    assert update.params["ts"] == message_ts
    assert "xpired" in update.params["text"]
    slack.click(PLATFORM, value, message_ts)
    slack.fake.wait_for("chat.postEphemeral")
    assert desired(slack.pipeline, "web-asg") == 2
    assert executed(slack) == []


def test_follow_ups_in_the_thread_approve_explain_and_roll_back(slack: SlackHarness) -> None:
    event = slack.mention("scale web-asg to 6", ONCALL)
    slack.approval_message()
    slack.thread_reply("why?", ONCALL, OPS, event["ts"])
    slack.wait_until(lambda: any("Decision: approval" in t for t in slack.texts()), what="the explanation")
    slack.thread_reply("approve", PLATFORM, OPS, event["ts"])
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 6, what="the approved scale")
    slack.mention("roll it back", PLATFORM, thread_ts=event["ts"])
    value, message_ts, _ = slack.approval_message(2)  # rolling back a scale needs the same approval
    slack.click(PLATFORM, value, message_ts)
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 2, what="the rollback")


def test_thumbs_and_feedback_are_stored_with_the_incident_and_a_postmortem_is_posted(
    slack: SlackHarness,
) -> None:
    event = slack.mention("scale web-asg to 3", ONCALL)
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 3, what="the auto scale")
    slack.wait_until(lambda: any("Outcome: executed" in t for t in slack.texts()), what="the summary")
    summary = next(
        c for c in slack.fake.calls_to("chat.postMessage") if "Outcome: executed" in c.params["text"]
    )
    slack.reaction("+1::skin-tone-3", PLATFORM, OPS, summary.response["ts"])
    slack.reaction("eyes", PLATFORM, OPS, summary.response["ts"])  # not a vote
    slack.thread_reply("feedback: right call, the queue drained", PLATFORM, OPS, event["ts"])
    slack.wait_until(lambda: any("Noted with the incident" in t for t in slack.texts()), what="the ack")
    memory = slack.pipeline.ctx.memory
    thread_id = f"slack-{OPS}-{event['ts']}"
    incident_id = memory.latest_run(thread_id)  # type: ignore[attr-defined]
    stored = memory.store.get_incident(incident_id)  # type: ignore[attr-defined]
    assert stored.metadata.get("thumbs_up") == 1
    assert "thumbs_down" not in stored.metadata
    assert "queue drained" in stored.metadata["feedback"]
    slack.mention("postmortem", ONCALL, thread_ts=event["ts"])
    slack.wait_until(lambda: any("# Post-mortem" in t for t in slack.texts()), what="the post-mortem")
    postmortem = next(t for t in slack.texts() if "# Post-mortem" in t)
    assert "scale_asg" in postmortem


def test_slack_requests_redelivered_to_another_worker_post_no_second_thread_or_approval(
    slack: SlackHarness,
) -> None:
    """A worker that finished a request but died before acknowledging it: the next one runs it again."""
    slack.mention("scale web-asg to 6", ONCALL)
    assert slack.command("scale web-asg to 7", ONCALL).status == 200
    assert slack.alert_post().status == 200
    slack.approval_message(2)
    slack.drain()

    def roots() -> list[str]:
        return [ts for call, ts in slack.posted() if call.params.get("thread_ts") is None]

    def approvals() -> int:
        return sum("opsbot_approval" in text for text in slack.texts())

    before = (roots(), approvals(), sorted(slack.pipeline.ctx.store.keys("pending:")))
    assert len(before[0]) == 2  # the command's thread and the incident's thread
    assert before[1] == 2
    for entry_id in slack.queue.entry_ids():
        item = slack.queue.item(entry_id)
        assert item is not None
        slack.workers.workers[0].handle(replace(item, deliveries=2))
    assert (roots(), approvals(), sorted(slack.pipeline.ctx.store.keys("pending:"))) == before
    value, message_ts, _ = slack.approval_message(2)
    slack.click(PLATFORM, value, message_ts)
    slack.wait_until(lambda: desired(slack.pipeline, "web-asg") == 7, what="the approved scale")
    slack.drain()
    assert len(executed(slack, "scale_asg")) == 1


# ----- pause / resume ------------------------------------------------------------------------------


def test_pause_is_announced_blocks_execution_and_only_authorised_people_may_resume(
    slack: SlackHarness,
) -> None:
    slack.mention("pause", STRANGER)
    slack.wait_until(lambda: any("may not pause" in t for t in slack.texts()), what="the refusal")
    slack.mention("pause", PLATFORM)
    slack.wait_until(
        lambda: any(
            c.params.get("thread_ts") is None and "PAUSED" in c.params["text"]
            for c in slack.fake.calls_to("chat.postMessage")
        ),
        what="the announcement in the channel",
    )
    slack.mention(f"isolate {slack.estate.miner_instance}", SECURITY)
    slack.wait_until(
        lambda: any("paused" in t.lower() and "isolate" in t for t in slack.texts()), what="reason"
    )
    assert executed(slack) == []
    assert group_ids(slack.pipeline, slack.estate.miner_instance) == [slack.estate.web_group_id]
    slack.mention("resume", STRANGER)
    slack.mention("resume", SECURITY)
    slack.wait_until(lambda: any("resumed" in t for t in slack.texts()), what="resume announced")


# ----- alerts --------------------------------------------------------------------------------------


def test_an_alert_post_opens_one_thread_and_fifty_repeats_keep_it_one(slack: SlackHarness) -> None:
    assert slack.alert_post().status == 200
    root = slack.fake.wait_for("chat.postMessage")[0]
    assert root.params["channel"] == INCIDENTS
    assert root.params.get("thread_ts") is None
    replies = [slack.alert_post() for _ in range(50)]
    assert {reply.status for reply in replies} == {200}
    time.sleep(1.0)
    roots = [c for c in slack.fake.calls_to("chat.postMessage") if c.params.get("thread_ts") is None]
    assert len(roots) == 1
    counters = [c for c in slack.fake.calls_to("chat.update") if c.params["channel"] == INCIDENTS]
    assert counters, "repeats update the root message's counter"
    incidents = [key for key in slack.pipeline.ctx.store.keys("incident:")]
    assert len(incidents) == 1


def test_posts_outside_alert_channels_and_human_messages_open_nothing(slack: SlackHarness) -> None:
    from slack_support import load_slack_fixture

    body = load_slack_fixture("slack_event_bot_message_alert_attachments")
    body["event"]["channel"] = OPS  # not an alert channel
    assert slack.signed(json.dumps(body), "application/json").status == 200
    human = load_slack_fixture("slack_event_message_channel")
    human["event"]["channel"] = ALERTS
    assert slack.signed(json.dumps(human), "application/json").status == 200
    time.sleep(0.5)
    assert slack.fake.calls_to("chat.postMessage") == []


# ----- status --------------------------------------------------------------------------------------


def test_status_shows_incidents_pending_approvals_pause_budgets_and_alarms(slack: SlackHarness) -> None:
    slack.alert_post()
    root = slack.fake.wait_for("chat.postMessage")[0]
    slack.mention("scale web-asg to 6", ONCALL)
    slack.approval_message()
    reply = slack.command("status", ONCALL)
    assert reply.status == 200
    status = slack.fake.wait_for("chat.postEphemeral")[0]
    shown = json.dumps(status.params["blocks"])
    assert "scale web-asg to 6" in shown  # the pending approval
    assert "running" in shown.lower()  # pause state
    assert "isolate_instance" in shown  # a rate budget
    link = f"/archives/{INCIDENTS}/p{root.response['ts'].replace('.', '')}"
    assert link in shown  # the open incident, linked to its thread
    assert "Example" in shown  # the incident's title (the alarm name in the fixture)
    slack.mention("status", ONCALL)
    slack.wait_until(lambda: sum("Pending" in t or "pending" in t for t in slack.texts()) >= 1, what="status")


# ----- failures ------------------------------------------------------------------------------------


def test_with_redis_stopped_nothing_runs_people_are_told_once_and_slacks_retry_runs_once_redis_is_back(
    tmp_path: Path,
    aws_endpoint: str,
    fake_slack,  # type: ignore[no-untyped-def]
) -> None:
    from http_support import post_json_reply
    from pipeline_support import crypto_event

    harness = SlackHarness(tmp_path, aws_endpoint, fake_slack)  # with a redis-server of its own
    assert harness.redis is not None
    try:
        harness.redis.stop()
        body = event_body(
            "slack_event_app_mention",
            event_id="EvRedisDown1",
            text="<@U0OPSBOT> scale web-asg to 3",
            channel=OPS,
            ts=f"{time.time():.6f}",
            user=ONCALL,
        )
        first = harness.signed(json.dumps(body), "application/json")
        retry = harness.signed(json.dumps(body), "application/json", **{"X-Slack-Retry-Num": "1"})
        assert first.status >= 500
        assert retry.status >= 500  # Slack keeps the event and retries it
        told = fake_slack.wait_for("chat.postMessage")
        assert len(told) == 1  # once, not once per retry
        assert told[0].params["thread_ts"] == body["event"]["ts"]
        assert (
            told[0].params["text"]
            == "I can't reach my coordination store, so I am failing closed: nothing ran."
        )
        click = harness.click(PLATFORM, '{"thread_id":"inc-x","run_id":"run-x"}', "1800000000.000100")
        assert click.status >= 500
        ephemeral = fake_slack.wait_for("chat.postEphemeral")[0]
        assert (ephemeral.params["user"], ephemeral.params["text"]) == (PLATFORM, told[0].params["text"])
        status, reply = post_json_reply(
            f"{harness.url}/events",
            json.dumps(crypto_event(harness.estate.miner_instance)).encode(),
            {"X-Opsbot-Token": "events-token"},
        )
        assert status == 503
        assert "retry later" in reply["error"]
        assert desired(harness.pipeline, "web-asg") == 2
        assert group_ids(harness.pipeline, harness.estate.miner_instance) == [harness.estate.web_group_id]

        harness.redis.start()
        again = harness.signed(json.dumps(body), "application/json", **{"X-Slack-Retry-Num": "2"})
        assert again.status == 200
        harness.wait_until(
            lambda: desired(harness.pipeline, "web-asg") == 3, what="the retried request to run"
        )
        late = harness.signed(json.dumps(body), "application/json", **{"X-Slack-Retry-Num": "3"})
        assert late.status == 200  # a repeat of an event that was queued: dropped
        harness.drain()
        assert len(executed(harness, "scale_asg")) == 1
        assert len(fake_slack.calls_to("reactions.add")) == 1
    finally:
        harness.close()
