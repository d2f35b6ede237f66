"""Vendor access that ends on time: each grant's expiry lives in the coordination store, and a periodic
sweep revokes the grants whose time has come, through the normal executor path.

- ``schedule_expiries`` runs after execution: every grant_vendor_access that executed gets a store entry
  ``vendor-expiry:<action id>`` (thread, vendor, CIDR, port, group, region, expiry). Redis or the SQLite
  file keeps it across restarts.
- ``revoke_due`` revokes every due grant exactly once, even with several replicas sweeping at once: a
  sweeper claims the grant, re-reads it, and deletes it only after the revoke succeeded (the claim is
  kept until it times out, so a replica that listed the grant earlier cannot repeat it). A revoke that
  was refused (automation paused, rate limit) or failed is released and tried again at the next sweep.
- The revoke is one plan step run by ``graph.executor.execute_step`` on the grant's own thread, as a
  request from ``opsbot:expiry``: policy (revoke is automatic), the kill switch, rate limits and the
  audit log apply as to any other step. The outcome is posted to the thread through the notifier.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from graph.context import GraphContext
from graph.executor import execute_step
from graph.models import Intent, PlanStep
from runtime.store import StoreError
from tools.registry import REGISTRY
from tools.vendor_access import grant_vendor_access, revoke_vendor_access

log = logging.getLogger("opsbot.vendor_expiry")

EXPIRY_PREFIX = "vendor-expiry:"
CLAIM_PREFIX = "vendor-expiry-claim:"
CLAIM_SECONDS = 900.0
RETRY_SECONDS = 300.0  # a revoke that was refused or failed is tried again this much later
REQUESTER = "opsbot:expiry"


class ScheduledRevoke(BaseModel):
    """One grant's expiry, as kept in the coordination store."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action_id: str  # the grant's action id
    thread_id: str
    vendor: str
    cidr: str
    port: int
    security_group_id: str
    region: str
    expires_at: float
    expires_at_iso: str
    warned: bool = False  # the thread was told once that the revoke is waiting
    retry_at: float = 0.0  # after a refused or failed revoke: not before this time

    def due(self, now: float) -> bool:
        return self.expires_at <= now and self.retry_at <= now

    def revoke_params(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "cidr": self.cidr,
            "port": self.port,
            "security_group_id": self.security_group_id,
            "region": self.region,
        }


@dataclass(frozen=True)
class ExpiryOutcome:
    grant_action_id: str
    thread_id: str
    vendor: str
    status: str  # the executor's status: ok, refused, failed, skipped
    revoke_action_id: str = ""
    detail: str = ""
    already_gone: bool = False  # the rule had been removed before its time (rolled back, or by hand)


class HasContext(Protocol):
    """A Pipeline, or anything else that carries the graph context."""

    @property
    def ctx(self) -> GraphContext: ...


def expiry_key(action_id: str) -> str:
    return f"{EXPIRY_PREFIX}{action_id}"


def claim_key(action_id: str) -> str:
    return f"{CLAIM_PREFIX}{action_id}"


# --- at grant time ------------------------------------------------------------------------------------


def schedule_expiries(ctx: GraphContext, thread_id: str, executions: list[dict[str, Any]]) -> list[str]:
    """Record the expiry of every grant that just executed (not replays, not dry runs); their action ids."""
    scheduled: list[str] = []
    for result in executions:
        if result.get("action") != grant_vendor_access.name or result.get("status") != "ok":
            continue
        if result.get("replayed"):
            continue  # scheduled when it first ran (and maybe revoked since)
        record, params = result.get("record", {}), result.get("params", {})
        entry = ScheduledRevoke(
            action_id=str(result["action_id"]),
            thread_id=thread_id,
            vendor=str(record["vendor"]),
            cidr=str(record["cidr"]),
            port=int(record["port"]),
            security_group_id=str(record["security_group_id"]),
            region=str(params.get("region", "us-east-1")),
            expires_at=float(record["expires_at"]),
            expires_at_iso=str(record["expires_at_iso"]),
        )
        ctx.store.put(expiry_key(entry.action_id), entry.model_dump_json())
        ctx.audit.append("vendor_expiry_scheduled", thread_id, entry.model_dump(mode="json"))
        scheduled.append(entry.action_id)
    return scheduled


def scheduled_revokes(ctx: GraphContext) -> list[ScheduledRevoke]:
    """Every grant still waiting for its expiry, soonest first."""
    found = [grant for key in ctx.store.keys(EXPIRY_PREFIX) if (grant := _read(ctx, key)) is not None]
    return sorted(found, key=lambda grant: grant.expires_at)


def _read(ctx: GraphContext, key: str) -> ScheduledRevoke | None:
    raw = ctx.store.get(key)
    if raw is None:
        return None
    try:
        return ScheduledRevoke.model_validate_json(raw)
    except ValidationError:
        log.error("unreadable vendor expiry entry %s left in place: %s", key, raw[:200])
        return None


# --- the sweep ----------------------------------------------------------------------------------------


