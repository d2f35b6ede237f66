"""`opsbot review {daily_compliance,weekly_capacity,monthly_cost} [--post] [--email] [--region R]`.

Prints the report as text, read from the configured AWS (AWS_ENDPOINT_URL works with moto). ``--post``
also posts it to OPSBOT_REPORTS_CHANNEL (needs SLACK_BOT_TOKEN); ``--email`` sends it through SES from
OPSBOT_SES_SENDER to OPSBOT_REPORT_EMAILS. A delivered report gets a ``review`` entry in the audit log.
Hooked into cli/main.py's parser with ``add_review_command(sub)``; errors are ``ValueError``s that
cli/main.py prints as one ``opsbot: ...`` line.
"""

from __future__ import annotations

import argparse
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError

from bot.web_client import make_web_client
from policies.engine import load_prices
from runtime.audit_log import AuditLog
from runtime.config import Settings
from runtime.reviews.catalog import ReviewInputs, review_name, run_review
from runtime.reviews.delivery import Destinations, audit_review, deliver, slack_poster
from runtime.reviews.render_text import report_text
from runtime.reviews.report import REVIEW_NAMES
from tools.base import AwsClients, ToolError
from tools.context import describe_error


def destinations(args: argparse.Namespace, settings: Settings) -> Destinations:
    """Where ``--post`` and ``--email`` send the report; ValueError naming the missing setting."""
    channel, post = None, None
    if args.post:
        if not settings.reports_channel:
            raise ValueError("--post needs OPSBOT_REPORTS_CHANNEL, the channel to post reports to.")
        if settings.slack_bot_token is None:
            raise ValueError("--post needs SLACK_BOT_TOKEN.")
        client = make_web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        channel, post = settings.reports_channel, slack_poster(client)
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    if args.email:
        if not settings.ses_sender:
            raise ValueError("--email needs OPSBOT_SES_SENDER, a sender address verified in SES.")
        if not settings.report_emails:
            raise ValueError("--email needs OPSBOT_REPORT_EMAILS, a comma-separated list of addresses.")
        sender, recipients = settings.ses_sender, tuple(settings.report_emails)
    return Destinations(channel, post, settings.aws_region, sender, recipients)


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    name = review_name(args.review)
    to = destinations(args, settings)
    clients = AwsClients(endpoint_url=settings.aws_endpoint_url)
    audit = AuditLog(settings.audit_log_path)
    now = time.time()
    inputs = ReviewInputs(clients, args.region or [settings.aws_region], audit, load_prices(), now)
    try:
        report = run_review(name, inputs)
    except ToolError as error:
        raise ValueError(str(error)) from error
    except (ClientError, BotoCoreError) as error:
        raise ValueError(f"the {name} review could not read AWS: {describe_error(error)}") from error
    print(report_text(report), end="")
    if not to.any:
        return 0
    delivery = deliver(report, clients, to)
    audit_review(audit, name, report.period, "cli", report, delivery)
    if delivery.posted_to:
        print(f"posted to {delivery.posted_to}")
    if delivery.emailed_to:
        print(f"emailed to {', '.join(delivery.emailed_to)} (SES message {delivery.ses_message_id})")
    for problem in delivery.errors:
        print(f"opsbot: {problem}", file=sys.stderr)
    return 1 if delivery.errors else 0


def add_review_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "review", help="run a read-only review (compliance, capacity, cost) and print it; changes nothing"
    )
    command.add_argument("review", choices=REVIEW_NAMES, help="which review to run")
    command.add_argument("--post", action="store_true", help="also post it to $OPSBOT_REPORTS_CHANNEL")
    command.add_argument(
        "--email", action="store_true", help="also email it through SES to $OPSBOT_REPORT_EMAILS"
    )
    command.add_argument(
        "--region",
        action="append",
        metavar="REGION",
        help="a region to review (repeatable; default: $AWS_REGION)",
    )
    command.set_defaults(run=cmd_review)
