"""The review runner: one run per review and period across replicas (Redis lock), delivery to Slack
(the fake Web API) and SES (moto), audit entries, retries, the scheduler thread and the CLI."""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack
from review_estate import REGION
from slack_support import fake_slack_fixture  # noqa: F401
from test_review_rendering import assert_within_block_kit_limits

from bot.web_client import make_web_client
from cli.review_cmd import add_review_command
from policies.engine import load_prices
from runtime.audit_log import AuditLog
from runtime.config import Settings
from runtime.reviews.delivery import slack_poster
from runtime.reviews.runner import ReviewRuntime, run_due_reviews, start_review_scheduler
from runtime.reviews.schedule import ScheduleError
from runtime.store import RedisStore
from tools.base import AwsClients

CHANNEL = "C0REPORTS"
SENDER = "opsbot-reports@example.com"
RECIPIENTS = ["sre@example.com", "netops@example.com"]
ONLY_DAILY = "daily_compliance=daily 00:00; weekly_capacity=off; monthly_cost=off"


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "aws_region": REGION,
        "reports_channel": CHANNEL,
        "ses_sender": SENDER,
        "report_emails_csv": ",".join(RECIPIENTS),
        "review_schedule": ONLY_DAILY,
    }
    return Settings(**(values | overrides))


def open_ssh_group(clients: AwsClients) -> str:
    ec2 = clients.client("ec2", REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    group_id = str(ec2.create_security_group(GroupName="ssh", Description="ssh", VpcId=vpc_id)["GroupId"])
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    return group_id


def verify_sender(clients: AwsClients) -> None:
    clients.client("ses", REGION).verify_email_identity(EmailAddress=SENDER)


def sent_emails(aws_endpoint: str) -> list[dict[str, Any]]:
    """The messages moto's SES holds (its data API: slow once EC2 holds data, so used once per test)."""
    data = json.loads(urllib.request.urlopen(f"{aws_endpoint}/moto-api/data.json", timeout=10).read())
    messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
    return messages


def emails_sent(clients: AwsClients) -> int:
    """Emails sent so far, from SES's send statistics (one delivery attempt per recipient)."""
    points = clients.client("ses", REGION).get_send_statistics()["SendDataPoints"]
    attempts = sum(int(point["DeliveryAttempts"]) for point in points)
    assert attempts % len(RECIPIENTS) == 0
    return attempts // len(RECIPIENTS)


def runtime_for(
    clients: AwsClients, store: RedisStore, tmp_path: Path, fake_slack: FakeSlack, **settings: Any
) -> ReviewRuntime:
    post = slack_poster(make_web_client("xoxb-reviews-test", fake_slack.url))
    return ReviewRuntime(
        clients,
        store,
        AuditLog(tmp_path / "audit.jsonl"),
        load_prices(),
        settings_for(tmp_path, **settings),
        post,
    )


def review_entries(tmp_path: Path) -> list[dict[str, Any]]:
    return [entry["data"] for entry in AuditLog(tmp_path / "audit.jsonl").entries(kind="review")]


def block_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks)


