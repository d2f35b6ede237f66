"""AWS alert payloads, in any envelope they arrive in, become ``AlertFacts`` and then an ``Intent``.

Envelopes (SNS HTTP delivery, SNS->Lambda ``Records``, SQS ``body``, JSON strings) are unwrapped
recursively.  Sources: GuardDuty, CloudWatch alarms (EventBridge, SNS and Lambda-action shapes),
Security Hub, AWS Health, EC2 state changes and EC2 Auto Scaling, each read in its own module.
Slack Events API messages posted by alert integrations are read in ``slack_posts``.
Anything else raises ``EventFormatError`` with a one-line message, never another exception type.

Only structured fields name resources.  Titles and descriptions are untrusted free text.
"""

from __future__ import annotations

from graph.models import AlertFacts, Intent
from graph.parsing.alert_intent import intent_from_alert
from graph.parsing.alert_resources import is_public_ip
from graph.parsing.aws_state_events import autoscaling_event, ec2_state_change, health_event
from graph.parsing.cloudwatch import (
    alarm_facts,
    alarm_from_eventbridge,
    alarm_from_lambda_action,
    alarm_from_sns,
)
from graph.parsing.envelopes import unwrap
from graph.parsing.event_fields import EventFormatError, JsonObject, ParsedEvent, read_str, required_obj
from graph.parsing.guardduty import guardduty_finding, is_guardduty_finding
from graph.parsing.securityhub import security_hub_finding, security_hub_findings
from graph.parsing.slack_posts import is_slack_event, post_events


def _classify(data: JsonObject) -> list[ParsedEvent]:
    if is_slack_event(data):
        return post_events(data)
    source = read_str(data, "source")
    detail_type = read_str(data, "detail-type")
    if detail_type == "GuardDuty Finding" or source == "aws.guardduty":
        return [guardduty_finding(required_obj(data, "detail", "GuardDuty Finding event"), data)]
    if is_guardduty_finding(data):
        return [guardduty_finding(data, {})]
    if detail_type == "CloudWatch Alarm State Change":
        return [alarm_facts(alarm_from_eventbridge(data))]
    if "alarmData" in data:
        return [alarm_facts(alarm_from_lambda_action(data))]
    if "AlarmName" in data and "NewStateValue" in data:
        return [alarm_facts(alarm_from_sns(data))]
    if source == "aws.securityhub" or detail_type.startswith("Security Hub Findings"):
        return [security_hub_finding(finding, data) for finding in security_hub_findings(data)]
    if "SchemaVersion" in data and "ProductArn" in data:
        return [security_hub_finding(data, {})]
    if source == "aws.health" or detail_type == "AWS Health Event":
        return [health_event(data)]
    if source == "aws.ec2" and detail_type == "EC2 Instance State-change Notification":
        return [ec2_state_change(data)]
    if source == "aws.autoscaling":
        return [autoscaling_event(data)]
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
        return [parsed for inner in unwrap(payload) for parsed in _classify(inner)]
    except EventFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as error:
        raise EventFormatError(f"the event is malformed ({type(error).__name__}: {error})") from None


def parse_events(payload: object) -> list[AlertFacts]:
    return [parsed.alert for parsed in parse_events_detailed(payload)]


def parse_event(payload: object) -> AlertFacts:
    """The (first) alert in ``payload``, normalised; ``EventFormatError`` for anything else."""
    return parse_events_detailed(payload)[0].alert


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
