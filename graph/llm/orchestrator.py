"""The orchestrator: one tool-use call turns the input, the gathered context and the retrieved runbooks
into an intent and a plan.

The tools are the registry's own schemas (one tool per action, called in plan order) plus
``no_action``. Every call the model makes is validated by the same pydantic models the rule path uses:
the action's args model, and ``graph.models.Intent`` for the intent. An invalid answer gets one repair
call, with the problems as ``tool_result`` errors; a second invalid answer, an unavailable LLM or a
used-up budget gives a ``Fallback`` and the rules decide. ``propose`` never raises.

What the LLM proposes widens nothing: the intent keeps the rule parser's trusted fields (where the
input came from, the resources it names, the directives found in alert text); only the action and its
params come from the model, and the audit holds the plan to them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from graph.context import GraphContext
from graph.deciding import plain_error
from graph.llm.budget import IncidentUsage
from graph.llm.client import LlmClient, LlmReply, LlmUnavailable, text_block
from graph.llm.prompts import (
    NO_ACTION,
    InputKind,
    NoActionArgs,
    no_action_schema,
    repair_text,
    system_blocks,
    user_message,
)
from graph.models import Intent
from graph.nodes.retrieve import TOP_K, retrieval_query
from graph.planning import allowed_steps
from graph.state import GraphState, JsonDict
from knowledge.runbooks import DEFAULT_DIR, load_runbooks
from runtime.redaction import mask_secrets
from tools.base import INSTANCE_ID_RE, AwsClients, ToolError
from tools.context import describe_asg, describe_instance
from tools.registry import REGISTRY, llm_tool_schemas

log = logging.getLogger(__name__)

MAX_OUTPUT = 4096  # room for the thinking some models do before their tool calls
MAX_STEPS = 10  # more calls than this is not a plan; the audit's blast radius is tighter still
MAX_DESCRIBED = 3  # instances (and groups) described for the prompt
MAX_PROBLEMS_SHOWN = 5  # in a note or a fallback reason; each cut at MAX_PROBLEM_CHARS
MAX_PROBLEM_CHARS = 200
MAX_WHY_CHARS = 300  # the model's one-line rationale, shown as each step's "why"
FORCE_TOOL_USE = {"type": "any"}  # relaxed to auto by the client where the model refuses it


@dataclass(frozen=True)
class ProposedStep:
    action: str
    params: dict[str, Any]


@dataclass
class Proposal:
    """A valid answer: the LLM's intent and its steps ([] when it proposed no action)."""

    intent: Intent
    steps: list[ProposedStep]
    model: str
    why: str
    usage: IncidentUsage
    replies: list[JsonDict] = field(default_factory=list)  # LlmReply.audit_record() per call
    notes: list[str] = field(default_factory=list)
    no_action_reason: str | None = None

    def state_record(self) -> JsonDict:
        """What graph state keeps as ``proposal`` (the plan node reads it)."""
        return {
            "intent": self.intent.action,
            "steps": [{"action": step.action, "params": step.params} for step in self.steps],
            "model": self.model,
            "why": self.why,
        }


