"""Plans follow the best retrieved runbook when the intent allows it, and cite it; retrieval is real
(ChromaDB on disk, the shipped runbooks ingested on first use)."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_support import ONCALL, crypto_event, make_estate, make_pipeline

from bot.blocks import approval_blocks
from graph.models import AlertFacts, Intent, PlanStep
from graph.planning import allowed_steps, describe_step
from graph.render import summary
from graph.runbook_steps import best_runbook, follow


def hit(runbook_id: str, score: float, actions: str, alert_types: str = "") -> dict:  # type: ignore[type-arg]
    return {
        "id": runbook_id,
        "title": runbook_id,
        "score": score,
        "metadata": {"actions": actions, "alert_types": alert_types},
    }


def isolate_intent(**alert: object) -> Intent:
    facts = AlertFacts(kind="guardduty", fingerprint="f", title="t", **alert) if alert else None  # type: ignore[arg-type]
    return Intent(
        action="isolate_instance",
        params={"instance_id": "i-0123456789abcdef0", "region": "us-east-1"},
        source="alert" if facts else "request",
        alert=facts,
    )


def test_the_best_applicable_runbook_is_chosen_and_weak_or_unrelated_ones_are_not() -> None:
    intent = isolate_intent(finding_type="CryptoCurrency:EC2/BitcoinTool.B!DNS")
    weak = hit("rb-weak", 0.1, "isolate_instance")
    unrelated = hit("rb-disk", 0.9, "restart_service", "disk_used_percent")
    by_type = hit("rb-crypto", 0.6, "", "CryptoCurrency:EC2/BitcoinTool.B!DNS")
    assert best_runbook(intent, {"runbooks": [weak, unrelated, by_type]})["id"] == "rb-crypto"  # type: ignore[index]
    assert best_runbook(intent, {"runbooks": [weak, unrelated]}) is None
    assert best_runbook(isolate_intent(), {"runbooks": [hit("rb-iso", 0.5, "isolate_instance")]}) is not None


def test_following_orders_steps_adds_only_allowed_ones_and_cites_the_runbook() -> None:
    params = {"instance_id": "i-0123456789abcdef0", "region": "us-east-1"}
    steps = [describe_step("isolate_instance", params, "isolate")]
    runbook = hit("rb-crypto", 0.7, "snapshot_instance,isolate_instance,terminate_instance")
    followed = follow(steps, runbook, allowed_steps("isolate_instance"), describe_step)
    assert [s.action for s in followed] == ["snapshot_instance", "isolate_instance"]  # never terminate
    assert all("(runbook rb-crypto)" in s.why for s in followed)
    assert followed[0].params == params
    untouched = follow(
        [PlanStep(action="block_ip", params={"cidr": "203.0.113.9/32"})],
        runbook,
        allowed_steps("block_ip"),
        describe_step,
    )
    assert [s.action for s in untouched] == ["block_ip"]


def test_a_real_alert_retrieves_the_crypto_runbook_and_the_plan_and_approval_cite_it(
    tmp_path: Path, aws_endpoint: str
) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    estate = make_estate(pipeline)
    result = pipeline.start(
        "inc-crypto", {"event": crypto_event(estate.miner_instance), "requester": "aws:events"}
    )
    runbooks = result.state["retrieved"]["runbooks"]
    assert runbooks[0]["id"] == "rb-guardduty-crypto-mining"
    assert result.state["context"]["runbook"]["id"] == "rb-guardduty-crypto-mining"
    assert [s["action"] for s in result.state["plan"]] == ["snapshot_instance", "isolate_instance"]
    assert all("rb-guardduty-crypto-mining" in s["why"] for s in result.state["plan"])
    assert (tmp_path / "knowledge").is_dir()  # the store is on disk in the data dir
    assert "Runbook followed: GuardDuty crypto-mining" in summary(result.state)
    unrelated = pipeline.start("t-scale", {"text": "scale web-asg to 6", "requester": ONCALL})
    assert "rb-guardduty-crypto-mining" not in json.dumps(unrelated.state["retrieved"])


def test_an_approval_message_names_the_runbook_it_relied_on(tmp_path: Path, aws_endpoint: str) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint)
    estate = make_estate(pipeline)
    event = crypto_event(estate.miner_instance)
    event["detail"]["severity"] = 5  # medium: the policy wants a person before isolating
    result = pipeline.start("inc-medium", {"event": event, "requester": "aws:events"})
    assert result.pending is not None, result.state["decision"]
    runbook = result.state["retrieved"]["runbooks"][0]
    assert runbook["id"] == "rb-guardduty-crypto-mining"
    shown = json.dumps(approval_blocks(result.pending))
    assert "Runbook" in shown
    assert runbook["title"] in shown
