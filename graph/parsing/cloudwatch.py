"""CloudWatch alarms become ``AlertFacts``, from any of the three shapes AWS delivers them in.

The shapes: an EventBridge "CloudWatch Alarm State Change" event, the event a Lambda alarm action
receives, and the SNS notification of an alarm.  Each is read into ``AlarmReport`` first, so one
function turns every shape into the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graph.models import AlertFacts
from graph.parsing.alert_resources import ResourceNames
from graph.parsing.event_fields import (
    JsonObject,
    ParsedEvent,
    arn_part,
    pick_region,
    read_list,
    read_obj,
    read_str,
    read_strings,
    required_obj,
    required_str,
)

ALARM_SEVERITY = 7.0
INSUFFICIENT_DATA_SEVERITY = 2.0

Metric = tuple[str, dict[str, str]]  # (metric name, dimensions)


@dataclass
class AlarmReport:
    name: str
    state: str
    account: str
    region: str
    arns: list[str]
    description: str
    reason: str
    metrics: list[Metric]  # data-returning metrics first
    raw_id: str


def _config_metrics(configuration: JsonObject) -> list[Metric]:
    found: list[tuple[bool, str, dict[str, str]]] = []
    for metric in read_list(configuration, "metrics"):
        stat_metric = read_obj(read_obj(metric, "metricStat"), "metric")
        if stat_metric:
            dimensions = {str(k): str(v) for k, v in read_obj(stat_metric, "dimensions").items()}
            found.append((metric.get("returnData") is True, read_str(stat_metric, "name"), dimensions))
    found.sort(key=lambda item: not item[0])
    return [(name, dims) for _returns, name, dims in found]


def _sns_metrics(trigger: JsonObject) -> list[Metric]:
    def dims(raw: list[Any]) -> dict[str, str]:
        return {
            read_str(d, "name"): read_str(d, "value")
            for d in raw
            if isinstance(d, dict) and read_str(d, "name")
        }

    if read_str(trigger, "MetricName"):
        return [(read_str(trigger, "MetricName"), dims(read_list(trigger, "Dimensions")))]
    found: list[Metric] = []
    for metric in read_list(trigger, "Metrics"):
        stat_metric = read_obj(read_obj(metric, "MetricStat"), "Metric")
        if stat_metric:
            found.append((read_str(stat_metric, "MetricName"), dims(read_list(stat_metric, "Dimensions"))))
    return found


def _configured_alarm(
    holder: JsonObject, holder_key: str, what: str, *, account: str, region: str, arns: list[str], raw_id: str
) -> AlarmReport:
    """The alarm in ``holder``: the EventBridge event's ``detail`` or the Lambda action's ``alarmData``."""
    where = f"{what}'s {holder_key}"
    state = required_obj(holder, "state", where)
    configuration = read_obj(holder, "configuration")
    return AlarmReport(
        name=required_str(holder, "alarmName", where),
        state=required_str(state, "value", f"{what}'s state"),
        account=account,
        region=region,
        arns=arns,
        description=read_str(configuration, "description"),
        reason=read_str(state, "reason"),
        metrics=_config_metrics(configuration),
        raw_id=raw_id,
    )


def alarm_from_eventbridge(event: JsonObject) -> AlarmReport:
    detail = required_obj(event, "detail", "CloudWatch Alarm State Change event")
    arns = read_strings(event, "resources")
    return _configured_alarm(
        detail,
        "detail",
        "alarm event",
        account=read_str(event, "account"),
        region=pick_region(read_str(event, "region"), *(arn_part(arn, 3) for arn in arns)),
        arns=arns,
        raw_id=read_str(event, "id"),
    )


def alarm_from_lambda_action(event: JsonObject) -> AlarmReport:
    data = required_obj(event, "alarmData", "alarm action event")
    arn = read_str(event, "alarmArn")
    return _configured_alarm(
        data,
        "alarmData",
        "alarm action event",
        account=read_str(event, "accountId") or arn_part(arn, 4),
        region=pick_region(read_str(event, "region"), arn_part(arn, 3)),
        arns=[arn],
        raw_id=arn or read_str(event, "time"),
    )


def alarm_from_sns(message: JsonObject) -> AlarmReport:
    arn = read_str(message, "AlarmArn")
    return AlarmReport(
        name=required_str(message, "AlarmName", "CloudWatch alarm notification"),
        state=required_str(message, "NewStateValue", "CloudWatch alarm notification"),
        account=read_str(message, "AWSAccountId") or arn_part(arn, 4),
        region=pick_region(arn_part(arn, 3), read_str(message, "Region")),
        arns=[arn],
        description=read_str(message, "AlarmDescription"),
        reason=read_str(message, "NewStateReason"),
        metrics=_sns_metrics(read_obj(message, "Trigger")),
        raw_id=arn,
    )


def alarm_facts(alarm: AlarmReport) -> ParsedEvent:
    state = alarm.state.upper()
    severity = {"ALARM": ALARM_SEVERITY, "OK": 0.0}.get(state, INSUFFICIENT_DATA_SEVERITY)
    names = ResourceNames.empty()
    for _metric, dimensions in alarm.metrics:
        for key, value in dimensions.items():
            if key == "AutoScalingGroupName":
                names.asgs.append(value)
            elif key == "InstanceId":
                names.add(value)
            else:
                names.others.append(value)
    names.others += alarm.arns
    alert = AlertFacts(
        kind="cloudwatch",
        fingerprint=f"cloudwatch:{alarm.account}:{alarm.region}:{alarm.name}",
        title=f"CloudWatch alarm {alarm.name} is {state}",
        description="\n".join(part for part in (alarm.description, alarm.reason) if part),
        severity=severity,
        finding_type=alarm.name,
        resolved=state == "OK",
        region=alarm.region,
        account=alarm.account,
        metric_name=next((name for name, _dims in alarm.metrics if name), ""),
        raw_id=alarm.raw_id,
        **names.fields(),
    )
    return ParsedEvent(alert)
