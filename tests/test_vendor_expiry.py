"""Vendor access expires on time: granted through the graph (security approves), revoked by the sweep through
the executor, across a restart, once even with two sweepers, and never early."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import ONCALL, PLATFORM, SECURITY, STRANGER, FakeClock, Recorder, make_pipeline
from structured_runs import request_intent, start_with_intent

from runtime.audit_log import entries
from runtime.coordination import clear_paused, set_paused
from runtime.pipeline import Pipeline
from runtime.vendor_expiry import (
    RETRY_SECONDS,
    expiry_key,
    revoke_due,
    schedule_expiries,
    scheduled_revokes,
    start_periodic_sweeps,
)
from tools.base import AwsClients, ExecContext
from tools.vendor_access import GrantVendorAccessArgs, grant_vendor_access

THREAD = "slack-C0VENDORS-1700000000.000100"
CIDR = "203.0.113.0/24"


@pytest.fixture(autouse=True)
def _no_knowledge_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOT_EMBEDDING", "off")  # retrieval plays no part here


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The coordination store the replicas share: the SQLite file in the data dir, or Redis."""
    return str(request.getfixturevalue("redis_url")) if request.param == "redis" else None


@pytest.fixture
def endpoint(aws_endpoint: str, clients: AwsClients) -> tuple[str, AwsClients]:
    """moto, reset for the test, and the session's boto3 clients (a new session per replica is slow)."""
    return aws_endpoint, clients


def replica(
    data_dir: Path, endpoint: tuple[str, AwsClients], store_url: str | None
) -> tuple[Pipeline, FakeClock, Recorder]:
    clock, notifier = FakeClock(now=time.time()), Recorder()
    pipeline = make_pipeline(data_dir, endpoint[0], clock, store_url, notifier)
    pipeline.ctx = replace(pipeline.ctx, clients=endpoint[1])
    return pipeline, clock, notifier


def make_group(pipeline: Pipeline) -> str:
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_security_group(GroupName="db", Description="database", VpcId=vpc)["GroupId"])


def vendor_rules(pipeline: Pipeline, group_id: str) -> list[str]:
    """Descriptions of the group's ingress rules for the vendor's CIDR, read back from EC2."""
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return [str(r.get("Description", "")) for r in rules["SecurityGroupRules"] if r.get("CidrIpv4") == CIDR]


def revokes_in_audit(pipeline: Pipeline) -> list[dict[str, Any]]:
    actions = entries(pipeline.ctx.audit.path, thread_id=THREAD, kind="action")
    return [e["data"] for e in actions if e["data"]["action"] == "revoke_vendor_access"]


def grant_through_the_graph(pipeline: Pipeline, group_id: str, hours: int = 2) -> float:
    """On-call asks, security approves; the expiry (epoch seconds) that was scheduled."""
    params = {"vendor": "acme", "cidr": CIDR, "port": 5432, "security_group_id": group_id, "hours": hours}
    run = start_with_intent(
        pipeline, THREAD, request_intent("grant_vendor_access", params, ONCALL, [group_id, CIDR])
    )
    assert run.pending is not None
    assert run.pending["groups"] == ["security"]
    assert pipeline.vote(THREAD, STRANGER, approve=True).message.startswith("not authorised")
    assert pipeline.vote(THREAD, PLATFORM, approve=True).message.startswith("not authorised")
    vote = pipeline.vote(THREAD, SECURITY, approve=True)
    assert vote.run is not None
    assert vote.run.state["outcome"] == "executed", vote.run.state
    [scheduled] = scheduled_revokes(pipeline.ctx)
    return scheduled.expires_at


