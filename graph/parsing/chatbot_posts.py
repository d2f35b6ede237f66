"""AWS Chatbot (Amazon Q Developer) posts become ``AlertFacts``.

Chatbot titles its posts ``CloudWatch Alarm | <name> | <region> | Account: <id>`` or
``GuardDuty Finding | <region> | Account: <id>``; only those fixed positions and the post's titled
fields name resources.  Other Chatbot posts are refused by their service name.
"""

from __future__ import annotations

import re

from graph.parsing.cloudwatch import AlarmReport, alarm_facts
from graph.parsing.console_links import guardduty_finding_id
from graph.parsing.event_fields import EventFormatError, ParsedEvent, pick_region
from graph.parsing.guardduty import guardduty_finding
from graph.parsing.posted_states import color_state, guardduty_severity
from graph.parsing.slack_post_reading import SlackPost

STATE_MARKS = (
    ("OK", (":white_check_mark:", "\u2705", ":large_green_circle:", "\U0001f7e2")),
    ("INSUFFICIENT_DATA", (":warning:", "\u26a0", ":grey_question:", "\u2754")),
    ("ALARM", (":rotating_light:", "\U0001f6a8", ":x:", "\u274c", ":red_circle:", "\U0001f534")),
)

_CHATBOT_RE = re.compile(
    r"(?P<service>CloudWatch Alarm|GuardDuty Finding)\s*\|(?P<middle>.*)\|\s*Account:\s*(?P<account>\d{12})\b"
)
_CHATBOT_OTHER_RE = re.compile(r"(?P<service>[A-Z][A-Za-z0-9 ]{2,40}?)\s*\|.*\|\s*Account:\s*\d{12}\b")
_STATE_WORD_RE = re.compile(r"\b(INSUFFICIENT_DATA|ALARM|OK)\b")


def _alarm_state(prefix: str, colors: list[str]) -> str:
    """The state shown before the title: an emoji, a state word, else the attachment colour."""
    for state, marks in STATE_MARKS:
        if any(mark in prefix for mark in marks):
            return state
    word = _STATE_WORD_RE.search(prefix.upper())
    if word:
        return word[1]
    return color_state(colors)


def _alarm(post: SlackPost, title: str, match: re.Match[str], body: list[str]) -> ParsedEvent:
    name, _bar, region = match["middle"].rpartition("|")
    if not name.strip():
        raise EventFormatError("the AWS Chatbot alarm post names no alarm")
    state = _alarm_state(title[: match.start()], post.colors)
    if not state:
        raise EventFormatError("the AWS Chatbot alarm post does not show the alarm's state")
    alarm = AlarmReport(
        name=name.strip(),
        state=state,
        account=match["account"],
        region=pick_region(region.strip()),
        arns=[],
        description=post.value("Alarm Description"),
        reason="\n".join(body),
        metrics=[],
        raw_id=post.ref,
    )
    return alarm_facts(alarm)


def _guardduty(post: SlackPost, match: re.Match[str], body: list[str]) -> ParsedEvent:
    finding_id = post.known("Finding ID") or guardduty_finding_id(post.links)
    if not finding_id:
        raise EventFormatError("the AWS Chatbot GuardDuty post names no finding id")
    severity = post.value("Severity")
    if not severity:
        raise EventFormatError("the AWS Chatbot GuardDuty post shows no severity")
    finding = {
        "id": finding_id,
        "type": post.value("Finding Type", "Type"),
        "severity": guardduty_severity(severity),
        "accountId": match["account"],
        "region": match["middle"].strip(),
        "title": body[0] if body else "",
        "description": "\n".join(body),
    }
    return guardduty_finding(finding, {})


def chatbot_alert(post: SlackPost) -> ParsedEvent | None:
    """The alert of an AWS Chatbot post; ``None`` when the post is not one."""
    for text in post.texts:
        match = _CHATBOT_RE.search(text)
        if match is None:
            continue
        body = [other for other in post.texts if not _CHATBOT_RE.search(other)]
        if match["service"] == "CloudWatch Alarm":
            return _alarm(post, text, match, body)
        return _guardduty(post, match, body)
    for text in post.texts:
        other = _CHATBOT_OTHER_RE.search(text)
        if other:
            raise EventFormatError(
                f"opsbot does not read AWS Chatbot '{other['service']}' posts "
                "(it reads CloudWatch Alarm and GuardDuty Finding posts)"
            )
    return None
