"""parse: text or an AWS event becomes a typed Intent. Rules always work offline.

The rule parser always runs first and its reading is kept (``rules_intent``). With an LLM configured,
the orchestrator then proposes an intent and a plan, except for control requests (status, help,
pause, resume, rollback), which stay with the rules: cheaper, and nothing for a model to add. The
LLM's intent replaces the rules' only when it is valid; its steps go to ``proposal`` for the plan node.

``llm`` records the incident's LLM usage and estimated cost with notes saying what the LLM did or why
it was not used; the ``audited`` wrapper writes it to the audit log with the rest of this update.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from graph.context import GraphContext
from graph.llm.budget import IncidentUsage
from graph.llm.orchestrator import Fallback, Proposal, propose
from graph.models import Intent
from graph.parsing import EventFormatError, intent_from_event, parse_request
from graph.state import GraphState, JsonDict

RULES_ONLY = frozenset({"status", "help", "pause", "resume", "rollback", "troubleshoot_connectivity"})
LLM_OFF = "LLM off: rules only"


def read_intent(state: GraphState, ctx: GraphContext) -> Intent:
    run_input = state.get("input", {})
    requester = run_input.get("requester", "")
    if "event" in run_input:
        try:
            intent = intent_from_event(run_input["event"])
        except EventFormatError as error:
            return Intent(action="unknown", source="alert", requester=requester, errors=[str(error)])
        return intent.model_copy(update={"requester": requester})
    return parse_request(
        run_input.get("text", ""), requester=requester, default_region=ctx.settings.aws_region
    )


def settle(rules: Intent, outcome: Proposal | Fallback) -> tuple[Intent, JsonDict, list[str]]:
    """The intent the run goes on with, the proposal for the plan node, and notes saying why.

    - no usable answer: the rules' intent, and the reason;
    - "no action" where the rules recognised an action: the rules' intent and plan stand (the LLM
      never lowers the floor by staying silent);
    - an action: the LLM's intent and steps. Where the rules recognised another action, the audit
      vetoes it (``graph.auditing.disagreement``) and a person decides.
    """
    if isinstance(outcome, Fallback):
        note = outcome.reason if outcome.kind == "budget" else f"fell back to rules: {outcome.reason}"
        return rules, {}, [*outcome.notes, note]
    notes = list(outcome.notes)
    llm = outcome.intent
    if not outcome.steps:
        said = f"the LLM proposed no action ({outcome.no_action_reason})"
        if rules.action != "unknown":
            return rules, {}, [*notes, f"{said}; the rules' reading {rules.action} stands"]
        return llm, {"intent": llm.action, "steps": []}, [*notes, f"{said}; read as {llm.action}"]
    if rules.action != "unknown" and llm.action != rules.action:
        notes.append(f"the LLM read {llm.action}, the rules read {rules.action}: a person must decide")
    else:
        notes.append(f"intent and plan from the LLM ({outcome.model})")
    return llm, outcome.state_record(), notes


def llm_record(
    usage: IncidentUsage, notes: list[str], replies: list[JsonDict] | None = None, intent_from: str = "rules"
) -> JsonDict:
    """State ``llm``: the usage fields at the top level (no key says "token"), the calls, the notes, and
    whether the intent came from the LLM or the rules."""
    return {
        **usage.model_dump(mode="json"),
        "replies": replies or [],
        "notes": notes,
        "intent_from": intent_from,
    }


def parse(state: GraphState, runtime: Runtime[GraphContext]) -> JsonDict:
    ctx = runtime.context
    rules = read_intent(state, ctx)
    reading = rules.model_dump(mode="json")
    if ctx.llm is None or rules.action in RULES_ONLY:
        note = LLM_OFF if ctx.llm is None else f"rules only: '{rules.action}' is a control request"
        return {
            "rules_intent": reading,
            "intent": reading,
            "proposal": {},
            "llm": llm_record(IncidentUsage(), [note]),
        }
    outcome = propose(ctx, {**state, "rules_intent": reading, "llm": {}})
    intent, proposal, notes = settle(rules, outcome)
    return {
        "rules_intent": reading,
        "intent": intent.model_dump(mode="json"),
        "proposal": proposal,
        "llm": llm_record(outcome.usage, notes, outcome.replies, "llm" if proposal else "rules"),
    }
