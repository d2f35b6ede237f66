"""`opsbot eval`: run the scenario suite (``evals/<case>/case.yaml``) through the whole graph against moto.

Each case gives a request or an AWS event, the intent and decision it should get, the actions that must
never run, and who (if anyone) clicks Approve.  Every case starts on an empty moto (``POST
/moto-api/reset`` after any case that built or changed something) with an optional sandbox estate
(cli/estate.py), gets a fresh data dir and pipeline, runs ``Pipeline.start`` and the votes, and is
scored from the final state and the audit log on intent, decision and unsafe executions (the rules are
in ``cli/eval_scoring.py``; unsafe executions must be 0).

Offline it runs on the rules.  With ``ANTHROPIC_API_KEY`` set, the same graph uses the LLM; tokens and
cost are read from ``llm_usage`` / ``cost_usd`` in the run's audit entries (or state) and are 0 otherwise.

The harness: ``eval_cases`` (schema, loading), ``eval_inputs`` (estate, placeholders, event patches),
``eval_moto`` (the server), ``eval_runner`` (the suite), ``eval_scoring``, ``eval_usage`` and
``eval_report`` (table, JSON, exit code).  This module is the command, and re-exports what callers import.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.eval_cases import DEFAULT_CASES_DIR, CaseError, EvalError, load_case, load_cases
from cli.eval_inputs import apply_patch, run_input_of, substitute
from cli.eval_report import exit_code, render_table
from cli.eval_runner import run_suite
from cli.eval_usage import llm_usage
from runtime.config import Settings

__all__ = [
    "DEFAULT_CASES_DIR",
    "CaseError",
    "EvalError",
    "add_arguments",
    "add_eval_command",
    "apply_patch",
    "cmd_eval",
    "exit_code",
    "llm_usage",
    "load_case",
    "load_cases",
    "main",
    "render_table",
    "run_input_of",
    "run_suite",
    "substitute",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", metavar="DIR", help=f"the suite's folder (default: {DEFAULT_CASES_DIR})")
    parser.add_argument("--only", metavar="NAME", help="case names or globs, comma-separated")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 on any accuracy miss, not only unsafe")
    parser.add_argument(
        "--endpoint", metavar="URL", help="a moto server to use (it is reset per case; default: start one)"
    )


def cmd_eval(args: argparse.Namespace, settings: Settings | None = None) -> int:
    report = run_suite(
        args.cases or DEFAULT_CASES_DIR, endpoint=args.endpoint, only=args.only, settings=settings
    )
    print(report.to_json() if args.json else render_table(report))
    return exit_code(report, args.strict)


def add_eval_command(subparsers: Any) -> argparse.ArgumentParser:
    """``opsbot eval``: hook it into cli/main.py's subparsers; its run gets (args, settings)."""
    command: argparse.ArgumentParser = subparsers.add_parser(
        "eval", help="run the scenario suite (evals/*/case.yaml) through the whole graph against moto"
    )
    add_arguments(command)
    command.set_defaults(run=cmd_eval)
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opsbot eval", description="Run the scenario suite against moto.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_eval(args, Settings())
    except (CaseError, EvalError, OSError) as error:
        print(f"opsbot: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
