"""When opsbot pages a person: an emergency approval, and a critical alert. Every page goes to the audit log.

The pipeline calls ``escalate`` each time a run stops (finished, or waiting for people):

- an approval that needs the ``incident-commander`` group (regional_failover) is an emergency: the approval
  request is marked ``emergency`` (Slack shows it as such) and PagerDuty is paged, once per run; once
  someone decides it (approved, rejected or expired) the page is acknowledged;
- an alert at or above ``settings.page_at_severity`` pages once per incident fingerprint; its resolution
  (alarm back to OK, check passed) resolves the PagerDuty alert.

The dedup key is the incident's graph thread id, so PagerDuty folds every page about one incident into one
alert. Paging never stops a run: PagerDuty failures come back as outcomes, and store failures are logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from bot.threads import SlackThreads
from graph.context import GraphContext
from graph.render import params_text
from runtime.audit_log import AuditLogError
from runtime.coordination import run_scope
from runtime.pagerduty import PageEvent, PageOutcome, Severity
from runtime.store import StoreError

log = logging.getLogger("opsbot.escalation")

JsonDict = dict[str, Any]
EMERGENCY_GROUP = "incident-commander"
ALERT_PAGE_SECONDS = 7 * 24 * 3600  # an unresolved incident pages again after a week at most


def is_emergency(pending: JsonDict) -> bool:
    """An approval request that needs the incident commander."""
    return EMERGENCY_GROUP in pending.get("groups", [])


def mark_emergency(pending: JsonDict) -> JsonDict:
    """The approval request, with ``emergency: true`` when it needs the incident commander."""
    return {**pending, "emergency": True} if is_emergency(pending) else pending


def escalate(ctx: GraphContext, thread_id: str, state: JsonDict, pending: JsonDict | None) -> None:
    """Page where a run that just stopped calls for it (``pending``: the approval it waits for, if any)."""
    try:
        if pending is not None and is_emergency(pending):
            _page_emergency_approval(ctx, thread_id, pending)
        elif pending is None:
            _acknowledge_decided_emergency(ctx, thread_id, state)
        _page_alert(ctx, thread_id, state)
    except (StoreError, AuditLogError) as error:
        log.warning("escalation for %s skipped: %s", thread_id, error)


# --- emergency approvals ------------------------------------------------------------------------------


def _page_emergency_approval(ctx: GraphContext, thread_id: str, pending: JsonDict) -> None:
    if not ctx.pager.enabled:
        return
    scope = run_scope(thread_id, str(pending.get("run_id", "")))
    if not ctx.store.claim(f"paged-approval:{scope}", "opsbot", ALERT_PAGE_SECONDS):
        return  # this request was paged already
    plan = [{"action": s.get("action"), "params": s.get("params", {})} for s in pending.get("plan", [])]
    steps = "; ".join(f"{s['action']} ({params_text(dict(s['params']))})" for s in plan)
    groups = ", ".join(pending.get("groups", []))
    event = PageEvent(
        action="trigger",
        dedup_key=thread_id,
        summary=f"Emergency approval needed from {groups}: {steps}",
        severity="critical",
        component=str(plan[0]["action"]) if plan else "",
        group="opsbot-approvals",
        event_class="emergency_approval",
        custom_details={
            "thread_id": thread_id,
            "run_id": pending.get("run_id", ""),
            "plan": plan,
            "approvers": pending.get("groups", []),
            "requester": pending.get("requester", ""),
            "expires_at": _iso(pending.get("expires_at")),
            "reasons": pending.get("decision", {}).get("reasons", []),
        },
        links=_links(ctx, thread_id),
    )
    if not _send(ctx, thread_id, event, "emergency_approval").sent:
        ctx.store.release(f"paged-approval:{scope}", "opsbot")  # a later run on the thread may try again


def _acknowledge_decided_emergency(ctx: GraphContext, thread_id: str, state: JsonDict) -> None:
    """Someone decided the emergency approval this run paged for: acknowledge the page (the incident
    itself stays open in PagerDuty until its alert resolves or a person resolves it)."""
    approval = state.get("approval") or {}
    if approval.get("status") not in ("approved", "rejected", "expired") or not is_emergency(approval):
        return
    key = f"paged-approval:{run_scope(thread_id, str(state.get('run_id', '')))}"
    if not ctx.pager.enabled or ctx.store.get(key) is None:
        return
    ctx.store.delete(key)
    _send(
        ctx, thread_id, PageEvent(action="acknowledge", dedup_key=thread_id), f"approval_{approval['status']}"
    )


# --- critical alerts ----------------------------------------------------------------------------------


def _page_alert(ctx: GraphContext, thread_id: str, state: JsonDict) -> None:
    alert = (state.get("intent") or {}).get("alert")
    if not ctx.pager.enabled or not isinstance(alert, dict) or not alert.get("fingerprint"):
        return
    key = f"paged-alert:{alert['fingerprint']}"
    if alert.get("resolved"):
        if ctx.store.get(key) is not None:
            ctx.store.delete(key)
            _send(ctx, thread_id, PageEvent(action="resolve", dedup_key=thread_id), "alert_resolved")
        return
    severity = float(alert.get("severity") or 0.0)
    if severity < ctx.settings.page_at_severity or not ctx.store.claim(key, thread_id, ALERT_PAGE_SECONDS):
        return
    resources = [*alert.get("instance_ids", []), *alert.get("asg_names", []), *alert.get("resource_ids", [])]
    event = PageEvent(
        action="trigger",
        dedup_key=thread_id,
        summary=f"{alert.get('kind', 'alert')} severity {severity:g}: {alert.get('title', '')}".strip(),
        severity=pagerduty_severity(severity),
        component=str(resources[0]) if resources else "",
        group=str(alert.get("region", "")),
        event_class=str(alert.get("finding_type") or alert.get("kind", "")),
        custom_details={
            "thread_id": thread_id,
            "fingerprint": alert["fingerprint"],
            "kind": alert.get("kind"),
            "severity": severity,
            "finding_type": alert.get("finding_type", ""),
            "account": alert.get("account", ""),
            "region": alert.get("region", ""),
            "resources": resources,
            "remote_ips": alert.get("remote_ips", []),
            "decision": (state.get("decision") or {}).get("decision", ""),
            "outcome": state.get("outcome", ""),
        },
        links=_links(ctx, thread_id),
    )
    if not _send(ctx, thread_id, event, "critical_alert").sent:
        ctx.store.release(key, thread_id)  # the next run on this incident pages again


def pagerduty_severity(severity: float) -> Severity:
    """GuardDuty's 0-10 scale in PagerDuty's four levels."""
    if severity >= 8:
        return "critical"
    if severity >= 6:
        return "error"
    if severity >= 4:
        return "warning"
    return "info"


# --- shared -------------------------------------------------------------------------------------------


def _send(ctx: GraphContext, thread_id: str, event: PageEvent, reason: str) -> PageOutcome:
    outcome = ctx.pager.send(event)
    entry: JsonDict = {
        "reason": reason,
        "event_action": event.action,
        "severity": event.severity if event.action == "trigger" else None,
        "summary": event.summary,
        **outcome.as_json(),
    }
    ctx.audit.append("page", thread_id, entry)
    return outcome


def slack_link(channel: str, ts: str) -> str:
    """A link to a Slack message that opens in whichever workspace the reader is signed in to."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def _links(ctx: GraphContext, thread_id: str) -> tuple[tuple[str, str], ...]:
    place = SlackThreads(ctx.store).place(thread_id)
    return ((slack_link(place.channel, place.ts), "Slack thread"),) if place else ()


def _iso(epoch: Any) -> str:
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return ""
