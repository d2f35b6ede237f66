"""Planning: an intent becomes ordered, typed plan steps, with context gathered read-only.

Two planners share one gathering step (``gather_context``) and one way to describe a step
(``describe_step``: effect, rollback and risk from the registry, cost from the price table):

- the rule planner (``make_plan``) derives the steps from the intent;
- ``plan_from_proposal`` takes the steps the LLM proposed (already validated by the registry's args
  models in parse) and never lets the LLM say what a step does, what it undoes or what it costs.

Both follow the best retrieved runbook the same way. Neither drops a step: a step the intent does not
call for stays in the plan, so the audit vetoes it where people can see it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from graph.context import GraphContext
from graph.models import Intent, PlanStep
from graph.runbook_steps import best_runbook, follow
from policies.engine import PriceTable, monthly_cost_delta
from runtime.coordination import action_key, undone_key
from tools.base import AwsUnreachable, ToolError
from tools.context import describe_asg, describe_instance
from tools.registry import REGISTRY
from tools.routes import UpdateRouteArgs, route_facts, route_key

INSTANCE_ACTIONS = frozenset(
    {"isolate_instance", "snapshot_instance", "stop_instance", "terminate_instance", "restart_service"}
)
GONE_STATES = frozenset({"shutting-down", "terminated"})
# What each intent may put in a plan. The audit holds plans to this table.
ALLOWED_STEPS: dict[str, frozenset[str]] = {
    "isolate_instance": frozenset({"snapshot_instance", "isolate_instance"}),
    "rollback": frozenset({"rollback"}),
}


def allowed_steps(intent_action: str) -> frozenset[str]:
    if intent_action in ALLOWED_STEPS:
        return ALLOWED_STEPS[intent_action]
    return frozenset({intent_action}) if intent_action in REGISTRY else frozenset()


@dataclass
class Planned:
    steps: list[PlanStep] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # the input names something that is not there
    unavailable: list[str] = field(default_factory=list)  # context that could not be read
    found: list[str] = field(default_factory=list)  # resources discovered while gathering context
    alert_vpcs: list[str] = field(default_factory=list)  # VPCs of the instances an alert names


def describe_step(action: str, params: dict[str, Any], why: str, cost: float | None = None) -> PlanStep:
    spec = REGISTRY[action]
    return PlanStep(
        action=action,
        params=params,
        why=why,
        expected_effect=spec.effect,
        rollback=spec.rollback_summary,
        risk=spec.risk,
        monthly_cost_usd=cost,
    )


# --- gathering: read-only, shared by both planners --------------------------------------------------


def gather_context(intent: Intent, ctx: GraphContext) -> Planned:
    """What AWS says about the resources the intent acts on: instances, Auto Scaling groups, and the
    VPCs of the instances an alert names (where a block_ip applies)."""
    planned = Planned()
    if intent.action in INSTANCE_ACTIONS:
        _gather_instance(intent, ctx, planned)
    elif intent.action == "scale_asg":
        _gather_asg(intent, ctx, planned)
    elif intent.action == "block_ip" and intent.alert is not None and intent.alert.instance_ids:
        planned.alert_vpcs = _vpcs_of(intent, ctx, planned)
    elif intent.action == "update_route" and not intent.errors:
        _gather_route(intent, ctx, planned)
    return planned


def _gather_route(intent: Intent, ctx: GraphContext, planned: Planned) -> None:
    """The route as it stands and the new target's health: the policy's facts for update_route."""
    try:
        args = UpdateRouteArgs.model_validate({"region": ctx.settings.aws_region, **intent.params})
        facts = route_facts(ctx.clients, args)
    except ValueError:
        return  # invalid params: the decision rejects them, naming the bad parameter
    except AwsUnreachable as error:
        planned.unavailable.append(str(error))
        return
    except ToolError as error:
        planned.problems.append(str(error))
        return
    planned.context.setdefault("routes", {})[route_key(args.route_table_id, args.destination_cidr)] = facts


def _read_instance(ctx: GraphContext, planned: Planned, instance_id: str, region: str) -> dict[str, Any]:
    """Describe an instance and keep what AWS said in the plan's context."""
    facts = describe_instance(ctx.clients, instance_id, region)
    planned.context.setdefault("instances", {})[instance_id] = facts
    return facts


