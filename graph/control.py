"""Control and read-only intents: status, help, pause, resume, investigate, troubleshoot_connectivity,
unknown."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from graph.context import GraphContext
from graph.models import Intent
from graph.troubleshooting import troubleshoot_connectivity
from policies.engine import can_control
from policies.membership import ControlCommand
from runtime.coordination import clear_paused, set_paused
from runtime.status import incident_llm_text, llm_status_line, status_report
from tools.base import INSTANCE_ID_RE, ToolError
from tools.context import describe_asg, describe_instance

HELP = """I run AWS actions under policy, with an audit and people in charge. Try:
  isolate i-0abc… in us-east-1 · block 203.0.113.45 · unblock 203.0.113.45
  scale web-asg to 6 · restart nginx on i-0abc… · snapshot i-0abc… · tag i-0abc… env=prod
  stop i-0abc… · terminate i-0abc… · allow egress from sg-… to 10.1.0.0/16 on 443
  status · pause · resume · roll back act-… · investigate i-0abc…
  why can't i-0abc… reach 10.0.3.4:5432? (read-only: the blocking rule, flow logs, recent changes)"""


def local_operator(user: str) -> bool:
    """The CLI runs as someone who already holds the shell: they own the kill switch."""
    return user.startswith("cli:")


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_text(ctx: GraphContext) -> str:
    return render_status(status_report(ctx))


def render_status(report: dict[str, Any]) -> str:
    paused = report["paused"]
    lines = [
        f"Automation: PAUSED by {paused['by']} since {_when(paused['at'])}"
        if paused
        else "Automation: running"
    ]
    lines.append(f"Open incidents: {len(report['incidents'])}")
    lines += [
        f"  - {i['thread_id']}: {i.get('title') or 'untitled'} (repeats: {i.get('repeats', 0)})"
        for i in report["incidents"]
    ]
    lines.append(f"Pending approvals: {len(report['pending'])}")
    lines += [
        f"  - {p.get('thread_id')}: {p.get('summary', '')} (needs {', '.join(p.get('groups', []))})"
        + (f"; LLM {incident_llm_text(p['llm'])}" if p.get("llm") else "")
        for p in report["pending"]
    ]
    recent = report["last_actions"]
    lines.append("Last actions:" if recent else "Last actions: none")
    lines += [f"  - {a['action_id']} {a['action']}: {a['status']} ({a['ts']})" for a in recent]
    budgets = [f"{b['action']} {b['left']}/{b['limit']}" for b in report["budgets"]]
    lines.append("Rate budget left this hour: " + ", ".join(budgets))
    alarms = report["alarms"]
    if alarms is None:
        lines.append("CloudWatch alarms: AWS not reachable")
    else:
        names = ", ".join(str(alarm.get("name")) for alarm in alarms[:10])
        lines.append(f"CloudWatch alarms in ALARM: {len(alarms)}" + (f" ({names})" if names else ""))
    if "llm" in report:
        lines.append(llm_status_line(report["llm"]))
    return "\n".join(lines)


def refusal(ctx: GraphContext, intent: Intent, command: ControlCommand) -> str | None:
    """Why ``intent.requester`` may not pause or resume automation, or None when they may."""
    if local_operator(intent.requester) or can_control(
        ctx.policy, intent.requester, command, ctx.expand_usergroup
    ):
        return None
    groups = ctx.policy.control.pause if command == "pause" else ctx.policy.control.resume
    return f"{intent.requester or 'unknown user'} may not {command} automation; ask a member of " + ", ".join(
        groups
    )


def pause(ctx: GraphContext, intent: Intent) -> str:
    if (refused := refusal(ctx, intent, "pause")) is not None:
        return refused
    set_paused(ctx.store, intent.requester, ctx.clock(), intent.text)
    return "Automation PAUSED. Nothing will execute until someone authorised says resume."


def resume(ctx: GraphContext, intent: Intent) -> str:
    if (refused := refusal(ctx, intent, "resume")) is not None:
        return refused
    clear_paused(ctx.store)
    return "Automation resumed."


def investigate(ctx: GraphContext, intent: Intent) -> str:
    resource = str(intent.params.get("resource", ""))
    region = str(intent.params.get("region", ctx.settings.aws_region))
    facts: dict[str, Any]
    try:
        if INSTANCE_ID_RE.match(resource):
            facts = describe_instance(ctx.clients, resource, region)
        elif resource:
            facts = describe_asg(ctx.clients, resource, region)
        else:
            return "Investigate what? Name an instance id or an Auto Scaling group."
    except (ToolError, ClientError, BotoCoreError) as error:
        return f"Could not read {resource}: {error}"
    shown = ", ".join(f"{k}={v}" for k, v in facts.items() if not isinstance(v, list | dict))
    return f"{resource}: {shown}"


def unknown(ctx: GraphContext, intent: Intent) -> str:
    problems = "; ".join(intent.errors)
    return (
        f"I could not read that as a request ({problems}).\n" if problems else "I did not understand that.\n"
    ) + HELP


RESPONDERS: dict[str, Callable[[GraphContext, Intent], str]] = {
    "status": lambda ctx, _intent: status_text(ctx),
    "help": lambda _ctx, _intent: HELP,
    "pause": pause,
    "resume": resume,
    "investigate": investigate,
    "troubleshoot_connectivity": troubleshoot_connectivity,
    "unknown": unknown,
}
