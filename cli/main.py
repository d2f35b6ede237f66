"""opsbot command line: plan, ask, demo, serve, worker, audit verify."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.audit_cmd import verify_audit
from cli.evaluation import add_eval_command
from cli.postmortem_cmd import add_postmortem_command
from cli.review_cmd import add_review_command
from cli.worker_cmd import (
    add_worker_command,
    build_workers,
    default_consumer,
    require_redis,
    start_worker_threads,
)
from graph.llm import LlmSettings, describe
from graph.render import summary
from knowledge.cli import add_knowledge_commands
from policies.engine import PolicyError
from runtime.audit_log import AuditLogError
from runtime.config import Settings
from runtime.json_logs import configure_logging
from runtime.pipeline import Pipeline, RunResult
from runtime.services import open_pipeline
from runtime.store import CoordinationStore, StoreUnavailable, open_store
from runtime.work_queue import WorkQueue

if TYPE_CHECKING:
    from slack_bolt import App


class TerminalNotifier:
    def post(self, thread_id: str, text: str) -> None:
        print(f"[{thread_id}]\n{text}\n")


def fail(message: str) -> int:
    print(f"opsbot: {message}", file=sys.stderr)
    return 2


def read_event(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from error
    try:
        payload = json.loads(text, parse_constant=not_json_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON (line {error.lineno}: {error.msg})") from error
    except RecursionError as error:
        raise ValueError(f"{path} is nested too deeply to be an AWS event") from error
    if not isinstance(payload, dict):
        raise ValueError(f"{path} holds a JSON {type(payload).__name__}, not an event object")
    return payload


def not_json_constant(name: str) -> Any:
    """NaN and Infinity are not JSON, and a severity of NaN compares as neither high nor low."""
    raise ValueError(f"the event holds {name}, which is not a JSON number")


def requester() -> str:
    return f"cli:{getpass.getuser()}"


def announce_llm() -> None:
    """The one startup line: which LLM answers, or that the rule parser runs alone, and why."""
    print(f"opsbot: {describe(LlmSettings())}", file=sys.stderr)


def cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    run_input: dict[str, Any] = {"requester": requester()}
    if args.event:
        run_input["event"] = read_event(args.event)
    elif args.text:
        run_input["text"] = " ".join(args.text)
    else:
        return fail("plan needs a request TEXT or --event FILE")
    result = open_pipeline(settings).preview(run_input)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"intent: {result['intent']['action']} {json.dumps(result['intent']['params'])}")
    print(
        f"decision: {result['decision']}"
        + (f" (approvers: {', '.join(result['approvers'])})" if result["approvers"] else "")
    )
    for index, step in enumerate(result["plan"], start=1):
        print(f"  {index}. {step['action']} {json.dumps(step['params'])}")
    print(f"audit: {result['audit']['verdict']}")
    for reason in [*result["audit"]["reasons"], *result["reasons"]]:
        print(f"  - {reason}")
    return 0


def prompt_votes(pipeline: Pipeline, run: RunResult) -> RunResult:
    """Ask at the terminal until the approval is decided. Each vote goes through the same checks as Slack.

    A terminal is one person, and the ids typed at it are not authenticated: so it can give one
    approval, and only where policy lets the requester approve.  Anything more waits for Slack.
    """
    if run.pending and (int(run.pending.get("count", 1)) > 1 or not run.pending.get("allow_requester", True)):
        print(
            f"This needs {run.pending.get('count', 1)} approver(s) other than one person at a terminal: "
            f"approve it in Slack (thread {run.thread_id}). Nothing has been executed."
        )
        return run
    while run.pending:
        groups = ", ".join(run.pending.get("groups", []))
        answer = input(
            f"Approval needed from {groups} (count {run.pending.get('count', 1)}). "
            "Your approver id to approve, 'n' to reject: "
        ).strip()
        if not answer:
            continue
        if answer.lower() in ("n", "no", "reject"):
            answer_user = input("Your approver id (to record who rejected): ").strip()
            vote = pipeline.vote(run.thread_id, answer_user, approve=False)
        else:
            vote = pipeline.vote(run.thread_id, answer, approve=True)
        print(vote.message)
        if vote.run is not None:
            return vote.run
    return run


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    announce_llm()
    pipeline = open_pipeline(settings, TerminalNotifier())
    thread_id = args.thread or f"cli-{uuid.uuid4().hex[:12]}"
    run = pipeline.start(thread_id, {"text": " ".join(args.text), "requester": requester()})
    if run.pending:
        print(summary(run.state))
        run = prompt_votes(pipeline, run)
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    return verify_audit(Path(args.path) if args.path else settings.audit_log_path, settings)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from cli.demo import run_demo

    announce_llm()
    return run_demo(Path(args.data_dir) if args.data_dir else None)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Ack and enqueue only; `opsbot worker` processes (or ``--worker-threads`` in this process)."""
    from bot.http_server import serve
    from bot.sns import SnsVerifier, parse_topic_allow_list

    redis_url = require_redis(settings, "serve")
    configure_logging(settings.log_format)
    token = settings.events_token.get_secret_value() if settings.events_token else None
    if token is None:
        print(
            "opsbot: OPSBOT_EVENTS_TOKEN is not set: EventBridge posts to /events will answer 503",
            file=sys.stderr,
        )
    queue = WorkQueue(redis_url)
    slack_app = start_slack(settings, queue, open_store(redis_url, settings.store_path))
    stop = threading.Event()
    if args.worker_threads > 0:
        announce_llm()
        prefix = default_consumer()
        names = [f"{prefix}-{n}" for n in range(args.worker_threads)]
        start_worker_threads(build_workers(settings, queue, names), stop)
    sns = SnsVerifier(parse_topic_allow_list(settings.sns_topic_arns_csv))
    try:
        serve(queue, args.host, settings.port if args.port is None else args.port, token, sns, slack_app)
    finally:
        stop.set()
    return 0


