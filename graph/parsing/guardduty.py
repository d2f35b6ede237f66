"""GuardDuty findings (bare, or inside an EventBridge event) become ``AlertFacts``."""

from __future__ import annotations

from graph.models import AlertFacts
from graph.parsing.alert_resources import ResourceNames, is_public_ip
from graph.parsing.distinct import distinct
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
    required_str,
)

_REMOTE_IP_ACTIONS = (
    "networkConnectionAction",
    "awsApiCallAction",
    "kubernetesApiCallAction",
    "rdsLoginAttemptAction",
)


def _remote_ips(action: JsonObject) -> list[str]:
    details = [read_obj(read_obj(action, key), "remoteIpDetails") for key in _REMOTE_IP_ACTIONS]
    for probe in read_list(read_obj(action, "portProbeAction"), "portProbeDetails"):
        details.append(read_obj(probe, "remoteIpDetails"))
    addresses = [read_str(detail, "ipAddressV4") or read_str(detail, "ipAddressV6") for detail in details]
    return distinct([address for address in addresses if is_public_ip(address)])


def _resource_names(resource: JsonObject) -> ResourceNames:
    names = ResourceNames.empty()
    access_key = read_obj(resource, "accessKeyDetails")
    names.others += [read_str(access_key, "accessKeyId"), read_str(access_key, "userName")]
    instance = read_obj(resource, "instanceDetails")
    names.add(read_str(instance, "instanceId"))
    for interface in read_list(instance, "networkInterfaces"):
        names.others += [
            read_str(interface, "networkInterfaceId"),
            read_str(interface, "vpcId"),
            read_str(interface, "subnetId"),
        ]
        names.others += [read_str(group, "groupId") for group in read_list(interface, "securityGroups")]
    names.others += [read_str(bucket, "name") for bucket in read_list(resource, "s3BucketDetails")]
    names.others += [
        read_str(read_obj(resource, "eksClusterDetails"), "name"),
        read_str(read_obj(resource, "rdsDbInstanceDetails"), "dbInstanceIdentifier"),
        read_str(read_obj(resource, "lambdaDetails"), "functionName"),
    ]
    return names


def guardduty_finding(finding: JsonObject, envelope: JsonObject) -> ParsedEvent:
    """One finding; ``envelope`` is the EventBridge event around it (``{}`` for a bare finding)."""
    where = "GuardDuty finding"
    finding_id = required_str(finding, "id", where)
    finding_type = required_str(finding, "type", where)
    if "severity" not in finding:
        raise EventFormatError("the GuardDuty finding has no 'severity'")
    account = read_str(finding, "accountId") or read_str(envelope, "account")
    region = pick_region(read_str(finding, "region"), read_str(envelope, "region"))
    service = read_obj(finding, "service")
    role = read_str(service, "resourceRole").upper()
    names = _resource_names(read_obj(finding, "resource"))
    title = read_str(finding, "title")
    sample = (
        read_obj(service, "additionalInfo").get("sample") in (True, "true")
        or "[SAMPLE]" in title.upper()
        or any(value.startswith("GeneratedFinding") for value in names.instances + names.others)
    )
    alert = AlertFacts(
        kind="guardduty",
        fingerprint=f"guardduty:{account}:{region}:{finding_id}",
        title=title or finding_type,
        description=read_str(finding, "description"),
        severity=clamp_severity(read_number(finding["severity"], "GuardDuty severity")),
        finding_type=finding_type,
        sample=sample,
        region=region,
        account=account,
        remote_ips=_remote_ips(read_obj(service, "action")) if role == "TARGET" else [],
        raw_id=finding_id,
        **names.fields(),
    )
    return ParsedEvent(alert, role)


def is_guardduty_finding(data: JsonObject) -> bool:
    """A bare finding, as GuardDuty's own API and console export it."""
    return (
        isinstance(data.get("service"), dict)
        and read_str(data["service"], "serviceName") == "guardduty"
        and "type" in data
        and "id" in data
    )
