"""Recent VPC Flow Log records for an instance's network interfaces, read through CloudWatch Logs.

Where the records are: the flow logs EC2 describes for the interface, its subnet or its VPC that deliver
to CloudWatch Logs (their log group and their record format). Only when none is described does opsbot
look in the conventional log group ``/vpc/flow-logs`` with the default (version 2) format. Records are
read with ``filter_log_events``: by the interface id as a quoted term when the format carries
``interface-id``, else by the log stream (CloudWatch names one stream per interface after its id).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from tools.base import AwsClients, JsonDict, ToolError
from tools.context import aws_errors, error_code, get_instance

DEFAULT_LOG_GROUP = "/vpc/flow-logs"
DEFAULT_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)
PROTOCOL_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}
_FIELD_RE = re.compile(r"\$\{([\w-]+)\}")


class FlowRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    interface_id: str = ""
    srcaddr: str
    dstaddr: str
    srcport: int | None = None
    dstport: int | None = None
    protocol: int | None = None
    packets: int | None = None
    start: int | None = None  # unix seconds
    action: str  # ACCEPT or REJECT


class FlowLogSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interfaces: list[str]
    log_groups: list[str]
    minutes: int
    records: list[FlowRecord] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # where nothing could be read, and why

    def count(self, action: str, dstaddr: str | None = None, dstport: int | None = None) -> int:
        return sum(
            1
            for record in self.records
            if record.action == action
            and (dstaddr is None or record.dstaddr == dstaddr)
            and (dstport is None or record.dstport == dstport)
        )

    def lines(self, dstaddr: str | None = None, dstport: int | None = None, top: int = 5) -> list[str]:
        """Plain sentences: the flows to ``dstaddr:dstport`` first when given, then the busiest flows."""
        window = f"in the last {self.minutes} min"
        where = ", ".join(self.log_groups) or "no log group"
        if not self.records:
            return [f"No flow-log records for {', '.join(self.interfaces)} {window} ({where})", *self.notes]
        out: list[str] = []
        if dstaddr is not None:
            target = f"{dstaddr}:{dstport}" if dstport is not None else dstaddr
            rejects, accepts = self.count("REJECT", dstaddr, dstport), self.count("ACCEPT", dstaddr, dstport)
            out.append(f"{_plural(rejects, 'REJECT')} and {_plural(accepts, 'ACCEPT')} to {target} {window}")
        flows = Counter((r.action, r.dstaddr, r.dstport, r.protocol) for r in self.records)
        ranked = sorted(flows.items(), key=lambda item: (item[0][0] != "REJECT", -item[1]))
        for (action, dst, port, protocol), count in ranked[:top]:
            shown_port = f":{port}" if port is not None else ""
            name = PROTOCOL_NAMES.get(protocol or 0, protocol)
            out.append(f"{_plural(count, action)} to {dst}{shown_port} ({name})")
        return [*out, *self.notes]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def fields_of(log_format: str) -> list[str]:
    return _FIELD_RE.findall(log_format)


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.lstrip("-").isdigit() else None


def parse_flow_record(line: str, fields: list[str]) -> FlowRecord | None:
    """One record in the flow log's format; None for NODATA/SKIPDATA records and lines of another shape."""
    values = line.split()
    if len(values) != len(fields):
        return None
    row = dict(zip(fields, values, strict=True))
    action = row.get("action", "-")
    if action not in {"ACCEPT", "REJECT"} or "srcaddr" not in row or "dstaddr" not in row:
        return None
    return FlowRecord(
        interface_id=row.get("interface-id", ""),
        srcaddr=row["srcaddr"],
        dstaddr=row["dstaddr"],
        srcport=_int(row.get("srcport")),
        dstport=_int(row.get("dstport")),
        protocol=_int(row.get("protocol")),
        packets=_int(row.get("packets")),
        start=_int(row.get("start")),
        action=action,
    )


@dataclass(frozen=True)
class Interface:
    eni_id: str
    subnet_id: str = ""
    vpc_id: str = ""