def start_slack(settings: Settings, queue: WorkQueue, store: CoordinationStore) -> App | None:
    """The Slack app, when configured: HTTP mode on /slack/events, or Socket Mode with an app token."""
    if not settings.slack_enabled:
        print("opsbot: SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET not set: Slack is off", file=sys.stderr)
        return None
    from bot.wiring import build_serve_app

    app = build_serve_app(settings, queue, store)
    if settings.slack_app_token is not None:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        SocketModeHandler(app, settings.slack_app_token.get_secret_value()).connect()  # type: ignore[no-untyped-call]
        print("opsbot: connected to Slack in Socket Mode", file=sys.stderr)
    return app


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="opsbot", description="Run AWS from chat, under policy and audit.")
    sub = top.add_subparsers(dest="command", required=True)
    plan = sub.add_parser("plan", help="print the decision for a request or event, executing nothing")
    plan.add_argument("--json", action="store_true", help="print the JSON contract of DESIGN.md §3")
    plan.add_argument("--event", metavar="FILE", help="an AWS event JSON file ('-' for stdin)")
    plan.add_argument("text", nargs="*", help="a request, as you would type it in Slack")
    plan.set_defaults(run=cmd_plan)
    ask = sub.add_parser("ask", help="run the whole graph, approving at the terminal")
    ask.add_argument("--thread", help="continue or name a thread")
    ask.add_argument("text", nargs="+")
    ask.set_defaults(run=cmd_ask)
    demo = sub.add_parser("demo", help="the scenarios of the README against a sandbox estate in moto")
    demo.add_argument("--data-dir", help="keep the demo's audit log and state here (default: a temp dir)")
    demo.set_defaults(run=cmd_demo)
    serve = sub.add_parser(
        "serve", help="the Slack bot (/slack/events or Socket Mode), alert posts (/events), /healthz"
    )
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server in a container
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")
    serve.add_argument(
        "--worker-threads",
        type=int,
        default=0,
        metavar="N",
        help="also run N workers in this process, on the same queue (a one-box deployment)",
    )
    serve.set_defaults(run=cmd_serve)
    add_worker_command(sub)
    add_postmortem_command(sub)
    add_review_command(sub)
    add_eval_command(sub)
    add_knowledge_commands(sub)
    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    check = audit_sub.add_parser("verify", help="check the hash chain; report the first tampered entry")
    check.add_argument("path", nargs="?", help="audit log file (default: $OPSBOT_DATA_DIR/audit.jsonl)")
    check.set_defaults(run=cmd_audit_verify)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
        return int(args.run(args, settings))
    except (ValueError, PolicyError, StoreUnavailable, AuditLogError, OSError) as error:
        return fail(str(error).splitlines()[0] if str(error) else type(error).__name__)
    except KeyboardInterrupt:
        return fail("interrupted")
    except EOFError:
        return fail("no answer on standard input; the approval stays pending and nothing more ran")


if __name__ == "__main__":
    sys.exit(main())
