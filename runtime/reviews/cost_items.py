"""The rows of the monthly cost review, one finder per kind of waste, each for one region.

Every finder returns ``(rows, notes)``: notes say what could not be judged or priced.
"""

from __future__ import annotations

from datetime import datetime

from policies.engine import PriceTable
from runtime.reviews.cpu import DAY, cpu_stats
from runtime.reviews.groups import assess_groups
from runtime.reviews.inventory import account_id, own_snapshots, running_instances, tag_value, volumes
from runtime.reviews.proposals import cleanup_tag_request, scale_request, stop_request
from runtime.reviews.report import Row, percent
from tools.base import AwsClients
from tools.context import aws_errors

ASG_TAG = "aws:autoscaling:groupName"

Found = tuple[list[Row], list[str]]


def instance_month(prices: PriceTable, instance_type: str, count: int = 1) -> float | None:
    hourly = prices.hourly.get(instance_type)
    return None if hourly is None else round(hourly * prices.hours_per_month * count, 2)


def idle_instance_rows(
    clients: AwsClients, region: str, prices: PriceTable, now: float, days: int, below: float
) -> Found:
    """Running instances outside Auto Scaling groups (groups are judged as groups) whose CPU average
    over ``days`` is under ``below`` percent; stopping one saves its hourly price."""
    with aws_errors(f"list the running instances in {region}"):
        instances = [i for i in running_instances(clients, region) if not tag_value(i, ASG_TAG)]
    rows: list[Row] = []
    unmeasured = 0
    unpriced: set[str] = set()
    for instance in sorted(instances, key=lambda i: str(i["InstanceId"])):
        instance_id, itype = str(instance["InstanceId"]), str(instance.get("InstanceType", ""))
        with aws_errors(f"read the CPU utilisation of {instance_id}"):
            cpu = cpu_stats(clients, region, "InstanceId", instance_id, now, days)
        if cpu is None:
            unmeasured += 1
            continue
        if cpu.average >= below:
            continue
        saving = instance_month(prices, itype)
        if saving is None:
            unpriced.add(itype)
        rows.append(
            Row(
                resource=instance_id,
                region=region,
                cells=(
                    instance_id,
                    tag_value(instance, "Name") or "—",
                    itype,
                    percent(cpu.average),
                    percent(cpu.maximum),
                ),
                facts={"cpu_avg": cpu.average, "cpu_max": cpu.maximum, "instance_type": itype},
                saving_usd=saving,
                request=stop_request(instance_id, region),
            )
        )
    notes = [f"No price for {', '.join(sorted(unpriced))}: not counted in the saving."] if unpriced else []
    if unmeasured:
        notes.append(
            f"{unmeasured} running instance(s) in {region} had no CPU data over {days} days: not judged."
        )
    return rows, notes


def unattached_volume_rows(clients: AwsClients, region: str, prices: PriceTable, now: float) -> Found:
    """Volumes in state ``available`` (attached to nothing): deleting one saves size x GB-month price."""
    filters = [{"Name": "status", "Values": ["available"]}]
    with aws_errors(f"list the unattached volumes in {region}"):
        found = [v for v in volumes(clients, region, Filters=filters) if v.get("State") == "available"]
    rows: list[Row] = []
    unpriced: set[str] = set()
    for volume in sorted(found, key=lambda v: str(v["VolumeId"])):
        volume_id, size, vtype = (
            str(volume["VolumeId"]),
            int(volume["Size"]),
            str(volume.get("VolumeType", "")),
        )
        price = prices.ebs_gb_month.get(vtype)
        if price is None:
            unpriced.add(vtype)
        rows.append(
            Row(
                resource=volume_id,
                region=region,
                cells=(volume_id, f"{size} GiB", vtype, _date(volume.get("CreateTime"))),
                facts={"size_gib": size, "volume_type": vtype},
                saving_usd=None if price is None else round(size * price, 2),
                request=cleanup_tag_request(volume_id, region),
            )
        )
    notes = [f"No GB-month price for volume type {', '.join(sorted(unpriced))}."] if unpriced else []
    return rows, notes


def old_snapshot_rows(
    clients: AwsClients, region: str, prices: PriceTable, now: float, older_than_days: int
) -> Found:
    """This account's snapshots started more than ``older_than_days`` before ``now``."""
    with aws_errors(f"list this account's snapshots in {region}"):
        owner = account_id(clients, region)
        snapshots = own_snapshots(clients, region, owner)
    cutoff = now - older_than_days * DAY
    rows: list[Row] = []
    for snapshot in sorted(snapshots, key=lambda s: str(s["SnapshotId"])):
        started = snapshot.get("StartTime")
        if str(snapshot.get("OwnerId", owner)) != owner or not isinstance(started, datetime):
            continue
        if started.timestamp() >= cutoff:
            continue
        snapshot_id, size = str(snapshot["SnapshotId"]), int(snapshot.get("VolumeSize", 0))
        age_days = int((now - started.timestamp()) // DAY)
        price = prices.snapshot_gb_month
        rows.append(
            Row(
                resource=snapshot_id,
                region=region,
                cells=(
                    snapshot_id,
                    f"{size} GiB",
                    f"{age_days} days",
                    str(snapshot.get("Description", "")) or "—",
                ),
                facts={"size_gib": size, "age_days": age_days},
                saving_usd=None if price is None else round(size * price, 2),
                request=cleanup_tag_request(snapshot_id, region),
            )
        )
    notes = (
        ["The price table has no snapshot GB-month price."]
        if rows and prices.snapshot_gb_month is None
        else []
    )
    return rows, notes


def oversized_group_rows(
    clients: AwsClients, region: str, prices: PriceTable, now: float, days: int
) -> Found:
    """Groups the capacity rule would scale in; the saving is the instances it removes."""
    rows: list[Row] = []
    unpriced: set[str] = set()
    for group in assess_groups(clients, region, now, days):
        advice = group.recommendation
        if advice.verdict != "scale in" or group.cpu is None:
            continue
        itype = group.instance_type or "unknown"
        saving = instance_month(prices, itype, group.desired - advice.suggested)
        if saving is None:
            unpriced.add(itype)
        rows.append(
            Row(
                resource=group.name,
                region=region,
                cells=(
                    group.name,
                    itype,
                    str(group.desired),
                    str(advice.suggested),
                    percent(group.cpu.average),
                    percent(group.cpu.maximum),
                ),
                facts={
                    "desired": group.desired,
                    "suggested": advice.suggested,
                    "cpu_avg": group.cpu.average,
                    "cpu_max": group.cpu.maximum,
                    "instance_type": itype,
                    "rule": advice.rule,
                },
                saving_usd=saving,
                request=scale_request(group.name, advice.suggested, region),
            )
        )
    notes = [f"No price for {', '.join(sorted(unpriced))}: not counted in the saving."] if unpriced else []
    return rows, notes


def _date(value: object) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else "—"
