"""PagerDuty Events API v2 against a local stand-in: the exact body, retries, failures that never break a run,
one page per incident, and regional_failover's emergency approval (paged, marked, incident commander only)."""

from __future__ import annotations

import copy
import json
import socket
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import load_fixture
from fake_pagerduty import (
    ROUTING_KEY,
    FakePagerDuty,
    fake_pagerduty_fixture,  # noqa: F401 - the fake_pagerduty fixture
    unreachable_url,
)
from pipeline_support import (
    ONCALL,
    SECURITY,
    STRANGER,
    FakeClock,
    Recorder,
    crypto_event,
    executions,
    make_estate,
    make_pipeline,
)
from pydantic import SecretStr
from structured_runs import request_intent, start_with_intent

from bot.approval_blocks import approval_blocks, decided_blocks
from bot.threads import SlackPlace, SlackThreads
from graph.parsing import parse_event
from runtime.audit_log import entries
from runtime.incidents import thread_for
from runtime.pagerduty import NoPager, PageEvent, PagerDutyPager, pager_from_settings
from runtime.pipeline import Pipeline
from tools.base import AwsClients

INCIDENT_COMMANDER = "U0INCIDENT1"  # in the shipped policy's incident-commander group


@pytest.fixture(autouse=True)
def _no_knowledge_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOT_EMBEDDING", "off")


def quick_pager(url: str, sleeps: list[float] | None = None, **options: Any) -> PagerDutyPager:
    record = sleeps if sleeps is not None else []
    return PagerDutyPager(
        routing_key=SecretStr(ROUTING_KEY), url=url, backoff_seconds=0.01, sleep=record.append, **options
    )


TRIGGER = PageEvent(
    action="trigger",
    dedup_key="inc-0123456789abcdef",
    summary="guardduty severity 8: EC2 instance is querying a domain name associated with Bitcoin",
    severity="critical",
    component="i-99999999",
    group="us-east-1",
    event_class="CryptoCurrency:EC2/BitcoinTool.B!DNS",
    custom_details={
        "thread_id": "inc-0123456789abcdef",
        "slack_token": "xoxb-1-2-abc",
        "note": "AKIAABCDEFGHIJKLMNOP",
    },
    links=(("https://slack.com/archives/C0INC/p1700000000000100", "Slack thread"),),
)


# --- the client ---------------------------------------------------------------------------------------


def test_a_trigger_is_the_exact_events_v2_body(fake_pagerduty: FakePagerDuty) -> None:
    outcome = quick_pager(fake_pagerduty.url).send(TRIGGER)

    assert outcome.sent
    assert (outcome.status, outcome.attempts, outcome.dedup_key) == (202, 1, "inc-0123456789abcdef")
    [request] = fake_pagerduty.requests
    assert request.path == "/v2/enqueue"
    assert request.headers["content-type"] == "application/json"
    assert request.body == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "inc-0123456789abcdef",
        "payload": {
            "summary": "guardduty severity 8: EC2 instance is querying a domain name associated with Bitcoin",
            "source": "opsbot",
            "severity": "critical",
            "component": "i-99999999",
            "group": "us-east-1",
            "class": "CryptoCurrency:EC2/BitcoinTool.B!DNS",
            "custom_details": {
                "thread_id": "inc-0123456789abcdef",
                "slack_token": "[redacted]",  # no secret reaches PagerDuty
                "note": "AKIA[redacted]",
            },
        },
        "client": "opsbot",
        "links": [{"href": "https://slack.com/archives/C0INC/p1700000000000100", "text": "Slack thread"}],
    }


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_carry_only_the_key(fake_pagerduty: FakePagerDuty, action: Any) -> None:
    assert quick_pager(fake_pagerduty.url).send(PageEvent(action=action, dedup_key="inc-1")).sent
    assert fake_pagerduty.requests[0].body == {
        "routing_key": ROUTING_KEY,
        "event_action": action,
        "dedup_key": "inc-1",
    }


def test_429_and_500_are_retried_with_a_growing_backoff(fake_pagerduty: FakePagerDuty) -> None:
    fake_pagerduty.fail(429, 500)
    sleeps: list[float] = []

    outcome = quick_pager(fake_pagerduty.url, sleeps).send(TRIGGER)

    assert outcome.sent
    assert outcome.attempts == 3
    assert [r.status for r in fake_pagerduty.requests] == [429, 500, 202]
    assert sleeps == [0.01, 0.02]
    assert len({json.dumps(r.body, sort_keys=True) for r in fake_pagerduty.requests}) == 1  # the same event


