"""AWS Health, EC2 instance state-change and EC2 Auto Scaling events become ``AlertFacts``."""

from __future__ import annotations

import re

from graph.models import AlertFacts
from graph.parsing.alert_resources import ResourceNames
from graph.parsing.distinct import distinct
from graph.parsing.event_fields import (
    JsonObject,
    ParsedEvent,
    event_origin,
    pick_region,
    read_list,
    read_str,
    read_strings,
    required_obj,
    required_str,
)

HEALTH_SEVERITY = 5.0
STATE_EVENT_SEVERITY = 3.0


def health_event(event: JsonObject) -> ParsedEvent:
    detail = required_obj(event, "detail", "AWS Health event")
    where = "AWS Health event's detail"
    event_arn = required_str(detail, "eventArn", where)
    type_code = required_str(detail, "eventTypeCode", where)
    entities = distinct([read_str(entity, "entityValue") for entity in read_list(detail, "affectedEntities")])
    names = ResourceNames.empty()
    for value in entities + read_strings(event, "resources"):
        names.add(value)
    descriptions = read_list(detail, "eventDescription")
    english = [d for d in descriptions if read_str(d, "language").lower().startswith("en")] or descriptions
    account = read_str(event, "account") or read_str(detail, "affectedAccount")
    alert = AlertFacts(
        kind="health",
        fingerprint=f"health:{account}:{event_arn}:{','.join(sorted(entities))}",
        title=f"AWS Health {read_str(detail, 'service') or 'event'} {type_code}",
        description=read_str(english[0], "latestDescription") if english else "",
        severity=HEALTH_SEVERITY,
        finding_type=type_code,
        resolved=read_str(detail, "statusCode").lower() == "closed",
        region=pick_region(read_str(detail, "eventRegion"), read_str(event, "region")),
        account=account,
        raw_id=event_arn,
        **names.fields(),
    )
    return ParsedEvent(alert)


def ec2_state_change(event: JsonObject) -> ParsedEvent:
    detail = required_obj(event, "detail", "EC2 Instance State-change Notification")
    where = "EC2 state-change detail"
    instance_id = required_str(detail, "instance-id", where)
    state = required_str(detail, "state", where)
    account, region = event_origin(event)
    names = ResourceNames.empty()
    for value in [instance_id, *read_strings(event, "resources")]:
        names.add(value)
    alert = AlertFacts(
        kind="ec2",
        fingerprint=f"ec2:{account}:{region}:{instance_id}:{state}",
        title=f"EC2 instance {instance_id} is {state}",
        severity=STATE_EVENT_SEVERITY,
        finding_type=read_str(event, "detail-type"),
        region=region,
        account=account,
        raw_id=read_str(event, "id"),
        **names.fields(),
    )
    return ParsedEvent(alert)


def autoscaling_event(event: JsonObject) -> ParsedEvent:
    detail_type = required_str(event, "detail-type", "Auto Scaling event")
    detail = required_obj(event, "detail", f"{detail_type} event")
    group = required_str(detail, "AutoScalingGroupName", f"{detail_type} detail")
    instance_id = read_str(detail, "EC2InstanceId")
    account, region = event_origin(event)
    names = ResourceNames.empty()
    names.asgs.append(group)
    names.add(instance_id)
    names.others += read_strings(event, "resources")
    per_instance = "Lifecycle Action" in detail_type and instance_id
    slug = re.sub(r"[^a-z0-9]+", "-", detail_type.lower()).strip("-")
    fingerprint = f"autoscaling:{account}:{region}:{group}:{slug}" + (
        f":{instance_id}" if per_instance else ""
    )
    causes = (read_str(detail, "StatusMessage"), read_str(detail, "Cause"), read_str(detail, "Description"))
    alert = AlertFacts(
        kind="autoscaling",
        fingerprint=fingerprint,
        title=f"{detail_type} in Auto Scaling group {group}",
        description="\n".join(part for part in causes if part),
        severity=STATE_EVENT_SEVERITY,
        finding_type=detail_type,
        region=region,
        account=account,
        raw_id=read_str(event, "id"),
        **names.fields(),
    )
    return ParsedEvent(alert)