def revoke_due(target: GraphContext | HasContext, now: float | None = None) -> list[ExpiryOutcome]:
    """Revoke every grant whose expiry is at or before ``now`` (the context's clock by default)."""
    ctx = target if isinstance(target, GraphContext) else target.ctx
    moment = ctx.clock() if now is None else now
    outcomes: list[ExpiryOutcome] = []
    for grant in scheduled_revokes(ctx):
        if grant.expires_at > moment:
            break
        if not grant.due(moment):
            continue
        owner = f"sweep-{uuid.uuid4().hex[:12]}"
        if not ctx.store.claim(claim_key(grant.action_id), owner, CLAIM_SECONDS):
            continue  # another sweeper has it
        if ctx.store.get(expiry_key(grant.action_id)) is None:
            ctx.store.release(claim_key(grant.action_id), owner)
            continue  # revoked by another sweeper since we listed it
        outcome = _revoke(ctx, grant)
        if outcome.status == "ok":
            ctx.store.delete(expiry_key(grant.action_id))
        else:
            later = grant.model_copy(update={"warned": True, "retry_at": moment + RETRY_SECONDS})
            ctx.store.put(expiry_key(grant.action_id), later.model_dump_json())
            ctx.store.release(claim_key(grant.action_id), owner)
        outcomes.append(outcome)
    return outcomes


def _revoke(ctx: GraphContext, grant: ScheduledRevoke) -> ExpiryOutcome:
    params = grant.revoke_params()
    why = f"{grant.vendor}'s access ({grant.action_id}) expired at {grant.expires_at_iso}"
    step = PlanStep(
        action=revoke_vendor_access.name,
        params=params,
        why=why,
        expected_effect=revoke_vendor_access.effect,
        rollback=revoke_vendor_access.rollback_summary,
        risk=revoke_vendor_access.risk,
    )
    intent = Intent(
        action=revoke_vendor_access.name,
        params=params,
        source="request",
        text=f"revoke vendor access: {why}",
        requester=REQUESTER,
        named_resources=[grant.security_group_id, grant.cidr],
    )
    state = {
        "thread_id": grant.thread_id,
        "run_id": f"expiry-{uuid.uuid4().hex[:12]}",
        "intent": intent.model_dump(mode="json"),
        "context": {},
        "approval": {},
    }
    result = execute_step(ctx, state, 0, step)
    outcome = ExpiryOutcome(
        grant_action_id=grant.action_id,
        thread_id=grant.thread_id,
        vendor=grant.vendor,
        status=str(result["status"]),
        revoke_action_id=str(result.get("action_id", "")),
        detail=_detail(ctx, step, result),
        already_gone=result["status"] == "ok" and result.get("record", {}).get("changed") is False,
    )
    ctx.audit.append(
        "vendor_expiry", grant.thread_id, {**outcome.__dict__, "expires_at": grant.expires_at_iso}
    )
    _tell_thread(ctx, grant, outcome)
    return outcome


def _detail(ctx: GraphContext, step: PlanStep, result: dict[str, Any]) -> str:
    if result["status"] != "ok":
        return str(result.get("error", result["status"]))
    spec = REGISTRY[step.action]
    try:
        checked = spec.verify(ctx.clients, spec.parse_args(step.params), result["record"])
    except Exception as error:  # verification is a report: its failure must not undo a done revoke
        return f"revoked; verification could not read AWS: {error}"
    return checked.detail if checked.ok else f"verification failed: {checked.detail}"


def _tell_thread(ctx: GraphContext, grant: ScheduledRevoke, outcome: ExpiryOutcome) -> None:
    where = f"{grant.cidr} on TCP {grant.port} of {grant.security_group_id}"
    if outcome.status == "ok" and outcome.already_gone:
        text = (
            f"⌛ {grant.vendor}'s access to {where} expired at {grant.expires_at_iso}; its rule was already "
            f"gone, so nothing was left to revoke ({outcome.revoke_action_id})."
        )
    elif outcome.status == "ok":
        text = (
            f"⌛ {grant.vendor}'s access to {where} expired at {grant.expires_at_iso} and was revoked "
            f"({outcome.revoke_action_id}). {outcome.detail}"
        )
    elif not grant.warned:
        text = (
            f"⚠️ {grant.vendor}'s access to {where} expired at {grant.expires_at_iso} but could not be "
            f"revoked yet ({outcome.status}: {outcome.detail}); opsbot tries again every "
            f"{RETRY_SECONDS / 60:g} minutes."
        )
    else:
        return
    ctx.notifier.post(grant.thread_id, text)


# --- running it ---------------------------------------------------------------------------------------


def start_periodic_sweeps(
    pipeline: HasContext, interval_seconds: float, stop: threading.Event | None = None
) -> threading.Thread:
    """A daemon thread that sweeps now and then every ``interval_seconds`` until ``stop`` is set.

    It reads ``pipeline.ctx`` at each sweep, so a notifier wired in later (Slack) is the one used.
    """
    if interval_seconds <= 0:
        raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
    halt = stop or threading.Event()

    def sweep_forever() -> None:
        while True:
            sweep_once(pipeline)
            if halt.wait(interval_seconds):
                return

    thread = threading.Thread(target=sweep_forever, name="vendor-expiry-sweeper", daemon=True)
    thread.start()
    return thread


def sweep_once(pipeline: HasContext) -> int:
    """One sweep that never raises (for a scheduler); how many grants it revoked."""
    try:
        outcomes = revoke_due(pipeline)
    except StoreError as error:
        log.warning("vendor expiry sweep skipped: %s", error)
        return 0
    except Exception:  # the sweeper outlives any one bad sweep
        log.exception("vendor expiry sweep failed")
        return 0
    revoked = sum(1 for outcome in outcomes if outcome.status == "ok")
    if outcomes:
        log.info("vendor expiry sweep: %d revoked, %d waiting", revoked, len(outcomes) - revoked)
    return revoked
