"""The one executor path: validate args -> policy -> run, exactly once per (thread, step).

Each step: claim its lock, skip if already done, re-check the kill switch and the policy at the
moment of execution, run, record the prior state for rollback, and write the audit log.
A failure rolls back the completed steps in reverse order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from graph.context import GraphContext
from graph.deciding import never_auto_rollback, step_facts
from graph.models import Intent, PlanStep
from policies.engine import decide
from runtime.coordination import (
    action_key,
    consume_rate,
    run_scope,
    step_done_key,
    step_lock_key,
    undone_key,
)
from runtime.metrics import record_execution
from tools.base import ExecContext, ToolError, ToolSpec
from tools.registry import REGISTRY

LOCK_SECONDS = 900
log = logging.getLogger(__name__)


class StepRefused(Exception):
    """Policy or the kill switch said no at the moment of execution."""


def action_id_for(scope: str, index: int) -> str:
    return "act-" + hashlib.sha256(f"{scope}:{index}".encode()).hexdigest()[:10]


def exec_context(ctx: GraphContext, thread_id: str) -> ExecContext:
    return ExecContext(
        incident_id=thread_id,
        dry_run=ctx.settings.dry_run,
        quarantine_group_name=ctx.settings.quarantine_group_name,
        waf_ip_set=ctx.settings.waf_ip_set(),
        tags={"opsbot:thread": thread_id},
    )


def _spec_and_args(step: PlanStep) -> tuple[ToolSpec[Any], Any, str]:
    """Resolve the tool, its validated args, and the mode (run or rollback)."""
    action, params = step.governing()
    spec = REGISTRY[action]
    return spec, spec.parse_args(params), "rollback" if step.action == "rollback" else "run"


def _run(ctx: GraphContext, step: PlanStep, exec_ctx: ExecContext) -> tuple[dict[str, Any], list[str]]:
    spec, args, mode = _spec_and_args(step)
    resources = [str(r) for r in spec.resources(args)]
    if mode == "run":
        return spec.run(ctx.clients, args, exec_ctx), resources
    assert spec.rollback is not None
    raw = ctx.store.get(action_key(str(step.params["action_id"])))
    if raw is None:
        raise ToolError(f"no record of {step.params['action_id']}")
    done = json.loads(raw)
    if (done["action"], done["params"]) != (step.params["of_action"], step.params["of_params"]):
        raise ToolError(f"the rollback step does not match what {step.params['action_id']} did")
    return undo_once(ctx, str(step.params["action_id"]), spec, args, done["record"], exec_ctx), resources


def undo_once(
    ctx: GraphContext,
    action_id: str,
    spec: ToolSpec[Any],
    args: Any,
    record: dict[str, Any],
    exec_ctx: ExecContext,
) -> dict[str, Any]:
    """Apply an action's recorded inverse at most once; a failed undo may be tried again."""
    assert spec.rollback is not None
    owner = f"{exec_ctx.incident_id}:{time.monotonic_ns()}"
    if not ctx.store.claim(undone_key(action_id), owner):
        raise ToolError(f"{action_id} has already been rolled back")
    try:
        return spec.rollback(ctx.clients, args, record, exec_ctx)
    except BaseException:
        ctx.store.release(undone_key(action_id), owner)
        raise


def _check_policy(ctx: GraphContext, step: PlanStep, intent: Intent, state: dict[str, Any]) -> None:
    facts = step_facts(step, intent, state.get("context", {}), ctx)
    decision = never_auto_rollback(ctx.policy, [step], decide(ctx.policy, facts))
    approved = state.get("approval", {}).get("status") == "approved"
    if decision.decision == "auto" or (decision.decision == "approval" and approved):
        return
    raise StepRefused("; ".join(decision.reasons) or f"policy says {decision.decision}")


def execute_step(ctx: GraphContext, state: dict[str, Any], index: int, step: PlanStep) -> dict[str, Any]:
    thread_id = str(state["thread_id"])
    scope = run_scope(thread_id, str(state.get("run_id", "")))
    action_id = action_id_for(scope, index)
    done = ctx.store.get(step_done_key(scope, index))
    if done is not None:
        return {**json.loads(done), "replayed": True}
    owner = f"{scope}:{index}:{time.monotonic_ns()}"
    if not ctx.store.claim(step_lock_key(scope, index), owner, LOCK_SECONDS):
        record_execution(step.action, "skipped")
        return {
            "index": index,
            "action": step.action,
            "action_id": action_id,
            "status": "skipped",
            "error": "another executor holds this step",
        }
    intent = Intent.model_validate(state["intent"])
    started = time.perf_counter()
    result: dict[str, Any] = {
        "index": index,
        "action": step.action,
        "params": step.params,
        "action_id": action_id,
    }
    try:
        _check_policy(ctx, step, intent, state)
        consume_rate(ctx.store, step.governing()[0], ctx.clock())
        record, resources = _run(ctx, step, exec_context(ctx, thread_id))
        result |= {
            "status": "dry_run" if record.get("dry_run") else "ok",
            "record": record,
            "resources": resources,
        }
    except StepRefused as refusal:
        result |= {"status": "refused", "error": str(refusal)}
    except (ToolError, ValidationError, ClientError, BotoCoreError, KeyError) as error:
        result |= {"status": "failed", "error": plain(error)}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    record_execution(step.action, result["status"])
    outcome = f"{result['status']}: {result['error']}" if "error" in result else result["status"]
    log.info("step %d %s (%s): %s", index, step.action, action_id, outcome)
    ctx.audit.append("action", thread_id, result)
    if result["status"] == "ok":
        ctx.store.put(
            action_key(action_id),
            json.dumps(
                {
                    "action": step.action,
                    "params": step.params,
                    "record": result["record"],
                    "resources": result["resources"],
                    "thread_id": thread_id,
                }
            ),
        )
    ctx.store.put(step_done_key(scope, index), json.dumps(result))
    return result


def plain(error: BaseException) -> str:
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        return f"AWS said {info.get('Code', 'error')}: {info.get('Message', '')}".strip()
    if isinstance(error, ValidationError):
        return "; ".join(str(issue.get("msg")) for issue in error.errors())
    return str(error) or type(error).__name__


def roll_back(ctx: GraphContext, thread_id: str, completed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Undo completed steps, newest first. Each undo is audited; an undo that fails is reported."""
    outcomes: list[dict[str, Any]] = []
    for result in reversed(completed):
        spec = REGISTRY.get(str(result["action"]))
        if spec is None or spec.rollback is None:
            outcomes.append({"action_id": result["action_id"], "status": "not reversible"})
            continue
        try:
            args = spec.parse_args(result["params"])
            undo_once(
                ctx, str(result["action_id"]), spec, args, result["record"], exec_context(ctx, thread_id)
            )
            outcome = {"action_id": result["action_id"], "status": "rolled back"}
        except (ToolError, ValidationError, ClientError, BotoCoreError) as error:
            outcome = {"action_id": result["action_id"], "status": "rollback failed", "error": plain(error)}
        ctx.audit.append("rollback", thread_id, outcome)
        outcomes.append(outcome)
    return outcomes
