"""Print the Block Kit JSON of an approval message, ready to paste into Slack's Block Kit Builder.

With no argument it renders docs/pending_approval_sample.json: a real pending approval (approval
request + summary, as ``runtime.pipeline`` stores it) from the request "scale web-asg to 6". Give a
file to render any other pending approval. docs/approval_message.json is this script's output for the
sample:

    .venv/bin/python bench/render_approval.py > docs/approval_message.json
    .venv/bin/python bench/render_approval.py pending.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.blocks import approval_blocks

SAMPLE_PATH = Path(__file__).resolve().parent.parent / "docs" / "pending_approval_sample.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "pending",
        nargs="?",
        type=Path,
        default=SAMPLE_PATH,
        help="a pending approval as JSON (default: docs/pending_approval_sample.json)",
    )
    args = parser.parse_args()
    pending = json.loads(args.pending.read_text())
    json.dump({"blocks": approval_blocks(pending)}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