def test_a_grant_is_revoked_by_the_sweep_when_its_time_comes(
    tmp_path: Path, endpoint: tuple[str, AwsClients]
) -> None:
    pipeline, clock, notifier = replica(tmp_path, endpoint, None)
    group = make_group(pipeline)

    asked = time.time()
    expires_at = grant_through_the_graph(pipeline, group, hours=2)

    [description] = vendor_rules(pipeline, group)
    assert description.startswith("opsbot vendor acme until ")
    assert asked + 2 * 3600 - 1 <= expires_at <= time.time() + 2 * 3600  # the grant's own clock: wall time
    assert [e["data"]["action_id"] for e in entries(pipeline.ctx.audit.path, kind="vendor_expiry_scheduled")]

    clock.now = expires_at - 60  # a minute early: nothing happens
    assert revoke_due(pipeline) == []
    assert vendor_rules(pipeline, group) == [description]
    assert revokes_in_audit(pipeline) == []

    clock.now = expires_at + 1
    [outcome] = revoke_due(pipeline)

    assert outcome.status == "ok", outcome
    assert vendor_rules(pipeline, group) == []
    [revoked] = revokes_in_audit(pipeline)
    assert revoked["status"] == "ok"
    assert revoked["params"]["vendor"] == "acme"
    assert pipeline.ctx.store.get(expiry_key(outcome.grant_action_id)) is None
    said = [text for thread, text in notifier.posts if thread == THREAD and text.startswith("⌛")]
    assert len(said) == 1
    assert "acme's access to 203.0.113.0/24 on TCP 5432" in said[0]
    assert "no longer allows acme" in said[0]  # verified by reading the group back
    assert revoke_due(pipeline) == []  # once


def test_expiry_survives_a_restart(
    tmp_path: Path, endpoint: tuple[str, AwsClients], store_url: str | None
) -> None:
    first, _, _ = replica(tmp_path, endpoint, store_url)
    group = make_group(first)
    expires_at = grant_through_the_graph(first, group, hours=1)
    first.ctx.store.close()
    del first  # the process goes away

    second, clock, notifier = replica(tmp_path, endpoint, store_url)  # same data dir, same Redis
    clock.now = expires_at - 1
    assert revoke_due(second) == []
    assert len(vendor_rules(second, group)) == 1

    clock.now = expires_at
    [outcome] = revoke_due(second)

    assert outcome.status == "ok"
    assert vendor_rules(second, group) == []
    assert [r["status"] for r in revokes_in_audit(second)] == ["ok"]
    assert any(thread == THREAD and "expired" in text for thread, text in notifier.posts)


def grant_directly(pipeline: Pipeline, group_id: str, vendor: str, port: int) -> None:
    """A grant run by the tool and scheduled as the execute node would, without the approval round."""
    args = GrantVendorAccessArgs(vendor=vendor, cidr=CIDR, port=port, security_group_id=group_id, hours=1)
    record = grant_vendor_access.run(pipeline.ctx.clients, args, ExecContext(incident_id=THREAD))
    result = {
        "action": "grant_vendor_access",
        "status": "ok",
        "action_id": f"act-{vendor}{port}",
        "params": args.model_dump(),
        "record": record,
    }
    schedule_expiries(pipeline.ctx, THREAD, [result])


def test_two_sweepers_at_once_revoke_each_grant_once(
    tmp_path: Path, endpoint: tuple[str, AwsClients], store_url: str | None
) -> None:
    one, clock_one, _ = replica(tmp_path, endpoint, store_url)
    two, clock_two, _ = replica(tmp_path, endpoint, store_url)
    group = make_group(one)
    for vendor, port in (("acme", 5432), ("globex", 443), ("initech", 8443)):
        grant_directly(one, group, vendor, port)
    assert len(vendor_rules(one, group)) == 3
    due = max(grant.expires_at for grant in scheduled_revokes(one.ctx)) + 1
    clock_one.now = clock_two.now = due

    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def sweep(pipeline: Pipeline) -> None:
        start.wait()
        outcomes.extend(revoke_due(pipeline))

    sweepers = [threading.Thread(target=sweep, args=(p,)) for p in (one, two)]
    for sweeper in sweepers:
        sweeper.start()
    for sweeper in sweepers:
        sweeper.join(timeout=30)

    assert sorted(o.vendor for o in outcomes if o.status == "ok") == ["acme", "globex", "initech"]
    assert vendor_rules(one, group) == []
    assert len(revokes_in_audit(one)) == 3  # one revoke per grant, whichever replica ran it
    assert scheduled_revokes(one.ctx) == []


