"""AWS alert payloads, in any envelope they arrive in, become ``AlertFacts`` and then an ``Intent``.

Envelopes (SNS HTTP delivery, SNS->Lambda ``Records``, SQS ``body``, JSON strings) are unwrapped
recursively.  Sources: GuardDuty, CloudWatch alarms (EventBridge, SNS and Lambda-action shapes),
Security Hub, AWS Health, EC2 state changes and EC2 Auto Scaling.  Anything else raises
``EventFormatError`` with a one-line message, never another exception type.

Only structured fields name resources.  Titles and descriptions are untrusted free text.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from graph.models import AlertFacts, Intent
from graph.parsing.directives import find_directives
from tools.base import REGION_RE

MAX_ENVELOPE_DEPTH = 6
ALARM_SEVERITY = 7.0
INSUFFICIENT_DATA_SEVERITY = 2.0
HEALTH_SEVERITY = 5.0
STATE_EVENT_SEVERITY = 3.0
SECURITY_HUB_LABELS = {"INFORMATIONAL": 0.0, "LOW": 3.0, "MEDIUM": 5.0, "HIGH": 8.0, "CRITICAL": 9.5}
ISOLATE_PURPOSES = frozenset({"CryptoCurrency", "Backdoor", "Trojan"})
NETWORK_ATTACK_MARKERS = ("bruteforce", "portprobe", "portscan")
NON_INSTANCE_RESOURCE_TYPES = frozenset({"IAMUser", "S3", "Kubernetes", "RDS", "Lambda", "ECS", "EKS"})
REGION_NAMES = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "Canada (Central)": "ca-central-1",
    "South America (Sao Paulo)": "sa-east-1",
    "EU (Ireland)": "eu-west-1",
    "Europe (Ireland)": "eu-west-1",
    "EU (London)": "eu-west-2",
    "Europe (London)": "eu-west-2",
    "EU (Paris)": "eu-west-3",
    "Europe (Paris)": "eu-west-3",
    "EU (Frankfurt)": "eu-central-1",
    "Europe (Frankfurt)": "eu-central-1",
    "EU (Stockholm)": "eu-north-1",
    "Europe (Stockholm)": "eu-north-1",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Seoul)": "ap-northeast-2",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
    "Asia Pacific (Mumbai)": "ap-south-1",
}
_INSTANCE_LIKE_RE = re.compile(r"^i-[0-9A-Za-z]+$")
_INSTANCE_ARN_RE = re.compile(r"^arn:aws[\w-]*:ec2:[^:]*:[^:]*:instance/(i-[0-9A-Za-z]+)$")
_NOT_PUBLIC_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3", "::/128", "::1/128",
        "fc00::/7", "fe80::/10", "ff00::/8",
    )
]  # fmt: skip

JsonObject = dict[str, Any]


class EventFormatError(ValueError):
    """The payload is not an alert opsbot can read; the message says what is wrong in one line."""


@dataclass(frozen=True)
class ParsedEvent:
    """An alert plus the structured facts that steer the action but have no AlertFacts field."""

    alert: AlertFacts
    resource_role: str = ""  # GuardDuty service.resourceRole: TARGET or ACTOR


# ---------------------------------------------------------------------------------------------
# Small typed readers for untyped JSON
# ---------------------------------------------------------------------------------------------


def _obj(data: Any, key: str) -> JsonObject:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def _str(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _required_str(data: JsonObject, key: str, where: str) -> str:
    value = _str(data, key)
    if not value:
        raise EventFormatError(f"the {where} has no '{key}'")
    return value


def _required_obj(data: JsonObject, key: str, where: str) -> JsonObject:
    value = data.get(key)
    if not isinstance(value, dict):
        raise EventFormatError(f"the {where} has no '{key}' object")
    return value


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EventFormatError(f"the {what} {value!r} is not a number")
    try:
        return float(value)
    except ValueError:
        raise EventFormatError(f"the {what} {value!r} is not a number") from None


def _clamp(severity: float) -> float:
    return min(max(severity, 0.0), 10.0)


def _region(*candidates: str) -> str:
    """The first candidate that is a region code (or a region's display name); else the first given."""
    for candidate in candidates:
        if REGION_RE.match(candidate):
            return candidate
        if candidate in REGION_NAMES:
            return REGION_NAMES[candidate]
    return next((candidate for candidate in candidates if candidate), "us-east-1")


def _arn_part(arn: str, index: int) -> str:
    parts = arn.split(":")
    return parts[index] if arn.startswith("arn:") and len(parts) > index else ""


def is_public_ip(value: str) -> bool:
    """Routable on the internet (documentation ranges count, as AWS sample findings use them)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not any(
        address in network for network in _NOT_PUBLIC_NETWORKS if network.version == address.version
    )


@dataclass
class _Names:
    """Structured resource names, sorted into the AlertFacts lists."""

    instances: list[str]
    asgs: list[str]
    others: list[str]

    @classmethod
    def empty(cls) -> _Names:
        return cls([], [], [])

    def add(self, value: str) -> None:
        if not value:
            return
        arn_instance = _INSTANCE_ARN_RE.match(value)
        if arn_instance:
            self.instances.append(arn_instance.group(1))
            self.others.append(value)
        elif _INSTANCE_LIKE_RE.match(value):
            self.instances.append(value)
        else:
            self.others.append(value)

    def instance_ids(self) -> list[str]:
        return _unique(self.instances)

    def asg_names(self) -> list[str]:
        return _unique(self.asgs)

    def resource_ids(self) -> list[str]:
        taken = set(self.instances) | set(self.asgs)
        return [item for item in _unique(self.others) if item not in taken]


# ---------------------------------------------------------------------------------------------
# Envelopes
# ---------------------------------------------------------------------------------------------


def _load_json(raw: str | bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        preview = raw[:40] if isinstance(raw, str) else raw[:40].decode("utf-8", "replace")
        raise EventFormatError(f"the {where} is not JSON (starts {preview!r})") from None


def _unwrap(payload: Any, where: str = "event", depth: int = 0) -> list[JsonObject]:
    """The innermost JSON objects, with every SNS/SQS/string envelope removed."""
    if depth > MAX_ENVELOPE_DEPTH:
        raise EventFormatError(f"the event is wrapped in more than {MAX_ENVELOPE_DEPTH} envelopes")
    if isinstance(payload, str | bytes):
        return _unwrap(_load_json(payload, where), where, depth + 1)
    if not isinstance(payload, dict):
        raise EventFormatError(f"an event must be a JSON object, got {type(payload).__name__}")
    records = payload.get("Records")
    if isinstance(records, list):
        if not records:
            raise EventFormatError("the Records envelope is empty")
        out: list[JsonObject] = []
        for record in records:
            if not isinstance(record, dict):
                raise EventFormatError("a Records entry is not a JSON object")
            if isinstance(record.get("Sns"), dict):
                if "Message" not in record["Sns"]:
                    raise EventFormatError("an SNS record has no 'Message'")
                out += _unwrap(record["Sns"]["Message"], "SNS message", depth + 1)
            elif "body" in record:
                out += _unwrap(record["body"], "SQS message body", depth + 1)
            else:
                raise EventFormatError("a Records entry has neither an 'Sns' message nor an SQS 'body'")
        return out
    kind = payload.get("Type")
    if kind == "SubscriptionConfirmation":
        raise EventFormatError(
            "this is an SNS subscription confirmation, not an alert; confirm it at SubscribeURL"
        )
    if kind == "Notification" or ("Message" in payload and "TopicArn" in payload):
        if "Message" not in payload:
            raise EventFormatError("the SNS notification has no 'Message'")
        return _unwrap(payload["Message"], "SNS message", depth + 1)
    return [payload]


# ---------------------------------------------------------------------------------------------
# GuardDuty
# ---------------------------------------------------------------------------------------------


def _remote_ips(action: JsonObject) -> list[str]:
    details: list[JsonObject] = []
    for key in (
        "networkConnectionAction",
        "awsApiCallAction",
        "kubernetesApiCallAction",
        "rdsLoginAttemptAction",
    ):
        details.append(_obj(_obj(action, key), "remoteIpDetails"))
    for probe in _list(_obj(action, "portProbeAction"), "portProbeDetails"):
        details.append(_obj(probe, "remoteIpDetails"))
    addresses = [_str(detail, "ipAddressV4") or _str(detail, "ipAddressV6") for detail in details]
    return _unique([address for address in addresses if is_public_ip(address)])


def _guardduty_names(resource: JsonObject) -> _Names:
    names = _Names.empty()
    access_key = _obj(resource, "accessKeyDetails")
    names.others += [_str(access_key, "accessKeyId"), _str(access_key, "userName")]
    instance = _obj(resource, "instanceDetails")
    names.add(_str(instance, "instanceId"))
    for interface in _list(instance, "networkInterfaces"):
        names.others += [
            _str(interface, "networkInterfaceId"),
            _str(interface, "vpcId"),
            _str(interface, "subnetId"),
        ]
        names.others += [_str(group, "groupId") for group in _list(interface, "securityGroups")]
    names.others += [_str(bucket, "name") for bucket in _list(resource, "s3BucketDetails")]
    names.others += [
        _str(_obj(resource, "eksClusterDetails"), "name"),
        _str(_obj(resource, "rdsDbInstanceDetails"), "dbInstanceIdentifier"),
        _str(_obj(resource, "lambdaDetails"), "functionName"),
    ]
    return names


def _guardduty(finding: JsonObject, envelope: JsonObject) -> ParsedEvent:
    where = "GuardDuty finding"
    finding_id = _required_str(finding, "id", where)
    finding_type = _required_str(finding, "type", where)
    if "severity" not in finding:
        raise EventFormatError("the GuardDuty finding has no 'severity'")
    account = _str(finding, "accountId") or _str(envelope, "account")
    region = _region(_str(finding, "region"), _str(envelope, "region"))
    resource = _obj(finding, "resource")
    service = _obj(finding, "service")
    role = _str(service, "resourceRole").upper()
    names = _guardduty_names(resource)
    title = _str(finding, "title")
    sample = (
        _obj(service, "additionalInfo").get("sample") in (True, "true")
        or "[SAMPLE]" in title.upper()
        or any(value.startswith("GeneratedFinding") for value in names.instances + names.others)
    )
    alert = AlertFacts(
        kind="guardduty",
        fingerprint=f"guardduty:{account}:{region}:{finding_id}",
        title=title or finding_type,
        description=_str(finding, "description"),
        severity=_clamp(_number(finding["severity"], "GuardDuty severity")),
        finding_type=finding_type,
        sample=sample,
        region=region,
        account=account,
        remote_ips=_remote_ips(_obj(service, "action")) if role == "TARGET" else [],
        raw_id=finding_id,
        instance_ids=names.instance_ids(),
        asg_names=names.asg_names(),
        resource_ids=names.resource_ids(),
    )
    return ParsedEvent(alert, role)


def _is_guardduty_finding(data: JsonObject) -> bool:
    return (
        isinstance(data.get("service"), dict)
        and _str(data["service"], "serviceName") == "guardduty"
        and "type" in data
        and "id" in data
    )


# ---------------------------------------------------------------------------------------------
# CloudWatch alarms: EventBridge, Lambda alarm action, SNS notification
# ---------------------------------------------------------------------------------------------


@dataclass
class _Alarm:
    name: str
    state: str
    account: str
    region: str
    arns: list[str]
    description: str
    reason: str
    metrics: list[tuple[str, dict[str, str]]]  # (metric name, dimensions), data-returning first
    raw_id: str


def _config_metrics(configuration: JsonObject) -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[bool, str, dict[str, str]]] = []
    for metric in _list(configuration, "metrics"):
        stat_metric = _obj(_obj(metric, "metricStat"), "metric")
        if stat_metric:
            dimensions = {str(k): str(v) for k, v in _obj(stat_metric, "dimensions").items()}
            found.append((metric.get("returnData") is True, _str(stat_metric, "name"), dimensions))
    found.sort(key=lambda item: not item[0])
    return [(name, dims) for _returns, name, dims in found]


def _sns_metrics(trigger: JsonObject) -> list[tuple[str, dict[str, str]]]:
    def dims(raw: list[Any]) -> dict[str, str]:
        return {_str(d, "name"): _str(d, "value") for d in raw if isinstance(d, dict) and _str(d, "name")}

    if _str(trigger, "MetricName"):
        return [(_str(trigger, "MetricName"), dims(_list(trigger, "Dimensions")))]
    found: list[tuple[str, dict[str, str]]] = []
    for metric in _list(trigger, "Metrics"):
        stat_metric = _obj(_obj(metric, "MetricStat"), "Metric")
        if stat_metric:
            found.append((_str(stat_metric, "MetricName"), dims(_list(stat_metric, "Dimensions"))))
    return found


def _alarm_from_eventbridge(event: JsonObject) -> _Alarm:
    detail = _required_obj(event, "detail", "CloudWatch Alarm State Change event")
    state = _required_obj(detail, "state", "alarm event's detail")
    configuration = _obj(detail, "configuration")
    arns = [r for r in _list(event, "resources") if isinstance(r, str)]
    return _Alarm(
        name=_required_str(detail, "alarmName", "alarm event's detail"),
        state=_required_str(state, "value", "alarm event's state"),
        account=_str(event, "account"),
        region=_region(_str(event, "region"), *(_arn_part(arn, 3) for arn in arns)),
        arns=arns,
        description=_str(configuration, "description"),
        reason=_str(state, "reason"),
        metrics=_config_metrics(configuration),
        raw_id=_str(event, "id"),
    )


def _alarm_from_lambda_action(event: JsonObject) -> _Alarm:
    data = _required_obj(event, "alarmData", "alarm action event")
    state = _required_obj(data, "state", "alarm action event's alarmData")
    configuration = _obj(data, "configuration")
    arn = _str(event, "alarmArn")
    return _Alarm(
        name=_required_str(data, "alarmName", "alarm action event's alarmData"),
        state=_required_str(state, "value", "alarm action event's state"),
        account=_str(event, "accountId") or _arn_part(arn, 4),
        region=_region(_str(event, "region"), _arn_part(arn, 3)),
        arns=[arn],
        description=_str(configuration, "description"),
        reason=_str(state, "reason"),
        metrics=_config_metrics(configuration),
        raw_id=arn or _str(event, "time"),
    )


def _alarm_from_sns(message: JsonObject) -> _Alarm:
    arn = _str(message, "AlarmArn")
    return _Alarm(
        name=_required_str(message, "AlarmName", "CloudWatch alarm notification"),
        state=_required_str(message, "NewStateValue", "CloudWatch alarm notification"),
        account=_str(message, "AWSAccountId") or _arn_part(arn, 4),
        region=_region(_arn_part(arn, 3), _str(message, "Region")),
        arns=[arn],
        description=_str(message, "AlarmDescription"),
        reason=_str(message, "NewStateReason"),
        metrics=_sns_metrics(_obj(message, "Trigger")),
        raw_id=arn,
    )


def _alarm_facts(alarm: _Alarm) -> ParsedEvent:
    state = alarm.state.upper()
    severity = {"ALARM": ALARM_SEVERITY, "OK": 0.0}.get(state, INSUFFICIENT_DATA_SEVERITY)
    names = _Names.empty()
    for _metric, dimensions in alarm.metrics:
        for key, value in dimensions.items():
            if key == "AutoScalingGroupName":
                names.asgs.append(value)
            elif key == "InstanceId":
                names.add(value)
            else:
                names.others.append(value)
    names.others += alarm.arns
    description = "\n".join(part for part in (alarm.description, alarm.reason) if part)
    alert = AlertFacts(
        kind="cloudwatch",
        fingerprint=f"cloudwatch:{alarm.account}:{alarm.region}:{alarm.name}",
        title=f"CloudWatch alarm {alarm.name} is {state}",
        description=description,
        severity=severity,
        finding_type=alarm.name,
        resolved=state == "OK",
        region=alarm.region,
        account=alarm.account,
        metric_name=next((name for name, _dims in alarm.metrics if name), ""),
        raw_id=alarm.raw_id,
        instance_ids=names.instance_ids(),
        asg_names=names.asg_names(),
        resource_ids=names.resource_ids(),
    )
    return ParsedEvent(alert)


# ---------------------------------------------------------------------------------------------
# Security Hub, AWS Health, EC2 and Auto Scaling
# ---------------------------------------------------------------------------------------------


def _security_hub(finding: JsonObject, envelope: JsonObject) -> ParsedEvent:
    where = "Security Hub finding"
    finding_id = _required_str(finding, "Id", where)
    severity_block = _obj(finding, "Severity")
    if "Normalized" in severity_block:
        severity = _clamp(_number(severity_block["Normalized"], "Security Hub Severity.Normalized") / 10)
    else:
        provider = _obj(_obj(finding, "FindingProviderFields"), "Severity")
        label = _str(severity_block, "Label") or _str(provider, "Label")
        severity = SECURITY_HUB_LABELS.get(label.upper(), 0.0)
    compliance = _obj(finding, "Compliance")
    product_fields = _obj(finding, "ProductFields")
    control = _str(compliance, "SecurityControlId") or _str(product_fields, "ControlId")
    workflow = _str(_obj(finding, "Workflow"), "Status") or _str(finding, "WorkflowState")
    names = _Names.empty()
    for resource in _list(finding, "Resources"):
        names.add(_str(resource, "Id"))
    sample = "[SAMPLE]" in _str(finding, "Title").upper() or any(
        key.endswith("additionalInfo/sample") and str(value).lower() == "true"
        for key, value in product_fields.items()
    )
    region = _region(_str(finding, "Region"), _str(envelope, "region"))
    alert = AlertFacts(
        kind="securityhub",
        fingerprint=f"securityhub:{finding_id}",
        title=_str(finding, "Title") or control or finding_id,
        description=_str(finding, "Description"),
        severity=severity,
        finding_type=control or _str(finding, "GeneratorId"),
        sample=sample,
        resolved=_str(compliance, "Status").upper() == "PASSED"
        or workflow.upper() in {"RESOLVED", "SUPPRESSED"}
        or _str(finding, "RecordState").upper() == "ARCHIVED",
        region=region,
        account=_str(finding, "AwsAccountId") or _str(envelope, "account"),
        raw_id=finding_id,
        instance_ids=names.instance_ids(),
        asg_names=names.asg_names(),
        resource_ids=names.resource_ids(),
    )
    return ParsedEvent(alert)


def _security_hub_findings(event: JsonObject) -> list[JsonObject]:
    detail = _required_obj(event, "detail", "Security Hub event")
    findings = [f for f in _list(detail, "findings") if isinstance(f, dict)]
    if not findings:
        raise EventFormatError("the Security Hub event has no findings in detail.findings")
    return findings


def _health(event: JsonObject) -> ParsedEvent:
    detail = _required_obj(event, "detail", "AWS Health event")
    where = "AWS Health event's detail"
    event_arn = _required_str(detail, "eventArn", where)
    type_code = _required_str(detail, "eventTypeCode", where)
    entities = _unique([_str(entity, "entityValue") for entity in _list(detail, "affectedEntities")])
    names = _Names.empty()
    for value in entities + [r for r in _list(event, "resources") if isinstance(r, str)]:
        names.add(value)
    descriptions = _list(detail, "eventDescription")
    english = [d for d in descriptions if _str(d, "language").lower().startswith("en")] or descriptions
    account = _str(event, "account") or _str(detail, "affectedAccount")
    alert = AlertFacts(
        kind="health",
        fingerprint=f"health:{account}:{event_arn}:{','.join(sorted(entities))}",
        title=f"AWS Health {_str(detail, 'service') or 'event'} {type_code}",
        description=_str(english[0], "latestDescription") if english else "",
        severity=HEALTH_SEVERITY,
        finding_type=type_code,
        resolved=_str(detail, "statusCode").lower() == "closed",
        region=_region(_str(detail, "eventRegion"), _str(event, "region")),
        account=account,
        raw_id=event_arn,
        instance_ids=names.instance_ids(),
        asg_names=names.asg_names(),
        resource_ids=names.resource_ids(),
    )
    return ParsedEvent(alert)


def _ec2_state_change(event: JsonObject) -> ParsedEvent:
    detail = _required_obj(event, "detail", "EC2 Instance State-change Notification")
    where = "EC2 state-change detail"
    instance_id = _required_str(detail, "instance-id", where)
    state = _required_str(detail, "state", where)
    account, region = _str(event, "account"), _region(_str(event, "region"))
    names = _Names.empty()
    names.add(instance_id)
    for value in _list(event, "resources"):
        names.add(value if isinstance(value, str) else "")
    alert = AlertFacts(
        kind="ec2",
        fingerprint=f"ec2:{account}:{region}:{instance_id}:{state}",
        title=f"EC2 instance {instance_id} is {state}",
        severity=STATE_EVENT_SEVERITY,
        finding_type=_str(event, "detail-type"),
        region=region,
        account=account,
        raw_id=_str(event, "id"),
        instance_ids=names.instance_ids(),
        asg_names=names.asg_names(),
        resource_ids=names.resource_ids(),
    )
    return ParsedEvent(alert)


def _autoscaling(event: JsonObject) -> ParsedEvent:
    detail_type = _required_str(event, "detail-type", "Auto Scaling event")
    detail = _required_obj(event, "detail", f"{detail_type} event")
    group = _required_str(detail, "AutoScalingGroupName", f"{detail_type} detail")
    instance_id = _str(detail, "EC2InstanceId")
    account, region = _str(event, "account"), _region(_str(event, "region"))
    names = _Names.empty()
    names.asgs.append(group)
    names.add(instance_id)
    names.others += [value for value in _list(event, "resources") if isinstance(value, str)]
    per_instance = "Lifecycle Action" in detail_type and instance_id
    slug = re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-")
    fingerprint = f"autoscaling:{account}:{region}:{group}:{slug}" + (
        f":{instance_id}" if per_instance else ""
    )
    description = "\n".join(
        part
        for part in (_str(detail, "StatusMessage"), _str(detail, "Cause"), _str(detail, "Description"))
        if part
    )
    alert = AlertFacts(
        kind="autoscaling",
        fingerprint=fingerprint,
        title=f"{detail_type} in Auto Scaling group {group}",
        description=description,
        severity=STATE_EVENT_SEVERITY,
        finding_type=detail_type,
        region=region,
        account=account,
        raw_id=_str(event, "id"),
        instance_ids=names.instance_ids(),
        asg_names=names.asg_names(),
        resource_ids=names.resource_ids(),
    )
    return ParsedEvent(alert)


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------


def _classify(data: JsonObject) -> list[ParsedEvent]:
    source = _str(data, "source")
    detail_type = _str(data, "detail-type")
    if detail_type == "GuardDuty Finding" or source == "aws.guardduty":
        return [_guardduty(_required_obj(data, "detail", "GuardDuty Finding event"), data)]
    if _is_guardduty_finding(data):
        return [_guardduty(data, {})]
    if detail_type == "CloudWatch Alarm State Change":
        return [_alarm_facts(_alarm_from_eventbridge(data))]
    if "alarmData" in data:
        return [_alarm_facts(_alarm_from_lambda_action(data))]
    if "AlarmName" in data and "NewStateValue" in data:
        return [_alarm_facts(_alarm_from_sns(data))]
    if source == "aws.securityhub" or detail_type.startswith("Security Hub Findings"):
        return [_security_hub(finding, data) for finding in _security_hub_findings(data)]
    if "SchemaVersion" in data and "ProductArn" in data:
        return [_security_hub(data, {})]
    if source == "aws.health" or detail_type == "AWS Health Event":
        return [_health(data)]
    if source == "aws.ec2" and detail_type == "EC2 Instance State-change Notification":
        return [_ec2_state_change(data)]
    if source == "aws.autoscaling":
        return [_autoscaling(data)]
    if source or detail_type:
        raise EventFormatError(
            f"opsbot does not read {source or 'unknown-source'} '{detail_type or 'no detail-type'}' events "
            "(it reads GuardDuty, CloudWatch alarm, Security Hub, AWS Health, EC2 and Auto Scaling events)"
        )
    keys = ", ".join(sorted(str(key) for key in data)[:6]) or "no keys"
    raise EventFormatError(f"the JSON object is not an AWS event opsbot knows (it has {keys})")


def parse_events_detailed(payload: object) -> list[ParsedEvent]:
    """Every alert in ``payload`` (SNS batches and Security Hub events may hold several)."""
    try:
        return [parsed for inner in _unwrap(payload) for parsed in _classify(inner)]
    except EventFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as error:
        raise EventFormatError(f"the event is malformed ({type(error).__name__}: {error})") from None


def parse_events(payload: object) -> list[AlertFacts]:
    return [parsed.alert for parsed in parse_events_detailed(payload)]


def parse_event(payload: object) -> AlertFacts:
    """The (first) alert in ``payload``, normalised; ``EventFormatError`` for anything else."""
    return parse_events_detailed(payload)[0].alert


# ---------------------------------------------------------------------------------------------
# Alert -> Intent
# ---------------------------------------------------------------------------------------------


def _guardduty_action(alert: AlertFacts, resource_role: str) -> tuple[str, dict[str, Any]]:
    purpose, _, rest = alert.finding_type.partition(":")
    resource_type = rest.split("/", 1)[0]
    instance = alert.instance_ids[0] if alert.instance_ids else None
    if resource_type == "IAMUser":
        return "investigate", {"resource": (alert.resource_ids or [alert.raw_id])[0]}
    on_instance = instance is not None and resource_type not in NON_INSTANCE_RESOURCE_TYPES
    if on_instance and (purpose in ISOLATE_PURPOSES or resource_role.upper() == "ACTOR"):
        return "isolate_instance", {"instance_id": instance, "region": alert.region}
    network_attack = any(marker in alert.finding_type.lower() for marker in NETWORK_ATTACK_MARKERS)
    if network_attack and alert.remote_ips:
        prefix = ipaddress.ip_address(alert.remote_ips[0]).max_prefixlen
        return "block_ip", {"cidr": f"{alert.remote_ips[0]}/{prefix}", "region": alert.region}
    return "investigate", {"resource": instance or (alert.resource_ids or [alert.raw_id])[0]}


def _alert_action(alert: AlertFacts, resource_role: str) -> tuple[str, dict[str, Any]]:
    if alert.kind == "guardduty":
        return _guardduty_action(alert, resource_role)
    if alert.kind == "cloudwatch":
        in_alarm = not alert.resolved and alert.severity >= ALARM_SEVERITY
        if in_alarm and alert.asg_names:
            return "scale_asg", {"asg_name": alert.asg_names[0], "region": alert.region}
        return "investigate", {"resource": alert.finding_type}
    if alert.kind == "health" and alert.instance_ids and not alert.resolved:
        return "snapshot_instance", {"instance_id": alert.instance_ids[0], "region": alert.region}
    if alert.kind == "autoscaling" and alert.asg_names:
        return "investigate", {"resource": alert.asg_names[0]}
    candidates = alert.instance_ids + alert.resource_ids + alert.asg_names
    return "investigate", {"resource": candidates[0] if candidates else alert.raw_id or alert.fingerprint}


def _summary(alert: AlertFacts) -> str:
    """One line from structured fields only (the title is untrusted and stays in ``alert``)."""
    targets = ", ".join((alert.instance_ids + alert.asg_names + alert.remote_ips)[:3]) or "no named resource"
    flags = "".join(
        f" [{flag}]" for flag, on in (("sample", alert.sample), ("resolved", alert.resolved)) if on
    )
    return (
        f"{alert.kind} {alert.finding_type} (severity {alert.severity:g}) on {targets} "
        f"in {alert.region}, account {alert.account or 'unknown'}{flags}"
    )


def intent_from_alert(alert: AlertFacts, *, resource_role: str = "") -> Intent:
    """The natural first action for ``alert``; policy and audit decide whether it runs.

    ``resource_role`` is GuardDuty's TARGET/ACTOR (AlertFacts has no field for it).  Without it, an
    instance acting as the attacker is investigated rather than isolated, unless its finding type
    alone calls for isolation.  ``intent_from_event`` passes it for you.
    """
    action, params = _alert_action(alert, resource_role)
    cidrs = [f"{ip}/{ipaddress.ip_address(ip).max_prefixlen}" for ip in alert.remote_ips]
    named = list(
        dict.fromkeys(alert.instance_ids + alert.asg_names + alert.remote_ips + cidrs + alert.resource_ids)
    )
    return Intent(
        action=action,
        params=params,
        source="alert",
        text=_summary(alert),
        alert=alert,
        named_resources=named,
        untrusted_directives=find_directives(f"{alert.title}\n{alert.description}"),
    )


def intent_from_event(payload: object) -> Intent:
    """``parse_event`` and ``intent_from_alert`` in one step, with the facts AlertFacts cannot hold."""
    parsed = parse_events_detailed(payload)[0]
    return intent_from_alert(parsed.alert, resource_role=parsed.resource_role)


__all__ = [
    "EventFormatError",
    "ParsedEvent",
    "intent_from_alert",
    "intent_from_event",
    "is_public_ip",
    "parse_event",
    "parse_events",
    "parse_events_detailed",
]