def _gather_instance(intent: Intent, ctx: GraphContext, planned: Planned) -> None:
    instance_id = intent.params.get("instance_id")
    if not isinstance(instance_id, str) or intent.errors:
        return
    region = str(intent.params.get("region", ctx.settings.aws_region))
    try:
        facts = _read_instance(ctx, planned, instance_id, region)
    except AwsUnreachable as error:
        planned.unavailable.append(str(error))
        return
    except ToolError as error:
        planned.problems.append(str(error))
        return
    if facts.get("state") in GONE_STATES:
        planned.problems.append(f"{instance_id} is {facts['state']}: there is nothing left to act on")
        return
    planned.found += [str(eni["vpc_id"]) for eni in facts["network_interfaces"] if eni.get("vpc_id")]
    planned.found += [str(volume["volume_id"]) for volume in facts["volumes"]]


def _gather_asg(intent: Intent, ctx: GraphContext, planned: Planned) -> None:
    name = intent.params.get("asg_name")
    if not isinstance(name, str) or intent.errors:
        return
    region = str(intent.params.get("region", ctx.settings.aws_region))
    try:
        planned.context.setdefault("asgs", {})[name] = describe_asg(ctx.clients, name, region)
    except AwsUnreachable as error:
        planned.unavailable.append(str(error))
    except ToolError as error:
        planned.problems.append(str(error))


def _vpcs_of(intent: Intent, ctx: GraphContext, planned: Planned) -> list[str]:
    assert intent.alert is not None
    vpcs: set[str] = set()
    for instance_id in intent.alert.instance_ids:
        try:
            facts = _read_instance(ctx, planned, instance_id, intent.alert.region)
        except ToolError:
            continue  # the instance is gone or elsewhere: block region-wide
        if facts.get("vpc_id"):
            vpcs.add(str(facts["vpc_id"]))
    planned.found += sorted(vpcs)
    return sorted(vpcs)


def gathered_asg(planned: Planned, name: Any) -> dict[str, Any] | None:
    group = planned.context.get("asgs", {}).get(str(name))
    return dict(group) if isinstance(group, dict) else None


def scale_cost(prices: PriceTable, group: dict[str, Any] | None, desired: Any) -> float | None:
    """The monthly cost of moving the group to ``desired`` instances, when its instance type is known."""
    instance_type = group.get("instance_type") if group else None
    if group is None or not isinstance(desired, int) or not isinstance(instance_type, str):
        return None
    return monthly_cost_delta(prices, instance_type, desired - int(group["desired_capacity"]))


# --- the rule planner -------------------------------------------------------------------------------


def make_plan(intent: Intent, ctx: GraphContext, retrieved: dict[str, Any] | None = None) -> Planned:
    planned = gather_context(intent, ctx)
    _rule_steps(intent, ctx, planned)
    return _follow_runbook(intent, retrieved, planned)


def _follow_runbook(intent: Intent, retrieved: dict[str, Any] | None, planned: Planned) -> Planned:
    runbook = best_runbook(intent, retrieved or {})
    if runbook is not None and planned.steps:
        planned.steps = follow(planned.steps, runbook, allowed_steps(intent.action), describe_step)
        planned.context["runbook"] = {k: runbook.get(k) for k in ("id", "title", "score")}
    return planned