@dataclass
class Fallback:
    """No usable answer: the rules decide. ``reason`` is one sentence for the thread and the audit."""

    reason: str
    kind: str  # an LlmUnavailable kind ("budget", "timeout", ...), "invalid" or "error"
    usage: IncidentUsage
    replies: list[JsonDict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Reading:
    """One answer read against the registry: valid steps, or the problems (per call and overall)."""

    steps: list[ProposedStep] = field(default_factory=list)
    no_action: NoActionArgs | None = None
    call_problems: dict[str, list[str]] = field(default_factory=dict)  # tool_use id -> problems
    problems: list[str] = field(default_factory=list)  # about the answer as a whole

    @property
    def valid(self) -> bool:
        return not self.problems and not any(self.call_problems.values())

    def all_problems(self) -> list[str]:
        return [*self.problems, *(p for found in self.call_problems.values() for p in found)]

    def summary(self) -> str:
        """The problems in one bounded line, for a note (they can quote what the model sent)."""
        shown = [_bounded(problem, MAX_PROBLEM_CHARS) for problem in self.all_problems()[:MAX_PROBLEMS_SHOWN]]
        more = len(self.all_problems()) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def usage_from_state(llm: Mapping[str, Any]) -> IncidentUsage:
    """The incident's LLM usage so far, from state ``llm`` (which also holds notes and records)."""
    return IncidentUsage.model_validate({k: v for k, v in llm.items() if k in IncidentUsage.model_fields})


def tool_schemas() -> list[JsonDict]:
    """The registry's action tools, then ``no_action``: nothing is hand-copied."""
    return [*llm_tool_schemas(), no_action_schema()]


def propose(ctx: GraphContext, state: GraphState) -> Proposal | Fallback:
    """Ask the LLM for the intent and plan of ``state``'s input; never raises.

    ``state`` must hold ``input`` and ``rules_intent`` (the rule parser's reading); its ``llm`` usage,
    if any, is where the calls are counted against the per-incident limit.
    """
    usage = usage_from_state(state.get("llm") or {})
    replies: list[JsonDict] = []
    if ctx.llm is None:
        return Fallback("LLM off: rules only", "off", usage)
    try:
        rules = Intent.model_validate(state.get("rules_intent") or {})
        return _propose(ctx, ctx.llm, state, rules, usage, replies)
    except LlmUnavailable as failure:
        return Fallback(failure.reason, failure.kind, usage, replies)
    except Exception as error:  # an orchestrator bug must not stop the incident: rules still work
        log.exception("LLM orchestrator failed")
        return Fallback(f"the LLM orchestrator failed ({type(error).__name__})", "error", usage, replies)


def _propose(
    ctx: GraphContext,
    client: LlmClient,
    state: GraphState,
    rules: Intent,
    usage: IncidentUsage,
    replies: list[JsonDict],
) -> Proposal | Fallback:
    system = system_blocks(retrieved_runbooks(ctx, rules))
    kind, data = input_data(state, rules)
    first = user_message(kind, data, gathered_context(ctx, rules))
    tools = tool_schemas()
    region = default_region(ctx, rules)
    reply = client.call("orchestrator", system, [first], tools, FORCE_TOOL_USE, MAX_OUTPUT, incident=usage)
    replies.append(reply.audit_record())
    reading = read_reply(reply, region)
    notes: list[str] = []
    if not reading.valid:
        notes.append(f"the LLM's first answer was invalid ({reading.summary()}); asked once to repair it")
        messages = [
            first,
            {"role": "assistant", "content": _assistant_content(reply)},
            repair_turn(reply, reading),
        ]
        reply = client.call(
            "orchestrator", system, messages, tools, FORCE_TOOL_USE, MAX_OUTPUT, incident=usage
        )
        replies.append(reply.audit_record())
        reading = read_reply(reply, region)
        if not reading.valid:
            reason = f"the LLM's answer was invalid twice ({reading.summary()})"
            return Fallback(reason, "invalid", usage, replies, notes)
    return _proposal(reading, rules, reply, usage, replies, notes)


def _proposal(
    reading: _Reading,
    rules: Intent,
    reply: LlmReply,
    usage: IncidentUsage,
    replies: list[JsonDict],
    notes: list[str],
) -> Proposal:
    why = _bounded(_first_line(reply.text), MAX_WHY_CHARS)
    if reading.no_action is not None:
        intent = no_action_intent(reading.no_action, rules)
        said = _bounded(reading.no_action.reason, MAX_PROBLEM_CHARS)
        return Proposal(intent, [], reply.model, why, usage, replies, notes, no_action_reason=said)
    intent = intent_of_steps(reading.steps, rules)
    return Proposal(intent, reading.steps, reply.model, why, usage, replies, notes)


# --- reading an answer --------------------------------------------------------------------------------


def read_reply(reply: LlmReply, region: str) -> _Reading:
    """Check every tool call: a known tool, args through its own pydantic model; no_action alone."""
    reading = _Reading()
    if reply.stop_reason == "max_tokens":
        reading.problems.append("the answer was cut off at the output limit")
    if not reply.tool_calls:
        reading.problems.append("no tool was called: answer only with tool calls")
    if len(reply.tool_calls) > MAX_STEPS:
        reading.problems.append(f"{len(reply.tool_calls)} tool calls; a plan has at most {MAX_STEPS} steps")
    no_action_ids: list[str] = []
    for call in reply.tool_calls:
        problems = reading.call_problems.setdefault(call.id, [])
        if call.name == NO_ACTION:
            no_action_ids.append(call.id)
            parsed = _validate(NoActionArgs, call.input, NO_ACTION, problems)
            if isinstance(parsed, NoActionArgs):
                reading.no_action = parsed
        elif call.name in REGISTRY:
            args_model = REGISTRY[call.name].args
            raw = dict(call.input)
            if "region" in args_model.model_fields and "region" not in raw:
                raw["region"] = region
            parsed = _validate(args_model, raw, call.name, problems)
            if parsed is not None:
                reading.steps.append(
                    ProposedStep(call.name, parsed.model_dump(mode="json", exclude_unset=True))
                )
        else:
            known = ", ".join([*REGISTRY, NO_ACTION])
            problems.append(f"'{call.name}' is not one of the tools given ({known})")
    if no_action_ids and (len(no_action_ids) > 1 or len(reply.tool_calls) > 1):
        for call_id in no_action_ids:
            reading.call_problems[call_id].append(f"{NO_ACTION} must be the only tool called, once")
    return reading


def _validate(
    model: type[BaseModel], raw: dict[str, Any], name: str, problems: list[str]
) -> BaseModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        problems.extend(plain_error(name, issue) for issue in error.errors())
        return None


def repair_turn(reply: LlmReply, reading: _Reading) -> dict[str, Any]:
    """The user turn that answers every tool call (errors marked) and asks for the whole plan again."""
    results: list[dict[str, Any]] = []
    for call in reply.tool_calls:
        problems = reading.call_problems.get(call.id, [])
        results.append(
            {
                "type": "tool_result",
                "tool_use_id": call.id,
                "content": "; ".join(problems) if problems else "valid",
                "is_error": bool(problems),
            }
        )
    return {"role": "user", "content": [*results, text_block(repair_text(reading.all_problems()))]}


def _assistant_content(reply: LlmReply) -> list[dict[str, Any]]:
    return reply.content or [text_block("(no answer)")]


# --- the intent the answer stands for -------------------------------------------------------------


def main_action(actions: Sequence[str], rules_action: str) -> str:
    """The action the steps serve: the one whose allowed steps cover most of them (isolate_instance for
    snapshot + isolate); on a tie the rules' action, else the later step."""
    candidates = list(dict.fromkeys(actions))

    def covered(candidate: str) -> int:
        allowed = allowed_steps(candidate)
        return sum(1 for action in actions if action in allowed)

    best = max(covered(candidate) for candidate in candidates)
    top = [candidate for candidate in candidates if covered(candidate) == best]
    return rules_action if rules_action in top else top[-1]


def intent_of_steps(steps: Sequence[ProposedStep], rules: Intent) -> Intent:
    """The rule parser's intent with the LLM's action and params; everything else stays the rules'."""
    action = main_action([step.action for step in steps], rules.action)
    params = next(step.params for step in steps if step.action == action)
    errors = rules.errors if rules.action == action else []
    return Intent.model_validate({**rules.model_dump(), "action": action, "params": params, "errors": errors})


def no_action_intent(args: NoActionArgs, rules: Intent) -> Intent:
    """investigate (of a resource the input names) or unknown; never a control action."""
    named = {name.lower() for name in rules.named_resources}
    params: dict[str, Any] = {}
    if args.intent == "investigate" and args.resource and args.resource.lower() in named:
        params["resource"] = args.resource
    return Intent.model_validate(
        {**rules.model_dump(), "action": args.intent, "params": params, "errors": []}
    )


# --- what the prompt is made of ---------------------------------------------------------------------


def input_data(state: GraphState, rules: Intent) -> tuple[InputKind, str]:
    run_input = state.get("input", {})
    if "event" in run_input:
        return "alert", json.dumps(run_input["event"], indent=1, default=str)
    return ("alert" if rules.source == "alert" else "request"), str(run_input.get("text", ""))


def default_region(ctx: GraphContext, rules: Intent) -> str:
    region = rules.params.get("region") or (rules.alert.region if rules.alert else None)
    return str(region or ctx.settings.aws_region)


def retrieved_runbooks(ctx: GraphContext, rules: Intent) -> list[tuple[str, str, str]]:
    """(id, title, body) of the top runbooks for the rules' reading; [] when retrieval fails."""
    try:
        hits = ctx.retriever.runbooks(retrieval_query(rules), TOP_K)
        if not hits:
            return []
        bodies = {
            runbook.id: runbook.body for runbook in load_runbooks(ctx.settings.runbooks_dir or DEFAULT_DIR)
        }
    except Exception:  # runbooks help the LLM; their absence must not stop it
        log.warning("runbooks for the LLM prompt could not be read", exc_info=True)
        return []
    return [(hit["id"], hit["title"], bodies.get(hit["id"], "(text not available)")) for hit in hits]


def gathered_context(ctx: GraphContext, rules: Intent) -> JsonDict:
    """The rules' reading, the alert's structured fields and, read-only, the instances and groups named."""
    context: JsonDict = {
        "rule_parser_reading": {
            "action": rules.action,
            "params": rules.params,
            "named_resources": rules.named_resources,
            "errors": rules.errors,
        },
        "default_region": default_region(ctx, rules),
    }
    if rules.alert is not None:
        context["alert"] = rules.alert.model_dump(mode="json", exclude={"title", "description"})
    if rules.untrusted_directives:
        context["instructions_found_in_alert_text_ignored"] = rules.untrusted_directives
    instances, groups = _named_targets(rules)
    region = default_region(ctx, rules)
    if instances:
        context["instances"] = {i: _described(describe_instance, ctx, i, region) for i in instances}
    if groups:
        context["auto_scaling_groups"] = {g: _described(describe_asg, ctx, g, region) for g in groups}
    return context


def _named_targets(rules: Intent) -> tuple[list[str], list[str]]:
    instances = [str(rules.params["instance_id"])] if "instance_id" in rules.params else []
    groups = [str(rules.params["asg_name"])] if "asg_name" in rules.params else []
    if rules.alert is not None:
        instances += rules.alert.instance_ids
        groups += rules.alert.asg_names
    instances += [name for name in rules.named_resources if INSTANCE_ID_RE.match(name)]
    resource = rules.params.get("resource")
    if isinstance(resource, str) and resource and not INSTANCE_ID_RE.match(resource):
        groups.append(resource)
    return list(dict.fromkeys(instances))[:MAX_DESCRIBED], list(dict.fromkeys(groups))[:MAX_DESCRIBED]


Describer = Callable[[AwsClients, str, str], JsonDict]


def _described(describe: Describer, ctx: GraphContext, name: str, region: str) -> JsonDict:
    try:
        return dict(describe(ctx.clients, name, region))
    except (ToolError, ClientError, BotoCoreError) as error:
        return {"could_not_read": str(error)}


def _first_line(text: str) -> str:
    return next((part.strip() for part in text.splitlines() if part.strip()), "")


def _bounded(text: str, limit: int) -> str:
    """One line of model-made text, secrets masked, at most ``limit`` characters."""
    line = mask_secrets(" ".join(text.split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"
