"""terraform-aws-notify-slack attachments become ``AlertFacts``.

The module posts a CloudWatch alarm, a GuardDuty finding, an AWS Health event or a Security Hub (or
Inspector) finding as an attachment with titled fields.  Each is rebuilt as the AWS fields it shows
and read by that service's own parser, so a post and the event it came from decide alike.
"""

from __future__ import annotations

import dataclasses

from graph.parsing.aws_state_events import health_event
from graph.parsing.cloudwatch import AlarmReport, alarm_facts
from graph.parsing.console_links import guardduty_finding_id, link_params, security_hub_finding_id
from graph.parsing.event_fields import EventFormatError, ParsedEvent, pick_region
from graph.parsing.guardduty import guardduty_finding
from graph.parsing.posted_states import color_state, guardduty_severity
from graph.parsing.securityhub import security_hub_finding
from graph.parsing.slack_post_reading import UNKNOWN_VALUES, SlackPost

GUARDDUTY_TITLE_PREFIXES = ("GuardDuty Finding: ", "AWS GuardDuty Finding - ")


def _text_after(post: SlackPost, prefixes: tuple[str, ...]) -> str:
    for text in post.texts:
        for prefix in prefixes:
            if text.startswith(prefix):
                return text[len(prefix) :].strip()
    return ""


def _alarm(post: SlackPost) -> ParsedEvent:
    if not post.value("Alarm Name"):
        raise EventFormatError("the CloudWatch alarm post has an empty 'Alarm Name'")
    state = post.known("Current State") or color_state(post.colors)
    if not state:
        raise EventFormatError("the CloudWatch alarm post shows no 'Current State'")
    alarm = AlarmReport(
        name=post.value("Alarm Name"),
        state=state,
        account="",  # terraform-aws-notify-slack does not post the account
        region=pick_region(link_params(post.value("Link to Alarm")).get("region", "")),
        arns=[],
        description=post.value("Alarm Description"),
        reason=post.value("Alarm reason"),
        metrics=[],
        raw_id=post.ref,
    )
    return alarm_facts(alarm)


def _guardduty(post: SlackPost) -> ParsedEvent:
    link = post.value("Link to Finding")
    finding_id = guardduty_finding_id([link])
    if not finding_id:
        raise EventFormatError("the GuardDuty post's 'Link to Finding' names no finding id")
    finding = {
        "id": finding_id,
        "type": post.value("Finding Type"),
        "severity": guardduty_severity(post.value("Severity")),
        "accountId": post.known("Account ID"),
        "region": link_params(link).get("region", ""),
        "title": _text_after(post, GUARDDUTY_TITLE_PREFIXES),
        "description": post.value("Description"),
    }
    return guardduty_finding(finding, {})


def _health(post: SlackPost) -> ParsedEvent:
    """Rebuilt as an AWS Health event; the post shows no event ARN, so where, what and when stand in."""
    code = post.value("Code")
    if not code:
        raise EventFormatError("the AWS Health post has an empty 'Code'")
    posted_region = post.known("Affected Region")
    link_region = link_params(post.value("Link to Event")).get("region", "")
    listed = (item.strip() for item in post.known("Affected Resources").split(","))
    resources = sorted({item for item in listed if len(item) > 2 and item.lower() not in UNKNOWN_VALUES})
    event = {
        "region": link_region,
        "detail": {
            "eventArn": f"{pick_region(posted_region, link_region)}:{code}:{post.known('Start Time')}",
            "eventTypeCode": code,
            "service": post.known("Affected Service"),
            "eventRegion": posted_region,
            "affectedEntities": [{"entityValue": resource} for resource in resources],
            "eventDescription": [{"language": "en", "latestDescription": post.value("Event Description")}],
        },
    }
    parsed = health_event(event)
    return dataclasses.replace(parsed, alert=parsed.alert.model_copy(update={"raw_id": post.ref}))


def _security_hub(post: SlackPost) -> ParsedEvent:
    """Rebuilt as the ASFF fields the post shows, so the Security Hub parser decides as it always does."""
    url = post.value("Finding Url")
    finding_id = security_hub_finding_id(url)
    if not finding_id:
        raise EventFormatError("the Security Hub post's 'Finding Url' names no finding id")
    resource = post.known("Affected Resource")
    finding = {
        "Id": finding_id,
        "Title": post.known("Title"),
        "Description": post.known("Description"),
        "Severity": {"Label": post.value("Severity")},
        "Compliance": {"Status": post.value("Compliance Status")},
        "ProductFields": {"ControlId": post.known("Control ID")},
        "GeneratorId": post.known("Generator"),
        "Resources": [{"Id": resource}] if resource else [],
        "Region": link_params(url).get("region", ""),
        "AwsAccountId": post.known("Account ID"),
    }
    return security_hub_finding(finding, {})


def notify_slack_alert(post: SlackPost) -> ParsedEvent | None:
    """The alert of a terraform-aws-notify-slack attachment; ``None`` when the post is not one."""
    if post.has("Alarm Name") and (post.has("Current State") or post.has("Alarm reason")):
        return _alarm(post)
    if post.has("Finding Type", "Link to Finding"):
        return _guardduty(post)
    if post.has("Affected Service", "Code"):
        return _health(post)
    if post.has("Compliance Status", "Finding Url"):
        return _security_hub(post)
    return None
