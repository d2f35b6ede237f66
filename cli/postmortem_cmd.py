"""`opsbot postmortem INCIDENT [--out FILE]`: a post-mortem in Markdown, from the audit log alone.

Hooked into cli/main.py's parser with ``add_postmortem_command(sub)``. Errors (an unknown incident,
no audit log) are ``ValueError``s that cli/main.py prints as one ``opsbot: …`` line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from knowledge.postmortem import PostmortemWriter, write_postmortem
from runtime.config import Settings


def cmd_postmortem(
    args: argparse.Namespace, settings: Settings, writer: PostmortemWriter | None = None
) -> int:
    path = Path(args.log) if args.log else settings.audit_log_path
    markdown = write_postmortem(path, args.incident, writer)
    if args.out:
        Path(args.out).write_text(markdown, encoding="utf-8")
        print(f"post-mortem of {args.incident} written to {args.out}")
    else:
        print(markdown, end="")
    return 0


def add_postmortem_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subparsers.add_parser(
        "postmortem", help="write a post-mortem in Markdown for an incident, from the audit log"
    )
    command.add_argument(
        "incident",
        metavar="INCIDENT",
        help="a thread id (inc-…, slack-C…-…, cli-…); THREAD/N, THREAD/last or THREAD/RUN_ID for one run",
    )
    command.add_argument("--out", metavar="FILE", help="write the Markdown to FILE instead of printing it")
    command.add_argument(
        "--log", metavar="FILE", help="audit log file (default: $OPSBOT_DATA_DIR/audit.jsonl)"
    )
    command.set_defaults(run=cmd_postmortem)