@dataclass(frozen=True)
class FlowSource:
    log_group: str
    fields: tuple[str, ...]


def flow_sources(clients: AwsClients, interface: Interface, region: str) -> list[FlowSource]:
    """The CloudWatch Logs flow logs that cover ``interface`` (its own, its subnet's, its VPC's), else the
    conventional ``/vpc/flow-logs`` in the default format."""
    ec2 = clients.client("ec2", region)
    resources = [r for r in (interface.eni_id, interface.subnet_id, interface.vpc_id) if r]
    with aws_errors(f"describe the flow logs of {interface.eni_id}"):
        described = ec2.describe_flow_logs(
            Filters=[
                {"Name": "resource-id", "Values": resources},
                {"Name": "log-destination-type", "Values": ["cloud-watch-logs"]},
            ]
        )["FlowLogs"]
    sources = {
        FlowSource(str(log["LogGroupName"]), tuple(fields_of(log.get("LogFormat") or DEFAULT_FORMAT)))
        for log in described
        if log.get("LogGroupName")
    }
    return sorted(sources, key=lambda s: s.log_group) or [
        FlowSource(DEFAULT_LOG_GROUP, tuple(fields_of(DEFAULT_FORMAT)))
    ]


def _events(
    logs: Any, source: FlowSource, eni_id: str, start: datetime, end: datetime, limit: int
) -> list[JsonDict]:
    query: JsonDict = {
        "logGroupName": source.log_group,
        "startTime": int(start.timestamp() * 1000),
        "endTime": int(end.timestamp() * 1000),
    }
    if "interface-id" in source.fields:
        query["filterPattern"] = f'"{eni_id}"'
    else:
        query["logStreamNamePrefix"] = eni_id
    pages = logs.get_paginator("filter_log_events").paginate(**query, PaginationConfig={"MaxItems": limit})
    return [event for page in pages for event in page.get("events", [])]


def interface_flows(
    clients: AwsClients,
    interfaces: list[Interface],
    region: str,
    minutes: int = 15,
    now: datetime | None = None,
    limit: int = 2000,
) -> FlowLogSummary:
    """Accepted and rejected flows of ``interfaces`` over the last ``minutes``."""
    end = now or datetime.now(UTC)
    start = end - timedelta(minutes=minutes)
    logs = clients.client("logs", region)
    summary = FlowLogSummary(interfaces=[i.eni_id for i in interfaces], log_groups=[], minutes=minutes)
    for interface in interfaces:
        for source in flow_sources(clients, interface, region):
            if source.log_group not in summary.log_groups:
                summary.log_groups.append(source.log_group)
            try:
                with aws_errors(f"read flow logs from {source.log_group}"):
                    events = _events(logs, source, interface.eni_id, start, end, limit)
            except ToolError as error:  # a missing log group is a note, not a failure
                summary.notes.append(_why_unreadable(source.log_group, error))
                continue
            for event in events:
                record = parse_flow_record(str(event.get("message", "")), list(source.fields))
                if record is not None and record.interface_id in ("", interface.eni_id):
                    summary.records.append(record)
    return summary


def _why_unreadable(log_group: str, error: ToolError) -> str:
    cause = error.__cause__
    if isinstance(cause, ClientError) and error_code(cause) == "ResourceNotFoundException":
        return f"log group {log_group} does not exist: no VPC flow logs are delivered there"
    return str(error)


def instance_flows(
    clients: AwsClients, instance_id: str, region: str, minutes: int = 15, now: datetime | None = None
) -> FlowLogSummary:
    """Accepted and rejected flows of every network interface of ``instance_id`` over the last ``minutes``."""
    instance = get_instance(clients, instance_id, region)
    interfaces = [
        Interface(str(eni["NetworkInterfaceId"]), str(eni.get("SubnetId", "")), str(eni.get("VpcId", "")))
        for eni in instance.get("NetworkInterfaces", [])
    ]
    return interface_flows(clients, interfaces, region, minutes, now)
