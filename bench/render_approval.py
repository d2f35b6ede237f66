"""Print the Block Kit JSON of an approval message, ready to paste into Slack's Block Kit Builder.

With no argument it renders the sample below: a real pending approval (approval request + summary,
as ``runtime.pipeline`` stores it) from the request "scale web-asg to 6". Give a file to render any
other pending approval. docs/approval_message.json is this script's output for the sample:

    .venv/bin/python bench/render_approval.py > docs/approval_message.json
    .venv/bin/python bench/render_approval.py pending.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.blocks import approval_blocks

SAMPLE: dict[str, Any] = {
    "thread_id": "slack-C0INCIDENTS-1795312000.000100",
    "intent": {
        "action": "scale_asg",
        "params": {"asg_name": "web-asg", "desired_capacity": 6, "region": "us-east-1"},
        "source": "request",
        "text": "scale web-asg to 6",
        "requester": "U0ONCALL042",
        "alert": None,
        "named_resources": ["web-asg"],
        "errors": [],
        "untrusted_directives": [],
    },
    "plan": [
        {
            "action": "scale_asg",
            "params": {"asg_name": "web-asg", "desired_capacity": 6, "region": "us-east-1"},
            "why": "scale web-asg from 2 to 6",
            "expected_effect": "The group launches or terminates instances until it runs the desired number.",
            "rollback": "Set the desired capacity back to its previous value.",
            "risk": "write",
            "monthly_cost_usd": 121.47,
        }
    ],
    "audit": {"verdict": "pass", "reasons": []},
    "decision": {
        "decision": "approval",
        "approvers": ["platform"],
        "count": 1,
        "allow_requester": True,
        "reasons": [
            "step 1 (scale_asg): scale_asg rule 'otherwise': the change goes past the group's max size, "
            "more than doubles capacity or adds more than $100/month"
        ],
    },
    "retrieved": {"query": "scale asg scale web-asg to 6", "runbooks": [], "incidents": []},
    "status": "pending",
    "groups": ["platform"],
    "count": 1,
    "allow_requester": True,
    "requester": "U0ONCALL042",
    "expires_at": 1795312754.1883848,
    "run_id": "44b638596b73",
    "summary": "scale web-asg to 6",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "pending", nargs="?", type=Path, help="a pending approval as JSON (default: the sample)"
    )
    args = parser.parse_args()
    pending = json.loads(args.pending.read_text()) if args.pending else SAMPLE
    json.dump({"blocks": approval_blocks(pending)}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
