"""Daily compliance review: admin ports open to the internet, unencrypted volumes, public buckets, open
high-severity findings, and what opsbot itself changed in the last day."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from runtime.audit_log import AuditLog
from runtime.reviews.admin_ports import ADMIN_PORTS, open_admin_rules
from runtime.reviews.cpu import DAY
from runtime.reviews.findings import open_high_findings
from runtime.reviews.inventory import security_groups, volumes
from runtime.reviews.opsbot_changes import changes_between, target_text
from runtime.reviews.periods import utc_date, utc_minute
from runtime.reviews.report import Report, Row, Section, count_total
from runtime.reviews.s3_exposure import read_exposure
from tools.base import AwsClients
from tools.context import aws_errors, describe_error

NO_OPSBOT_ACTION = "opsbot has no action for this fix: make it in your IaC or the console."


def daily_compliance(clients: AwsClients, regions: Sequence[str], audit: AuditLog, now: float) -> Report:
    sections = (
        _open_admin_ports(clients, regions),
        _unencrypted_volumes(clients, regions),
        _buckets(clients, regions[0]),
        _findings(clients, regions),
        _changes(audit, now),
    )
    admin, unencrypted, buckets, findings, changes = sections
    return Report(
        review="daily_compliance",
        title="Daily compliance review",
        period=utc_date(now),
        generated_at=now,
        regions=tuple(regions),
        sections=sections,
        totals=(
            count_total("open_admin_rules", "Admin-port rules open to the internet", len(admin.rows)),
            count_total(
                "open_admin_groups", "Security groups with such rules", len({r.resource for r in admin.rows})
            ),
            count_total("unencrypted_volumes", "Unencrypted volumes", len(unencrypted.rows)),
            count_total(
                "public_buckets", "Public buckets", sum(1 for r in buckets.rows if r.facts["public"])
            ),
            count_total(
                "buckets_without_block",
                "Buckets without a full public access block",
                sum(1 for r in buckets.rows if r.facts["block"] != "on"),
            ),
            count_total("high_findings", "Open high-severity findings", len(findings.rows)),
            count_total("opsbot_changes", "Changes opsbot made", len(changes.rows)),
        ),
    )


def _open_admin_ports(clients: AwsClients, regions: Sequence[str]) -> Section:
    rows: list[Row] = []
    for region in regions:
        with aws_errors(f"list the security groups in {region}"):
            groups = security_groups(clients, region)
        for group in sorted(groups, key=lambda g: str(g["GroupId"])):
            for rule in open_admin_rules(group):
                rows.append(
                    Row(
                        resource=rule.group_id,
                        region=region,
                        cells=(
                            rule.group_id,
                            rule.group_name or "—",
                            rule.vpc_id or "—",
                            rule.exposed,
                            rule.source,
                        ),
                        facts={"ports": ",".join(str(port) for port in rule.ports), "source": rule.source},
                    )
                )
    ports = ", ".join(f"{port} ({name})" for port, name in sorted(ADMIN_PORTS.items()))
    return Section(
        key="open_admin_ports",
        title="Security groups open to the internet on admin ports",
        columns=("Group", "Name", "VPC", "Allows", "Source"),
        rows=tuple(rows),
        empty_text="No security group opens an admin port to 0.0.0.0/0 or ::/0.",
        notes=(f"Admin ports: {ports}, and all-traffic rules.", NO_OPSBOT_ACTION) if rows else (),
    )


def _unencrypted_volumes(clients: AwsClients, regions: Sequence[str]) -> Section:
    rows: list[Row] = []
    for region in regions:
        with aws_errors(f"list the EBS volumes in {region}"):
            found = [v for v in volumes(clients, region) if not v.get("Encrypted", False)]
        for volume in sorted(found, key=lambda v: str(v["VolumeId"])):
            attached = ", ".join(
                str(a["InstanceId"]) for a in volume.get("Attachments", []) if a.get("InstanceId")
            )
            rows.append(
                Row(
                    resource=str(volume["VolumeId"]),
                    region=region,
                    cells=(
                        str(volume["VolumeId"]),
                        f"{volume.get('Size', 0)} GiB",
                        str(volume.get("VolumeType", "")),
                        str(volume.get("State", "")),
                        attached or "—",
                    ),
                    facts={"size_gib": int(volume.get("Size", 0)), "attached_to": attached},
                )
            )
    note = (
        "EBS cannot encrypt a volume in place: copy a snapshot encrypted and restore it. " + NO_OPSBOT_ACTION
    )
    return Section(
        key="unencrypted_volumes",
        title="Unencrypted EBS volumes",
        columns=("Volume", "Size", "Type", "State", "Attached to"),
        rows=tuple(rows),
        empty_text="Every EBS volume is encrypted.",
        notes=(note,) if rows else (),
    )


def _buckets(clients: AwsClients, region: str) -> Section:
    s3 = clients.client("s3", region)
    with aws_errors("list the S3 buckets"):
        names = sorted(str(bucket["Name"]) for bucket in s3.list_buckets().get("Buckets", []))
    rows: list[Row] = []
    unreadable: list[str] = []
    for name in names:
        try:
            exposure = read_exposure(s3, name)
        except ClientError as error:
            unreadable.append(f"{name} ({describe_error(error)})")
            continue
        if not exposure.public and exposure.block_text() == "on":
            continue
        rows.append(
            Row(
                resource=name,
                region="global",
                cells=(name, exposure.exposure_text(), exposure.block_text()),
                facts={"public": exposure.public, "block": exposure.block_text()},
            )
        )
    notes = [f"Could not read: {', '.join(unreadable)}."] if unreadable else []
    if rows:
        notes.append(NO_OPSBOT_ACTION)
    return Section(
        key="public_buckets",
        title="S3 buckets that are public or lack a full public access block",
        columns=("Bucket", "Exposure", "Public access block"),
        rows=tuple(rows),
        empty_text="No bucket is public, and every bucket has a full public access block.",
        notes=tuple(notes),
    )


def _findings(clients: AwsClients, regions: Sequence[str]) -> Section:
    rows: list[Row] = []
    notes: list[str] = []
    for region in regions:
        with aws_errors(f"read the Security Hub findings in {region}"):
            findings, note = open_high_findings(clients, region)
        if note:
            notes.append(note)
        rows += [
            Row(
                resource=finding.id,
                region=region,
                cells=(finding.control or "—", finding.severity, finding.title or "—", finding.resource),
                facts={"severity": finding.severity},
            )
            for finding in findings
        ]
    return Section(
        key="high_findings",
        title="Open high-severity Security Hub findings",
        columns=("Control", "Severity", "Title", "Resource"),
        rows=tuple(rows),
        empty_text="No open high or critical finding.",
        notes=tuple(notes),
    )


def _changes(audit: AuditLog, now: float) -> Section:
    changes = changes_between(audit, now - DAY, now)
    rows = tuple(
        Row(
            resource=change.action_id,
            region=str(change.params.get("region", "")),
            cells=(utc_minute(change.at), change.action, target_text(change), change.thread_id),
            facts={"action": change.action, "thread_id": change.thread_id},
        )
        for change in changes
    )
    return Section(
        key="opsbot_changes",
        title="Changes opsbot made in the last 24 hours",
        columns=("When", "Action", "Target", "Thread"),
        rows=rows,
        empty_text="opsbot changed nothing in the last 24 hours.",
    )
