"""The three scheduled reviews against a seeded moto estate: every count, id and saving must match it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from review_estate import (
    GROUP_TYPE,
    GROUPS,
    REGION,
    CapacityCostEstate,
    ComplianceEstate,
    reset_moto,
    seed_capacity_and_cost,
    seed_compliance,
)

from graph.parsing.text import parse_request
from policies.engine import PriceTable, load_prices
from runtime.audit_log import AuditLog
from runtime.reviews.capacity import weekly_capacity
from runtime.reviews.capacity_rule import recommend
from runtime.reviews.compliance import daily_compliance
from runtime.reviews.cost import monthly_cost
from runtime.reviews.cpu import CpuStats
from runtime.reviews.report import Report
from tools.base import AwsClients


@pytest.fixture
def prices() -> PriceTable:
    return load_prices()


@dataclass(frozen=True)
class Seeded:
    """One estate, seeded once per module, and the reports run on it (reports are plain data)."""

    now: float
    compliance_estate: ComplianceEstate
    compliance: Report
    estate: CapacityCostEstate
    capacity: Report
    cost: Report


@pytest.fixture(scope="module")
def seeded(moto_server: str, clients: AwsClients, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    now = time.time()
    prices = load_prices()
    audit_path = tmp_path_factory.mktemp("reviews") / "audit.jsonl"
    with pytest.MonkeyPatch.context() as patch:  # the autouse credentials fixture is per test
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        reset_moto(moto_server)
        compliance_estate = seed_compliance(clients, audit_path, now)
        compliance = daily_compliance(clients, [REGION], AuditLog(audit_path), now)
        reset_moto(moto_server)
        estate = seed_capacity_and_cost(clients, now)
        capacity = weekly_capacity(clients, [REGION], prices, now)
        cost = monthly_cost(clients, [REGION], prices, now)
        reset_moto(moto_server)
    return Seeded(now, compliance_estate, compliance, estate, capacity, cost)


@pytest.fixture
def compliance(seeded: Seeded) -> tuple[ComplianceEstate, Report]:
    return seeded.compliance_estate, seeded.compliance


def month(prices: PriceTable, instance_type: str, count: int = 1) -> float:
    return round(prices.hourly[instance_type] * prices.hours_per_month * count, 2)


# ------------------------------------------------------------------------------------ compliance


def test_compliance_finds_each_admin_port_open_to_the_internet(
    compliance: tuple[ComplianceEstate, Report],
) -> None:
    estate, report = compliance
    section = report.section("open_admin_ports")
    found = {row.resource: (row.facts["ports"], row.facts["source"]) for row in section.rows}
    assert found == estate.open_rules
    assert estate.safe_group not in found
    assert report.total("open_admin_rules") == 4
    assert report.total("open_admin_groups") == 4
    exposures = {row.cells[1]: row.cells[3] for row in section.rows}
    assert exposures == {
        "bastion-ssh": "tcp 22 (SSH)",
        "windows-rdp": "tcp 3389 (RDP)",
        "debug-all": "all traffic",
        "legacy-range": "tcp 20-25: 22 (SSH), 23 (Telnet)",
    }


def test_compliance_lists_unencrypted_volumes_only(compliance: tuple[ComplianceEstate, Report]) -> None:
    estate, report = compliance
    section = report.section("unencrypted_volumes")
    assert section.resources() == estate.unencrypted_volumes
    assert estate.encrypted_volume not in section.resources()
    assert sorted(int(row.facts["size_gib"]) for row in section.rows) == [20, 500]
    assert report.total("unencrypted_volumes") == 2


def test_compliance_judges_buckets_by_acl_policy_and_public_access_block(
    compliance: tuple[ComplianceEstate, Report],
) -> None:
    estate, report = compliance
    rows = {
        row.resource: (row.facts["public"], row.facts["block"])
        for row in report.section("public_buckets").rows
    }
    assert rows == estate.bucket_rows
    assert not set(estate.hidden_buckets) & set(rows)
    assert report.total("public_buckets") == 2
    assert report.total("buckets_without_block") == 3


def test_compliance_lists_open_high_severity_findings_from_security_hub(
    compliance: tuple[ComplianceEstate, Report],
) -> None:
    estate, report = compliance
    section = report.section("high_findings")
    assert sorted(section.resources()) == sorted(estate.open_findings)
    assert {row.facts["severity"] for row in section.rows} == {"HIGH", "CRITICAL"}
    assert all(row.cells[0] == "CloudTrail.2" for row in section.rows)
    assert report.total("high_findings") == 2


def test_compliance_lists_only_executed_changes_of_the_last_day(
    compliance: tuple[ComplianceEstate, Report],
) -> None:
    estate, report = compliance
    section = report.section("opsbot_changes")
    assert section.resources() == estate.recent_changes
    assert [row.facts["action"] for row in section.rows] == ["scale_asg", "isolate_instance"]
    assert report.total("opsbot_changes") == 2


def test_compliance_with_nothing_wrong_says_so(
    aws_endpoint: str, clients: AwsClients, tmp_path: Path
) -> None:
    report = daily_compliance(clients, [REGION], AuditLog(tmp_path / "audit.jsonl"), time.time())
    assert all(total.value == 0 for total in report.totals)
    assert all(not section.rows for section in report.sections)


# ------------------------------------------------------------------------------------ capacity


def test_capacity_recommends_per_group_from_the_weeks_cpu(seeded: Seeded, prices: PriceTable) -> None:
    report = seeded.capacity
    rows = {row.resource: row for row in report.section("groups").rows}
    assert sorted(rows) == sorted(group.name for group in GROUPS)
    for group in GROUPS:
        facts = rows[group.name].facts
        assert (facts["desired"], facts["min"], facts["max"]) == (
            group.desired,
            group.min_size,
            group.max_size,
        )
        if group.week_cpu:  # only the last 7 days count: web-asg's older 35% sample is left out
            assert facts["cpu_avg"] == round(sum(group.week_cpu) / len(group.week_cpu), 2)
            assert facts["cpu_max"] == max(group.week_cpu)
            assert facts["samples"] == len(group.week_cpu)
    verdicts = {name: (row.facts["verdict"], row.facts["suggested"]) for name, row in rows.items()}
    assert verdicts == {
        "web-asg": ("scale in", 2),
        "api-asg": ("scale out", 3),
        "batch-asg": ("hold", 2),
        "tiny-asg": ("hold", 1),
        "new-asg": ("no data", 1),
    }
    assert rows["web-asg"].facts["monthly_change_usd"] == -month(prices, GROUP_TYPE, 2)
    assert rows["api-asg"].facts["monthly_change_usd"] == month(prices, GROUP_TYPE, 1)
    assert report.requests() == [
        "@opsbot scale api-asg to 3 in us-east-1",
        "@opsbot scale web-asg to 2 in us-east-1",
    ]
    assert report.summary() == {
        "groups": 5,
        "scale_in": 1,
        "scale_out": 1,
        "hold": 2,
        "no_data": 1,
        "monthly_cost_change": round(month(prices, GROUP_TYPE, 1) - month(prices, GROUP_TYPE, 2), 2),
    }


@pytest.mark.parametrize(
    ("desired", "low", "high", "cpu", "expected"),
    [
        (4, 1, 10, CpuStats(10.0, 39.9, 5), ("scale in", 2)),
        (4, 1, 10, CpuStats(10.0, 40.0, 5), ("hold", 4)),  # a 40% peak is not under 40%
        (5, 1, 10, CpuStats(19.9, 20.0, 5), ("scale in", 3)),  # halving rounds up
        (4, 3, 10, CpuStats(5.0, 10.0, 5), ("scale in", 3)),  # bounded by min
        (2, 2, 10, CpuStats(5.0, 10.0, 5), ("hold", 2)),
        (4, 1, 10, CpuStats(70.0, 99.0, 5), ("hold", 4)),  # 70% is not over 70%
        (4, 1, 10, CpuStats(70.1, 99.0, 5), ("scale out", 6)),
        (3, 1, 10, CpuStats(90.0, 99.0, 5), ("scale out", 5)),  # +50% rounds up
        (4, 1, 5, CpuStats(90.0, 99.0, 5), ("scale out", 5)),  # bounded by max
        (5, 1, 5, CpuStats(90.0, 99.0, 5), ("hold", 5)),
        (0, 0, 5, CpuStats(90.0, 99.0, 5), ("hold", 0)),
        (3, 1, 5, None, ("no data", 3)),
    ],
)
def test_capacity_rule_edges(
    desired: int, low: int, high: int, cpu: CpuStats | None, expected: tuple[str, int]
) -> None:
    advice = recommend(desired, low, high, cpu)
    assert (advice.verdict, advice.suggested) == expected


# ------------------------------------------------------------------------------------ cost


def test_cost_finds_idle_instances_and_prices_them(seeded: Seeded, prices: PriceTable) -> None:
    estate = seeded.estate
    report = seeded.cost
    section = report.section("idle_instances")
    ids = estate.instances
    assert section.resources() == sorted([ids["idle-reporting"], ids["legacy-ftp"]])
    savings = {row.resource: row.saving_usd for row in section.rows}
    assert savings == {ids["idle-reporting"]: month(prices, "t3.large"), ids["legacy-ftp"]: None}
    assert section.saving_usd == month(prices, "t3.large")
    assert any("t1.micro" in note for note in section.notes)
    assert any("1 running instance(s)" in note for note in section.notes)  # no-metrics, not judged
    assert f"@opsbot stop {ids['idle-reporting']} in us-east-1" in report.requests()


def test_cost_prices_unattached_volumes_and_old_snapshots(seeded: Seeded, prices: PriceTable) -> None:
    estate = seeded.estate
    report = seeded.cost
    volumes = {row.resource: row.saving_usd for row in report.section("unattached_volumes").rows}
    assert volumes == {
        volume_id: round(size * prices.ebs_gb_month[kind], 2)
        for volume_id, (size, kind) in estate.unattached.items()
    }
    assert estate.attached_volume not in volumes
    snapshots = report.section("old_snapshots")
    assert snapshots.resources() == sorted(estate.old_snapshots)
    assert prices.snapshot_gb_month is not None
    for row in snapshots.rows:
        size, age = estate.old_snapshots[row.resource]
        assert (row.facts["size_gib"], row.facts["age_days"]) == (size, age)
        assert row.saving_usd == round(size * prices.snapshot_gb_month, 2)
    assert estate.recent_snapshot not in snapshots.resources()


def test_cost_oversized_groups_use_the_capacity_rule_over_fourteen_days(
    seeded: Seeded, prices: PriceTable
) -> None:
    report = seeded.cost
    section = report.section("oversized_groups")
    assert section.resources() == ["web-asg"]
    web = next(group for group in GROUPS if group.name == "web-asg")
    samples = web.week_cpu + web.older_cpu
    facts = section.rows[0].facts
    assert facts["cpu_avg"] == round(sum(samples) / len(samples), 2)  # the older sample counts here
    assert (facts["desired"], facts["suggested"]) == (4, 2)
    assert section.rows[0].saving_usd == month(prices, GROUP_TYPE, 2)
    assert section.rows[0].request == "@opsbot scale web-asg to 2 in us-east-1"


def test_cost_totals_add_up(seeded: Seeded, prices: PriceTable) -> None:
    estate = seeded.estate
    report = seeded.cost
    assert prices.snapshot_gb_month is not None
    idle = month(prices, "t3.large")
    volumes = round(sum(size * prices.ebs_gb_month[kind] for size, kind in estate.unattached.values()), 2)
    snapshots = round(sum(size * prices.snapshot_gb_month for size, _ in estate.old_snapshots.values()), 2)
    groups = month(prices, GROUP_TYPE, 2)
    assert report.summary() == {
        "idle_instances": 2,
        "idle_instances_saving": idle,
        "unattached_volumes": 2,
        "unattached_volumes_saving": volumes,
        "old_snapshots": 2,
        "old_snapshots_saving": snapshots,
        "oversized_groups": 1,
        "oversized_groups_saving": groups,
        "total_saving": round(idle + volumes + snapshots + groups, 2),
    }
    assert report.total("total_saving") == 137.48  # 60.74 + 10.00 + 6.00 + 60.74 with the shipped table


# ------------------------------------------------------------------------------------ proposals


def test_every_proposed_request_parses_to_the_intended_action(seeded: Seeded, prices: PriceTable) -> None:
    requests = seeded.capacity.requests() + seeded.cost.requests()
    parsed: list[tuple[str, dict[str, Any]]] = []
    for request in requests:
        intent = parse_request(request)
        parsed.append((intent.action, intent.params))
    actions = {action for action, _ in parsed}
    assert actions == {"scale_asg", "stop_instance", "tag_resource"}
    for (action, params), request in zip(parsed, requests, strict=True):
        assert params["region"] == REGION
        target = request.split()[2]
        assert target in params.values(), (request, params)
        if action == "tag_resource":
            assert (params["key"], params["value"]) == ("cost-review", "delete")