def test_a_paused_bot_revokes_after_resume_and_says_so_once(
    tmp_path: Path, endpoint: tuple[str, AwsClients]
) -> None:
    pipeline, clock, notifier = replica(tmp_path, endpoint, None)
    group = make_group(pipeline)
    grant_directly(pipeline, group, "acme", 5432)
    [grant] = scheduled_revokes(pipeline.ctx)
    set_paused(pipeline.ctx.store, SECURITY, clock.now, "maintenance")

    clock.now = grant.expires_at + 1
    [refused] = revoke_due(pipeline)

    assert refused.status == "refused"
    assert "automation is paused" in refused.detail
    assert len(vendor_rules(pipeline, group)) == 1
    assert revoke_due(pipeline) == []  # not retried at once, and not said again
    warnings = [text for _, text in notifier.posts if text.startswith("⚠️")]
    assert len(warnings) == 1
    assert "could not be revoked yet" in warnings[0]

    clear_paused(pipeline.ctx.store)
    clock.now += RETRY_SECONDS + 1
    [done] = revoke_due(pipeline)

    assert done.status == "ok"
    assert vendor_rules(pipeline, group) == []
    assert [r["status"] for r in revokes_in_audit(pipeline)] == ["refused", "ok"]


def test_the_periodic_sweeper_revokes_in_the_background(
    tmp_path: Path, endpoint: tuple[str, AwsClients]
) -> None:
    pipeline, clock, _ = replica(tmp_path, endpoint, None)
    group = make_group(pipeline)
    grant_directly(pipeline, group, "acme", 5432)
    clock.now = scheduled_revokes(pipeline.ctx)[0].expires_at + 1
    stop = threading.Event()

    sweeper = start_periodic_sweeps(pipeline, 0.05, stop)

    deadline = time.monotonic() + 15
    while vendor_rules(pipeline, group) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    sweeper.join(timeout=5)
    assert sweeper.daemon
    assert not sweeper.is_alive()
    assert vendor_rules(pipeline, group) == []
    assert len(revokes_in_audit(pipeline)) == 1


def test_every_worker_sweeps_vendor_access_between_polls(
    tmp_path: Path, endpoint: tuple[str, AwsClients]
) -> None:
    from bot.work_handlers import periodic_tasks

    pipeline, clock, _ = replica(tmp_path, endpoint, None)
    group = make_group(pipeline)
    grant_directly(pipeline, group, "acme", 5432)
    tasks = {run.__name__: run for _, run in periodic_tasks(pipeline, None)}

    tasks["revoke_expired_vendor_access"]()
    assert vendor_rules(pipeline, group) != []
    clock.now = scheduled_revokes(pipeline.ctx)[0].expires_at + 1
    tasks["revoke_expired_vendor_access"]()

    assert vendor_rules(pipeline, group) == []
    assert len(revokes_in_audit(pipeline)) == 1


def test_a_grant_removed_early_expires_quietly(tmp_path: Path, endpoint: tuple[str, AwsClients]) -> None:
    pipeline, clock, notifier = replica(tmp_path, endpoint, None)
    group = make_group(pipeline)
    grant_directly(pipeline, group, "acme", 5432)
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    ids = [r["SecurityGroupRuleId"] for r in rules["SecurityGroupRules"] if r.get("CidrIpv4") == CIDR]
    ec2.revoke_security_group_ingress(GroupId=group, SecurityGroupRuleIds=ids)  # someone removed it by hand

    clock.now = scheduled_revokes(pipeline.ctx)[0].expires_at
    [outcome] = revoke_due(pipeline)

    assert outcome.status == "ok"
    assert outcome.already_gone
    assert scheduled_revokes(pipeline.ctx) == []
    [said] = [text for _, text in notifier.posts if text.startswith("⌛")]
    assert "its rule was already gone" in said