def test_a_due_review_is_posted_emailed_and_audited_once(
    aws_endpoint: str, clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    group_id = open_ssh_group(clients)
    verify_sender(clients)
    runtime = runtime_for(clients, RedisStore(redis_url), tmp_path, fake_slack)
    now = time.time()

    runs = run_due_reviews(runtime, now)

    assert [(run.name, run.status) for run in runs] == [("daily_compliance", "ok")]
    posts = fake_slack.calls_to("chat.postMessage")
    assert len(posts) == 1
    assert posts[0].params["channel"] == CHANNEL
    assert str(posts[0].params["text"]).startswith("Daily compliance review")
    assert_within_block_kit_limits(posts[0].params["blocks"])
    assert f"`{group_id}`" in block_text(posts[0].params["blocks"])

    emails = sent_emails(aws_endpoint)
    assert len(emails) == 1
    assert emails[0]["source"] == SENDER
    assert emails[0]["destinations"]["ToAddresses"] == RECIPIENTS
    assert emails[0]["subject"].startswith("opsbot: Daily compliance review, ")
    assert group_id in emails[0]["body"]
    assert "- Admin-port rules open to the internet: 1" in emails[0]["body"]

    [entry] = review_entries(tmp_path)
    assert entry["status"] == "ok"
    assert entry["review"] == "daily_compliance"
    assert entry["posted_to"] == CHANNEL
    assert entry["emailed_to"] == RECIPIENTS
    assert entry["ses_message_id"] == emails[0]["id"]
    assert entry["totals"]["open_admin_rules"] == 1

    assert run_due_reviews(runtime, now + 60) == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert emails_sent(clients) == 1


def test_two_replicas_at_once_deliver_once_and_a_restart_does_nothing(
    aws_endpoint: str, clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    open_ssh_group(clients)
    verify_sender(clients)
    replicas = [runtime_for(clients, RedisStore(redis_url), tmp_path, fake_slack) for _ in range(2)]
    now = time.time()
    start = threading.Barrier(len(replicas))
    results: list[int] = []

    def tick(runtime: ReviewRuntime) -> None:
        start.wait(timeout=5)
        results.append(len(run_due_reviews(runtime, now)))

    threads = [threading.Thread(target=tick, args=(runtime,)) for runtime in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [0, 1]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert emails_sent(clients) == 1

    restarted = runtime_for(clients, RedisStore(redis_url), tmp_path, fake_slack)
    assert run_due_reviews(restarted, now + 3600) == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1

    next_day = run_due_reviews(restarted, now + 86400)
    assert [run.status for run in next_day] == ["ok"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 2
    assert len(review_entries(tmp_path)) == 2


def test_an_unverified_sender_still_posts_and_is_not_retried(
    aws_endpoint: str, clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    runtime = runtime_for(clients, RedisStore(redis_url), tmp_path, fake_slack)
    now = time.time()

    [run] = run_due_reviews(runtime, now)

    assert run.status == "partial"
    assert run.delivery is not None
    assert run.delivery.posted_to == CHANNEL
    assert run.delivery.emailed_to == ()
    assert "SES" in run.delivery.errors[0]
    assert emails_sent(clients) == 0
    [entry] = review_entries(tmp_path)
    assert entry["status"] == "partial"
    assert "SES" in entry["errors"][0]
    assert run_due_reviews(runtime, now + 60) == []  # no second post to the channel
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_run_that_cannot_read_aws_is_retried_once_its_lock_expires(
    aws_endpoint: str, clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    store = RedisStore(redis_url)
    unreachable = AwsClients(endpoint_url=f"http://127.0.0.1:{closed_port()}", max_attempts=1)
    unreachable.client("ec2", REGION)  # build the client (reads botocore's models) before the clock starts
    down = runtime_for(unreachable, store, tmp_path, fake_slack)
    down = ReviewRuntime(
        down.clients, down.store, down.audit, down.prices, down.settings, down.post, run_lock_seconds=1.0
    )
    now = time.time()
    claimed = time.monotonic()

    [failed] = run_due_reviews(down, now)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "Could not reach AWS" in failed.error
    assert run_due_reviews(down, now + 1) == []  # another replica holds the run lock meanwhile
    assert fake_slack.calls_to("chat.postMessage") == []

    time.sleep(max(0.0, claimed + 1.1 - time.monotonic()))
    up = runtime_for(clients, store, tmp_path, fake_slack)
    verify_sender(clients)
    assert [run.status for run in run_due_reviews(up, now + 2)] == ["ok"]
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert [entry["status"] for entry in review_entries(tmp_path)] == ["failed", "ok"]


def test_nothing_runs_without_a_destination(
    aws_endpoint: str, clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    runtime = runtime_for(
        clients, RedisStore(redis_url), tmp_path, fake_slack, reports_channel=None, ses_sender=None
    )
    assert run_due_reviews(runtime, time.time()) == []
    assert fake_slack.calls_to("chat.postMessage") == []
    assert review_entries(tmp_path) == []


def test_the_scheduler_thread_delivers_once_and_stops(
    aws_endpoint: str, clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    verify_sender(clients)
    runtime = runtime_for(clients, RedisStore(redis_url), tmp_path, fake_slack)
    stop = threading.Event()

    thread = start_review_scheduler(runtime, interval_seconds=0.05, stop=stop)

    assert thread.daemon
    fake_slack.wait_for("chat.postMessage", count=1, timeout=10)
    time.sleep(0.3)  # several more ticks
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert emails_sent(clients) == 1


def test_a_bad_schedule_fails_at_startup(
    clients: AwsClients, redis_url: str, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    runtime = runtime_for(
        clients, RedisStore(redis_url), tmp_path, fake_slack, review_schedule="daily_compliance=daily 25:00"
    )
    with pytest.raises(ScheduleError, match="'25:00' is not a time of day"):
        start_review_scheduler(runtime)


# ------------------------------------------------------------------------------------ CLI


def review_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="opsbot")
    add_review_command(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["review", *argv])


def test_cli_prints_the_report_and_delivers_on_request(
    aws_endpoint: str,
    clients: AwsClients,
    fake_slack: FakeSlack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    group_id = open_ssh_group(clients)
    verify_sender(clients)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    monkeypatch.setenv("OPSBOT_DATA_DIR", str(tmp_path))
    args = review_args("daily_compliance")

    assert args.run(args, Settings()) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Daily compliance review: ")
    assert group_id in printed
    assert fake_slack.calls_to("chat.postMessage") == []
    assert review_entries(tmp_path) == []

    args = review_args("daily_compliance", "--email")
    with pytest.raises(ValueError, match="--email needs OPSBOT_SES_SENDER"):
        args.run(args, Settings())

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-reviews-test")
    monkeypatch.setenv("SLACK_API_URL", fake_slack.url)
    monkeypatch.setenv("OPSBOT_REPORTS_CHANNEL", CHANNEL)
    monkeypatch.setenv("OPSBOT_SES_SENDER", SENDER)
    monkeypatch.setenv("OPSBOT_REPORT_EMAILS", ",".join(RECIPIENTS))
    args = review_args("weekly_capacity", "--post", "--email")
    assert args.run(args, Settings()) == 0
    printed = capsys.readouterr().out
    assert "No Auto Scaling groups." in printed
    assert f"posted to {CHANNEL}" in printed
    assert len(fake_slack.calls_to("chat.postMessage")) == 1
    assert emails_sent(clients) == 1
    [entry] = review_entries(tmp_path)
    assert (entry["review"], entry["trigger"], entry["status"]) == ("weekly_capacity", "cli", "ok")
