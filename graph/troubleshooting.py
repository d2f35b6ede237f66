"""troubleshoot_connectivity: a read-only answer to "why can't A reach B on port P?".

The reply holds the verdict with the blocking rule, every check on the path, the flow-log evidence for
both ends' interfaces, the recent CloudTrail changes to the blocking resource, and the fix in words. It
never plans or runs a step: a fix is a separate request that goes through policy like any other.
"""

from __future__ import annotations

from typing import Any

from graph.context import GraphContext
from graph.models import Intent
from tools.base import ToolError
from tools.cloudtrail_lookup import change_lines, recent_changes
from tools.connectivity import ConnectivityReport, check_connectivity, render_report
from tools.flow_logs import Interface, interface_flows

USAGE = "like 'why can't i-0123456789abcdef0 reach 10.0.3.4:5432?'"
FLOW_MINUTES = 15
TRAIL_EVENTS = 5
# Resources CloudTrail names by id: what a blocking check can point at.
TRAIL_PREFIXES = ("sg-", "acl-", "rtb-", "i-")


def short_reason(error: Exception) -> str:
    """The first line of an error, without an HTML error page some endpoints answer with."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(": <", 1)[0].rstrip(".:") + "."


def _flow_evidence(ctx: GraphContext, report: ConnectivityReport) -> list[str]:
    ends = [end for end in (report.source, report.destination) if end.in_aws]
    interfaces = [Interface(end.eni_id, end.subnet_id, end.vpc_id) for end in ends]
    try:
        summary = interface_flows(ctx.clients, interfaces, report.region, FLOW_MINUTES)
    except ToolError as error:
        return [f"Flow logs: could not be read: {short_reason(error)}"]
    return ["Flow logs:", *(f"  {line}" for line in summary.lines(report.destination.ip, report.port))]


def _trail_evidence(ctx: GraphContext, report: ConnectivityReport) -> list[str]:
    blocking = report.blocking
    if blocking is None or not blocking.resource_id.startswith(TRAIL_PREFIXES):
        return []
    try:
        changes = recent_changes(ctx.clients, blocking.resource_id, report.region, TRAIL_EVENTS)
    except ToolError as error:
        return [f"CloudTrail: the history of {blocking.resource_id} could not be read: {short_reason(error)}"]
    return change_lines(blocking.resource_id, changes)


def _fix(report: ConnectivityReport) -> list[str]:
    if report.blocking is None or not report.blocking.fix:
        return []
    return [f"Suggested fix (not done; ask for it as its own request, under policy): {report.blocking.fix}"]


def connectivity_params(intent: Intent, default_region: str) -> dict[str, Any]:
    params = intent.params
    return {
        "source": str(params.get("source", "")),
        "destination": str(params.get("destination", "")),
        "port": params.get("port"),
        "protocol": "udp" if params.get("protocol") == "udp" else "tcp",
        "region": str(params.get("region") or default_region),
    }


def troubleshoot_connectivity(ctx: GraphContext, intent: Intent) -> str:
    if intent.errors:
        return "I cannot check that connectivity: " + "; ".join(intent.errors) + "."
    wanted = connectivity_params(intent, ctx.settings.aws_region)
    if not wanted["source"] or not wanted["destination"] or not isinstance(wanted["port"], int):
        return f"Troubleshoot connectivity needs a source, a destination and a port ({USAGE})."
    try:
        report = check_connectivity(ctx.clients, **wanted)
    except ToolError as error:
        return f"Could not check {wanted['source']} -> {wanted['destination']}: {short_reason(error)}"
    sections = [render_report(report), *_flow_evidence(ctx, report), *_trail_evidence(ctx, report)]
    return "\n".join([*sections, *_fix(report)])
