"""Where a report goes: a Slack channel (through a poster callable) and email (Amazon SES)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.blocks_common import Block
from runtime.audit_log import AuditLog
from runtime.reviews.render_slack import report_blocks, report_fallback
from runtime.reviews.render_text import report_text
from runtime.reviews.report import Report
from tools.base import AwsClients, ToolError
from tools.context import aws_errors

# post(channel, text, blocks): chat.postMessage in production, anything that records in tests.
Poster = Callable[[str, str, list[Block]], None]


def slack_poster(client: Any) -> Poster:
    """A poster over a ``slack_sdk.WebClient`` (see ``bot.web_client.make_web_client``)."""

    def post(channel: str, text: str, blocks: list[Block]) -> None:
        client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False)

    return post


def post_report(post: Poster, channel: str, report: Report) -> None:
    post(channel, report_fallback(report), report_blocks(report))


def email_subject(report: Report) -> str:
    return f"opsbot: {report.title}, {report.period}"


def email_report(
    clients: AwsClients, region: str, sender: str, recipients: Sequence[str], report: Report
) -> str:
    """Send the report's text through SES from ``sender`` (a verified identity); the SES message id."""
    if not recipients:
        raise ValueError("no recipients: set OPSBOT_REPORT_EMAILS to a comma-separated list of addresses.")
    with aws_errors(f"email the {report.review} report through SES in {region}"):
        reply = clients.client("ses", region).send_email(
            Source=sender,
            Destination={"ToAddresses": list(recipients)},
            Message={
                "Subject": {"Data": email_subject(report), "Charset": "UTF-8"},
                "Body": {"Text": {"Data": report_text(report), "Charset": "UTF-8"}},
            },
        )
    return str(reply["MessageId"])


@dataclass(frozen=True)
class Destinations:
    """Where a run delivers: a channel (with the poster that reaches it) and SES email."""

    channel: str | None = None
    post: Poster | None = None
    ses_region: str = "us-east-1"
    sender: str | None = None
    recipients: tuple[str, ...] = ()

    @property
    def posts(self) -> bool:
        return bool(self.channel) and self.post is not None

    @property
    def emails(self) -> bool:
        return bool(self.sender) and bool(self.recipients)

    @property
    def any(self) -> bool:
        return self.posts or self.emails


@dataclass(frozen=True)
class Delivery:
    posted_to: str | None = None
    emailed_to: tuple[str, ...] = ()
    ses_message_id: str | None = None
    errors: tuple[str, ...] = ()


def deliver(report: Report, clients: AwsClients, to: Destinations) -> Delivery:
    """Post and email the report where ``to`` says; a failed delivery is reported, never raised, so the
    other still happens and the run is not repeated (a repeat would post twice)."""
    posted_to: str | None = None
    emailed_to: tuple[str, ...] = ()
    message_id: str | None = None
    errors: list[str] = []
    if to.posts and to.channel and to.post:
        try:
            post_report(to.post, to.channel, report)
            posted_to = to.channel
        except Exception as error:  # any poster failure is reported, not raised
            errors.append(f"posting to {to.channel} failed: {error}")
    if to.emails and to.sender:
        try:
            message_id = email_report(clients, to.ses_region, to.sender, to.recipients, report)
            emailed_to = to.recipients
        except (ToolError, ValueError) as error:
            errors.append(str(error))
    return Delivery(posted_to, emailed_to, message_id, tuple(errors))


def audit_review(
    audit: AuditLog,
    name: str,
    period: str,
    trigger: str,
    report: Report | None = None,
    delivery: Delivery | None = None,
    error: str | None = None,
) -> None:
    """One ``review`` entry per run: what ran, its totals, where it went and what failed."""
    errors = [error] if error else []
    errors += list(delivery.errors) if delivery else []
    data: dict[str, Any] = {
        "review": name,
        "period": period,
        "trigger": trigger,
        "status": "failed" if report is None else ("partial" if errors else "ok"),
        "totals": report.summary() if report else {},
        "requests": report.requests() if report else [],
        "posted_to": delivery.posted_to if delivery else None,
        "emailed_to": list(delivery.emailed_to) if delivery else [],
        "ses_message_id": delivery.ses_message_id if delivery else None,
        "errors": errors,
    }
    audit.append("review", f"review:{name}:{period}", data)