def test_retry_after_is_honoured(fake_pagerduty: FakePagerDuty) -> None:
    fake_pagerduty.fail(429, retry_after="2")
    sleeps: list[float] = []
    assert quick_pager(fake_pagerduty.url, sleeps).send(TRIGGER).sent
    assert sleeps == [2.0]


def test_retries_give_up_with_a_clear_error(fake_pagerduty: FakePagerDuty) -> None:
    fake_pagerduty.fail(503, 503, 503, 503)
    outcome = quick_pager(fake_pagerduty.url).send(TRIGGER)
    assert not outcome.sent
    assert (outcome.attempts, outcome.status) == (3, 503)
    assert outcome.error == "PagerDuty answered HTTP 503: Internal server error"
    assert len(fake_pagerduty.requests) == 3


def test_a_refused_event_is_not_retried_and_says_why(fake_pagerduty: FakePagerDuty) -> None:
    pager = PagerDutyPager(routing_key=SecretStr("too-short"), url=fake_pagerduty.url, sleep=lambda _: None)
    outcome = pager.send(TRIGGER)
    assert not outcome.sent
    assert outcome.status == 400
    assert outcome.error == (
        "PagerDuty answered HTTP 400: Event object is invalid "
        "(Length of 'routing_key' is incorrect (should be 32 characters))"
    )
    assert len(fake_pagerduty.requests) == 1


def test_a_down_or_silent_server_never_raises() -> None:
    refused = quick_pager(unreachable_url()).send(TRIGGER)
    assert not refused.sent
    assert refused.attempts == 3
    assert refused.error.startswith("PagerDuty could not be reached:")

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v2/enqueue"
        started = time.monotonic()
        timed_out = quick_pager(url, attempts=1, timeout_seconds=0.3).send(TRIGGER)
    assert not timed_out.sent
    assert "could not be reached" in timed_out.error
    assert time.monotonic() - started < 5


def test_the_pager_comes_from_settings() -> None:
    assert isinstance(pager_from_settings(None, "https://events.pagerduty.com/v2/enqueue"), NoPager)
    assert isinstance(pager_from_settings(SecretStr(" "), "https://events.pagerduty.com/v2/enqueue"), NoPager)
    pager = pager_from_settings(SecretStr(ROUTING_KEY), "https://events.eu.pagerduty.com/v2/enqueue")
    assert isinstance(pager, PagerDutyPager)
    assert pager.url == "https://events.eu.pagerduty.com/v2/enqueue"
    with pytest.raises(ValueError, match="must be an http"):
        pager_from_settings(SecretStr(ROUTING_KEY), "file:///etc/passwd")
    assert not NoPager().send(TRIGGER).sent


# --- critical alerts ------------------------------------------------------------------------------------


@pytest.fixture
def endpoint(aws_endpoint: str, clients: AwsClients) -> tuple[str, AwsClients]:
    """moto, reset for the test, and the session's boto3 clients (a new session per pipeline is slow)."""
    return aws_endpoint, clients


