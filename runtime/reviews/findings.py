"""Open high-severity Security Hub findings (ASFF), per region.

Open means: severity label HIGH or CRITICAL, workflow status NEW or NOTIFIED, record state ACTIVE, and
not a passed compliance check. The same conditions are sent as GetFindings filters and applied again
to the answer, so a store that ignores filters (moto) gives the same result as AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from botocore.exceptions import ClientError

from runtime.reviews.inventory import paged
from tools.base import AwsClients, JsonDict
from tools.context import error_code

HIGH_LABELS = ("HIGH", "CRITICAL")
OPEN_WORKFLOW = ("NEW", "NOTIFIED")
NOT_ENABLED = ("InvalidAccessException", "AccessDeniedException")
FILTERS: JsonDict = {
    "SeverityLabel": [{"Value": label, "Comparison": "EQUALS"} for label in HIGH_LABELS],
    "WorkflowStatus": [{"Value": status, "Comparison": "EQUALS"} for status in OPEN_WORKFLOW],
    "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}],
}


@dataclass(frozen=True)
class Finding:
    id: str
    region: str
    severity: str
    title: str
    control: str
    resource: str


def is_open_high(finding: JsonDict) -> bool:
    severity = str(finding.get("Severity", {}).get("Label", "")).upper()
    workflow = str(finding.get("Workflow", {}).get("Status", "NEW")).upper()
    record = str(finding.get("RecordState", "ACTIVE")).upper()
    compliance = str(finding.get("Compliance", {}).get("Status", "")).upper()
    return (
        severity in HIGH_LABELS
        and workflow in OPEN_WORKFLOW
        and record == "ACTIVE"
        and compliance != "PASSED"
    )


def open_high_findings(clients: AwsClients, region: str) -> tuple[list[Finding], str | None]:
    """The open high-severity findings in ``region``, and a note when Security Hub is not enabled there."""
    client = clients.client("securityhub", region)
    try:
        raw = list(paged(client, "get_findings", "Findings", Filters=FILTERS))
    except ClientError as error:
        if error_code(error) in NOT_ENABLED:
            return [], f"Security Hub is not enabled (or not readable) in {region}: no findings read there."
        raise
    return [_finding(item, region) for item in raw if is_open_high(item)], None


def _finding(item: JsonDict, region: str) -> Finding:
    control = str(
        item.get("Compliance", {}).get("SecurityControlId")
        or item.get("ProductFields", {}).get("ControlId")
        or item.get("GeneratorId", "")
    )
    return Finding(
        id=str(item["Id"]),
        region=str(item.get("Region") or region),
        severity=str(item.get("Severity", {}).get("Label", "")).upper(),
        title=str(item.get("Title", "")),
        control=control,
        resource=next(_resource_ids(item), "—"),
    )


def _resource_ids(item: JsonDict) -> Iterator[str]:
    for resource in item.get("Resources", []):
        if resource.get("Id"):
            yield str(resource["Id"])