def _rule_steps(intent: Intent, ctx: GraphContext, planned: Planned) -> None:
    action = intent.action
    if action == "rollback":
        _plan_rollback(intent, ctx, planned)
    elif action == "scale_asg":
        _plan_scale(intent, ctx, planned)
    elif action == "isolate_instance":
        keep = {k: v for k, v in intent.params.items() if k in {"instance_id", "region"}}
        planned.steps.append(describe_step("snapshot_instance", keep, "preserve disks for forensics first"))
        planned.steps.append(describe_step("isolate_instance", dict(intent.params), intent.text or "isolate"))
    elif action == "block_ip":
        params = dict(intent.params)
        if "vpc_id" not in params and len(planned.alert_vpcs) == 1:
            params["vpc_id"] = planned.alert_vpcs[0]
        planned.steps.append(describe_step("block_ip", params, intent.text or "block"))
    elif action in REGISTRY:
        planned.steps.append(describe_step(action, dict(intent.params), intent.text or action))


def _plan_scale(intent: Intent, ctx: GraphContext, planned: Planned) -> None:
    params = dict(intent.params)
    name = params.get("asg_name")
    group = gathered_asg(planned, name)
    current = int(group["desired_capacity"]) if group else None
    delta = params.pop("delta", None)
    if "desired_capacity" not in params and current is not None:
        if isinstance(delta, int):
            params["desired_capacity"] = current + delta
        else:  # an alarm: add half again (at least one), never past the max
            grown = current + max(1, math.ceil(current / 2))
            params["desired_capacity"] = min(int(group["max_size"]), grown) if group else grown
    desired = params.get("desired_capacity")
    cost = scale_cost(ctx.prices, group, desired)
    why = f"scale {name} from {current} to {desired}" if current is not None else f"scale {name} to {desired}"
    planned.steps.append(describe_step("scale_asg", params, why, cost))


def _plan_rollback(intent: Intent, ctx: GraphContext, planned: Planned) -> None:
    action_id = str(intent.params.get("action_id", ""))
    raw = ctx.store.get(action_key(action_id)) if action_id else None
    if raw is None:
        planned.problems.append(f"action_id '{action_id}' is not an action opsbot executed")
        return
    if ctx.store.get(undone_key(action_id)) is not None:
        planned.problems.append(f"{action_id} has already been rolled back")
        return
    record = json.loads(raw)
    spec = REGISTRY.get(record["action"])
    if spec is None or spec.rollback is None:
        planned.problems.append(f"{record['action']} ({action_id}) is not reversible")
        return
    planned.context["rolled_back_action"] = record
    planned.found += [str(resource) for resource in record.get("resources", [])]
    planned.steps.append(
        PlanStep(
            action="rollback",
            params={"action_id": action_id, "of_action": record["action"], "of_params": record["params"]},
            why=f"undo {record['action']} {action_id}",
            expected_effect=spec.rollback_summary,
            rollback="re-run the original action",
            risk="write",
        )
    )


# --- the LLM's proposal -----------------------------------------------------------------------------


def plan_from_proposal(
    intent: Intent,
    ctx: GraphContext,
    proposed: list[dict[str, Any]],
    why: str,
    retrieved: dict[str, Any] | None = None,
) -> Planned:
    """The LLM's steps, in its order, each described by the registry and priced by the price table.

    Context is gathered exactly as for the rule planner. A step whose action is not registered cannot
    be described, so it is left out and named in ``problems`` (which makes the decision a reject); parse
    never lets one through, so this only guards state that did not come from parse.
    """
    planned = gather_context(intent, ctx)
    for index, raw in enumerate(proposed, start=1):
        action = str(raw.get("action", ""))
        params = dict(raw.get("params") or {})
        if action not in REGISTRY:
            planned.problems.append(f"step {index} of the LLM's plan ({action}) is not a registered action")
            continue
        cost = scale_cost(
            ctx.prices, gathered_asg(planned, params.get("asg_name")), params.get("desired_capacity")
        )
        reason = why or f"step {index} of the LLM's plan"
        planned.steps.append(describe_step(action, params, reason, cost if action == "scale_asg" else None))
    return _follow_runbook(intent, retrieved, planned)
