"""Security Hub findings (ASFF, bare or in an EventBridge event) become ``AlertFacts``."""

from __future__ import annotations

from graph.models import AlertFacts
from graph.parsing.alert_resources import ResourceNames
from graph.parsing.event_fields import (
    EventFormatError,
    JsonObject,
    ParsedEvent,
    clamp_severity,
    pick_region,
    read_list,
    read_number,
    read_obj,
    read_str,
    required_obj,
    required_str,
)

SECURITY_HUB_LABELS = {"INFORMATIONAL": 0.0, "LOW": 3.0, "MEDIUM": 5.0, "HIGH": 8.0, "CRITICAL": 9.5}


def _severity(finding: JsonObject) -> float:
    severity_block = read_obj(finding, "Severity")
    if "Normalized" in severity_block:
        normalized = read_number(severity_block["Normalized"], "Security Hub Severity.Normalized")
        return clamp_severity(normalized / 10)
    provider = read_obj(read_obj(finding, "FindingProviderFields"), "Severity")
    label = read_str(severity_block, "Label") or read_str(provider, "Label")
    return SECURITY_HUB_LABELS.get(label.upper(), 0.0)


def security_hub_finding(finding: JsonObject, envelope: JsonObject) -> ParsedEvent:
    """One finding; ``envelope`` is the EventBridge event around it (``{}`` for a bare finding)."""
    finding_id = required_str(finding, "Id", "Security Hub finding")
    severity = _severity(finding)
    compliance = read_obj(finding, "Compliance")
    product_fields = read_obj(finding, "ProductFields")
    control = read_str(compliance, "SecurityControlId") or read_str(product_fields, "ControlId")
    workflow = read_str(read_obj(finding, "Workflow"), "Status") or read_str(finding, "WorkflowState")
    names = ResourceNames.empty()
    for resource in read_list(finding, "Resources"):
        names.add(read_str(resource, "Id"))
    sample = "[SAMPLE]" in read_str(finding, "Title").upper() or any(
        key.endswith("additionalInfo/sample") and str(value).lower() == "true"
        for key, value in product_fields.items()
    )
    alert = AlertFacts(
        kind="securityhub",
        fingerprint=f"securityhub:{finding_id}",
        title=read_str(finding, "Title") or control or finding_id,
        description=read_str(finding, "Description"),
        severity=severity,
        finding_type=control or read_str(finding, "GeneratorId"),
        sample=sample,
        resolved=read_str(compliance, "Status").upper() == "PASSED"
        or workflow.upper() in {"RESOLVED", "SUPPRESSED"}
        or read_str(finding, "RecordState").upper() == "ARCHIVED",
        region=pick_region(read_str(finding, "Region"), read_str(envelope, "region")),
        account=read_str(finding, "AwsAccountId") or read_str(envelope, "account"),
        raw_id=finding_id,
        **names.fields(),
    )
    return ParsedEvent(alert)


def security_hub_findings(event: JsonObject) -> list[JsonObject]:
    """The findings an EventBridge Security Hub event carries (at least one)."""
    detail = required_obj(event, "detail", "Security Hub event")
    findings = [f for f in read_list(detail, "findings") if isinstance(f, dict)]
    if not findings:
        raise EventFormatError("the Security Hub event has no findings in detail.findings")
    return findings
