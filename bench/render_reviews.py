"""Render one of each scheduled review against a seeded estate in a local moto server.

It starts its own moto server (port 0, in this process), seeds the estate the tests use
(tests/review_estate.py: open admin ports, unencrypted volumes, public buckets, Security Hub findings,
an audit log; Auto Scaling groups with CPU metrics, idle instances, an unattached volume, old snapshots),
runs each review and prints it as the email and ``opsbot review`` show it, or as the Slack message:

    .venv/bin/python bench/render_reviews.py                  # all three, as text
    .venv/bin/python bench/render_reviews.py monthly_cost     # one
    .venv/bin/python bench/render_reviews.py --blocks weekly_capacity   # Block Kit JSON for the Builder
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from review_estate import REGION, reset_moto, seed_capacity_and_cost, seed_compliance  # noqa: E402

from policies.engine import load_prices  # noqa: E402
from runtime.audit_log import AuditLog  # noqa: E402
from runtime.reviews.catalog import ReviewInputs, review_name, run_review  # noqa: E402
from runtime.reviews.render_slack import report_blocks, report_fallback  # noqa: E402
from runtime.reviews.render_text import report_text  # noqa: E402
from runtime.reviews.report import REVIEW_NAMES, Report, ReviewName  # noqa: E402
from tools.base import AwsClients  # noqa: E402


def render(names: list[ReviewName], endpoint: str, workdir: Path) -> list[Report]:
    clients = AwsClients(endpoint_url=endpoint)
    audit_path = workdir / "audit.jsonl"
    now = time.time()
    reports: list[Report] = []
    for name in names:
        reset_moto(endpoint)
        if name == "daily_compliance":
            seed_compliance(clients, audit_path, now)
        else:
            seed_capacity_and_cost(clients, now)
        inputs = ReviewInputs(clients, [REGION], AuditLog(audit_path), load_prices(), now)
        reports.append(run_review(name, inputs))
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "review", nargs="*", metavar="REVIEW", help=f"{', '.join(REVIEW_NAMES)} (default: all)"
    )
    parser.add_argument(
        "--blocks", action="store_true", help="print the Slack message (text + blocks) as JSON"
    )
    args = parser.parse_args()
    try:
        names = [review_name(text) for text in args.review] or list(REVIEW_NAMES)
    except ValueError as error:
        parser.error(str(error))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # moto's server, never real AWS
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.pop("AWS_ENDPOINT_URL", None)

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            reports = render(names, f"http://{host}:{port}", Path(workdir))
    finally:
        server.stop()
    for report in reports:
        if args.blocks:
            message = {"text": report_fallback(report), "blocks": report_blocks(report)}
            json.dump(message, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(report_text(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