def paging_pipeline(
    tmp_path: Path,
    endpoint: tuple[str, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    at_severity: float = 8.0,
) -> Pipeline:
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("OPSBOT_PAGERDUTY_URL", url)
    monkeypatch.setenv("OPSBOT_PAGE_AT_SEVERITY", str(at_severity))
    pipeline = make_pipeline(tmp_path, endpoint[0], FakeClock(now=time.time()), notifier=Recorder())
    assert isinstance(pipeline.ctx.pager, PagerDutyPager)  # wired from settings
    assert pipeline.ctx.pager.url == url
    quicker = replace(pipeline.ctx.pager, backoff_seconds=0.01)
    pipeline.ctx = replace(pipeline.ctx, pager=quicker, clients=endpoint[1])
    return pipeline


def pages(pipeline: Pipeline) -> list[dict[str, Any]]:
    return [e["data"] for e in entries(pipeline.ctx.audit.path, kind="page")]


def test_a_critical_alert_pages_once_per_incident(
    tmp_path: Path,
    endpoint: tuple[str, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    fake_pagerduty: FakePagerDuty,
) -> None:
    pipeline = paging_pipeline(tmp_path, endpoint, monkeypatch, fake_pagerduty.url)
    event = crypto_event("i-0123456789abcdef0")  # severity 8; the instance is not there, so nothing executes
    thread_id = thread_for(parse_event(event).fingerprint)
    SlackThreads(pipeline.ctx.store).bind(thread_id, SlackPlace("C0INCIDENTS", "1700000000.000100"))

    pipeline.start(thread_id, {"event": event, "requester": "integration:guardduty"})
    pipeline.start(thread_id, {"event": event, "requester": "integration:guardduty"})  # the alert again

    [sent] = fake_pagerduty.accepted
    assert sent["event_action"] == "trigger"
    assert sent["dedup_key"] == thread_id
    assert sent["payload"]["severity"] == "critical"
    assert sent["payload"]["summary"].startswith("guardduty severity 8: ")
    assert sent["payload"]["class"] == "CryptoCurrency:EC2/BitcoinTool.B!DNS"
    assert sent["payload"]["component"] == "i-0123456789abcdef0"
    assert sent["payload"]["custom_details"]["resources"][0] == "i-0123456789abcdef0"
    assert sent["payload"]["custom_details"]["decision"] == "reject"
    assert sent["links"] == [
        {"href": "https://slack.com/archives/C0INCIDENTS/p1700000000000100", "text": "Slack thread"}
    ]
    [page] = pages(pipeline)
    assert (page["reason"], page["sent"], page["dedup_key"]) == ("critical_alert", True, thread_id)
    assert ROUTING_KEY not in pipeline.ctx.audit.path.read_text()


def test_an_alert_below_the_threshold_does_not_page(
    tmp_path: Path,
    endpoint: tuple[str, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    fake_pagerduty: FakePagerDuty,
) -> None:
    pipeline = paging_pipeline(tmp_path, endpoint, monkeypatch, fake_pagerduty.url, at_severity=9)
    pipeline.start("inc-below", {"event": crypto_event("i-0123456789abcdef0"), "requester": "integration:gd"})
    assert fake_pagerduty.requests == []
    assert pages(pipeline) == []


def test_a_resolved_alarm_resolves_its_page(
    tmp_path: Path,
    endpoint: tuple[str, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    fake_pagerduty: FakePagerDuty,
) -> None:
    pipeline = paging_pipeline(tmp_path, endpoint, monkeypatch, fake_pagerduty.url, at_severity=7)
    alarm = load_fixture("aws/cloudwatch_alarm_state_change_metric.json")
    assert alarm["detail"]["state"]["value"] == "ALARM"
    ok = copy.deepcopy(alarm)
    ok["detail"]["state"]["value"] = "OK"
    thread_id = thread_for(parse_event(alarm).fingerprint)

    pipeline.start(thread_id, {"event": alarm, "requester": "integration:cloudwatch"})
    pipeline.start(thread_id, {"event": ok, "requester": "integration:cloudwatch"})
    pipeline.start(thread_id, {"event": ok, "requester": "integration:cloudwatch"})  # resolves once

    assert [(b["event_action"], b["dedup_key"]) for b in fake_pagerduty.accepted] == [
        ("trigger", thread_id),
        ("resolve", thread_id),
    ]
    assert [p["reason"] for p in pages(pipeline)] == ["critical_alert", "alert_resolved"]


def test_pagerduty_down_never_breaks_the_run(
    tmp_path: Path, endpoint: tuple[str, AwsClients], monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = paging_pipeline(tmp_path, endpoint, monkeypatch, unreachable_url())
    estate = make_estate(pipeline)

    run = pipeline.start(
        "inc-down", {"event": crypto_event(estate.miner_instance), "requester": "integration:gd"}
    )

    assert run.state["outcome"] == "executed"
    assert [e["action"] for e in executions(pipeline, "inc-down")] == [
        "snapshot_instance",
        "isolate_instance",
    ]
    [page] = pages(pipeline)
    assert page["sent"] is False
    assert page["attempts"] == 3
    assert page["error"].startswith("PagerDuty could not be reached")


# --- regional_failover: an emergency approval ----------------------------------------------------------


def make_zone(pipeline: Pipeline) -> str:
    route53 = pipeline.ctx.clients.client("route53", "us-east-1")
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="pd-test")["HostedZone"]["Id"]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": "api.example.com",
                "Type": "A",
                "SetIdentifier": region,
                "Weight": weight,
                "TTL": 60,
                "ResourceRecords": [{"Value": address}],
            },
        }
        for region, weight, address in (("us-east-1", 100, "192.0.2.10"), ("us-west-2", 0, "198.51.100.10"))
    ]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    return str(zone).removeprefix("/hostedzone/")


def weights(pipeline: Pipeline, zone: str) -> dict[str, int]:
    route53 = pipeline.ctx.clients.client("route53", "us-east-1")
    sets = route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return {s["SetIdentifier"]: int(s["Weight"]) for s in sets if "Weight" in s}


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_a_failover_pages_is_an_emergency_and_only_an_incident_commander_approves(
    tmp_path: Path,
    endpoint: tuple[str, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    fake_pagerduty: FakePagerDuty,
) -> None:
    pipeline = paging_pipeline(tmp_path, endpoint, monkeypatch, fake_pagerduty.url)
    zone = make_zone(pipeline)
    thread_id = "slack-C0OPS-1700000000.000200"
    SlackThreads(pipeline.ctx.store).bind(thread_id, SlackPlace("C0OPS", "1700000000.000200"))
    params = {
        "from_region": "us-east-1",
        "to_region": "us-west-2",
        "hosted_zone_id": zone,
        "record_name": "api.example.com",
    }

    run = start_with_intent(
        pipeline, thread_id, request_intent("regional_failover", params, ONCALL, [zone, "api.example.com"])
    )

    assert run.pending is not None
    assert run.pending["groups"] == ["incident-commander"]
    assert run.pending["emergency"] is True
    assert pipeline.pending(thread_id) == run.pending  # what a click is checked against
    header = approval_blocks(run.pending)[0]
    assert header["type"] == "header"
    assert header["text"]["text"] == "🚨 Emergency approval needed: regional_failover"
    assert "🚨 Emergency approval needed" in texts(
        decided_blocks(run.pending, "partial", [INCIDENT_COMMANDER])
    )
    [sent] = fake_pagerduty.accepted
    assert sent["dedup_key"] == thread_id
    assert sent["payload"]["severity"] == "critical"
    assert sent["payload"]["summary"] == (
        f"Emergency approval needed from incident-commander: regional_failover (from_region=us-east-1, "
        f"to_region=us-west-2, hosted_zone_id={zone}, record_name=api.example.com)"
    )
    assert sent["payload"]["custom_details"]["approvers"] == ["incident-commander"]
    assert sent["payload"]["custom_details"]["requester"] == ONCALL
    assert sent["links"] == [
        {"href": "https://slack.com/archives/C0OPS/p1700000000000200", "text": "Slack thread"}
    ]
    assert weights(pipeline, zone) == {"us-east-1": 100, "us-west-2": 0}  # nothing before the approval

    for outsider in (STRANGER, SECURITY, ONCALL):
        vote = pipeline.vote(thread_id, outsider, approve=True)
        assert not vote.accepted
        assert vote.message == "not authorised: approval needs a member of incident-commander"
    assert weights(pipeline, zone) == {"us-east-1": 100, "us-west-2": 0}

    vote = pipeline.vote(thread_id, INCIDENT_COMMANDER, approve=True)

    assert vote.accepted
    assert vote.run is not None
    assert vote.run.state["outcome"] == "executed"
    assert weights(pipeline, zone) == {"us-east-1": 0, "us-west-2": 100}
    # resuming the run does not page again; the decision acknowledges the page
    assert [(b["event_action"], b["dedup_key"]) for b in fake_pagerduty.accepted] == [
        ("trigger", thread_id),
        ("acknowledge", thread_id),
    ]
    assert [p["reason"] for p in pages(pipeline)] == ["emergency_approval", "approval_approved"]


def test_an_ordinary_approval_neither_pages_nor_says_emergency(
    tmp_path: Path,
    endpoint: tuple[str, AwsClients],
    monkeypatch: pytest.MonkeyPatch,
    fake_pagerduty: FakePagerDuty,
) -> None:
    pipeline = paging_pipeline(tmp_path, endpoint, monkeypatch, fake_pagerduty.url)
    run = pipeline.start("slack-C0OPS-1", {"text": "block 198.51.100.7", "requester": ONCALL})
    assert run.pending is not None
    assert "emergency" not in run.pending
    assert approval_blocks(run.pending)[0]["text"]["text"].startswith("🔐 Approval needed")
    assert fake_pagerduty.requests == []
