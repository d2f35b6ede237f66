"""Runs the graph for a request or alert, and resumes it when people decide.

One thread per request or incident. Exactly-once resume: an approval is claimed atomically in the
coordination store before the graph is resumed, so double clicks, two approvers at once and retries
give one execution. Authority (approver groups, self-approval) is checked here, before the claim.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import Command

from graph.build import build_graph
from graph.context import GraphContext
from graph.models import CONTROL_ACTIONS
from graph.nodes.audit import audit
from graph.nodes.decide import decide
from graph.nodes.parse import parse
from graph.nodes.plan import plan
from graph.nodes.retrieve import retrieve
from graph.state import GraphState, JsonDict, RunInput, fresh_run
from policies.decision import assign_to_groups, groups_still_needed, one_from_each
from policies.engine import approver_groups_of
from runtime.coordination import pending_key, resume_claim_key, run_scope, votes_key
from runtime.escalation import escalate, mark_emergency
from runtime.incidents import incident_id_of
from runtime.json_logs import log_context
from runtime.metrics import event_source, observe_run, record_approval, record_event

CLAIM_SECONDS = 24 * 3600
UsergroupExpander = Callable[[str], list[str]]
DecisionListener = Callable[[JsonDict, JsonDict], None]  # (the pending request, the answer)


@dataclass
class RunResult:
    thread_id: str
    state: JsonDict
    pending: JsonDict | None = None  # the approval request, when the run waits for people
    decided: JsonDict | None = None  # the approval request this run resumed, when it resumed one

    @property
    def outcome(self) -> str:
        return "awaiting_approval" if self.pending else str(self.state.get("outcome", ""))


@dataclass
class VoteResult:
    accepted: bool
    message: str
    approvers: list[str] = field(default_factory=list)
    run: RunResult | None = None
    missing_groups: list[str] = field(default_factory=list)  # each_group: the groups with no approver yet


class Pipeline:
    def __init__(self, ctx: GraphContext, checkpointer: Any) -> None:
        self.ctx = ctx
        self.graph = build_graph(checkpointer)
        self._thread_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _serialised(self, thread_id: str) -> threading.Lock:
        """Runs on one graph thread never overlap in this process (a repeat alert, a click mid-run)."""
        with self._locks_guard:
            return self._thread_locks.setdefault(thread_id, threading.Lock())

    def _config(self, thread_id: str) -> Any:
        return {"configurable": {"thread_id": thread_id}}

    def _finish(self, thread_id: str, state: JsonDict) -> RunResult:
        interrupts = state.pop("__interrupt__", None)
        if interrupts:
            request = dict(interrupts[0].value)
            pending = mark_emergency({**request, "summary": request.get("intent", {}).get("text", "")})
            self.ctx.store.put(pending_key(thread_id), json.dumps(pending))
            escalate(self.ctx, thread_id, state, pending)
            return RunResult(thread_id, state, pending)
        self.ctx.store.delete(pending_key(thread_id))
        escalate(self.ctx, thread_id, state, None)
        return RunResult(thread_id, state)

    def start(self, thread_id: str, run_input: RunInput, run_id: str | None = None) -> RunResult:
        """A new run on the thread. It starts from a clean state and supersedes any pending approval."""
        run = fresh_run(thread_id, run_id or uuid.uuid4().hex[:12], run_input)
        source = event_source(run_input)
        record_event(source)
        ids = log_context(thread_id=thread_id, run_id=run["run_id"], incident_id=incident_id_of(thread_id))
        with self._serialised(thread_id), ids, observe_run(source):
            state = self.graph.invoke(run, self._config(thread_id), context=self.ctx)
            return self._finish(thread_id, dict(state))

    def start_or_resume(self, thread_id: str, run_input: RunInput, run_id: str) -> RunResult:
        """A queued item's run, under the item's deterministic ``run_id`` (runtime/redelivery.py).

        On a redelivery (its worker died), the thread's unfinished run with that id is continued from
        its checkpoint rather than started again; a step the dead worker had begun is then skipped by
        the executor's claim, and the thread is told the run was interrupted there.
        """
        continued = self.continue_run(thread_id, run_id)
        if continued is not None:
            return continued
        result = self.start(thread_id, run_input, run_id)
        self._report_interrupted(result)
        return result

    def continue_run(self, thread_id: str, run_id: str) -> RunResult | None:
        """The thread's run ``run_id`` carried on from its last checkpoint: to its end, or to the approval
        it waits for (not asked again). None when ``run_id`` is not the thread's latest run."""
        config = self._config(thread_id)
        ids = log_context(thread_id=thread_id, run_id=run_id, incident_id=incident_id_of(thread_id))
        with self._serialised(thread_id), ids:
            snapshot = self.graph.get_state(config)
            values = dict(snapshot.values)
            if values.get("run_id") != run_id:
                return None
            if snapshot.interrupts:
                pending = self.pending(thread_id)
                if pending is not None and pending.get("run_id") == run_id:
                    return RunResult(thread_id, values, pending)
                return self._finish(thread_id, {**values, "__interrupt__": list(snapshot.interrupts)})
            if not snapshot.next:
                return RunResult(thread_id, values)  # it finished; only its acknowledgement was lost
            result = self._finish(thread_id, dict(self.graph.invoke(None, config, context=self.ctx)))
        self._report_interrupted(result)
        return result

    def _report_interrupted(self, result: RunResult) -> None:
        """A step skipped because its claim is held: on a redelivered run, the worker that began it died."""
        skipped = [e for e in result.state.get("executions", []) if e.get("status") == "skipped"]
        if not skipped:
            return
        step = skipped[0]
        where = f"step {int(step.get('index', 0)) + 1} ({step.get('action')}, {step.get('action_id')})"
        self.ctx.audit.append(
            "run_interrupted", result.thread_id, {"run_id": result.state.get("run_id"), "step": step}
        )
        self.ctx.notifier.post(
            result.thread_id,
            f"This run was interrupted at {where}: the worker running it stopped, so I did not run that "
            "step again. Check its effect in AWS before you retry.",
        )

    def pending(self, thread_id: str) -> JsonDict | None:
        raw = self.ctx.store.get(pending_key(thread_id))
        return json.loads(raw) if raw else None

    def _resume(self, thread_id: str, answer: JsonDict) -> RunResult:
        record_approval(str(answer.get("status", "")))
        run_id = str(answer.get("run_id", ""))
        ids = log_context(thread_id=thread_id, run_id=run_id, incident_id=incident_id_of(thread_id))
        with self._serialised(thread_id), ids, observe_run("approval"):
            state = self.graph.invoke(Command(resume=answer), self._config(thread_id), context=self.ctx)
            return self._finish(thread_id, dict(state))

    def last_state(self, thread_id: str) -> JsonDict:
        """The thread's latest checkpointed state (empty for a thread that never ran), after any run
        in progress on it in this process has finished: "why?" and "roll it back" see the whole run."""
        with self._serialised(thread_id):
            return dict(self.graph.get_state(self._config(thread_id)).values)

    def _claim_and_resume(
        self,
        thread_id: str,
        pending: JsonDict,
        by: str,
        answer: JsonDict,
        on_decided: DecisionListener | None = None,
    ) -> VoteResult:
        run_id = str(pending.get("run_id", ""))
        if not self.ctx.store.claim(resume_claim_key(run_scope(thread_id, run_id)), by, CLAIM_SECONDS):
            return VoteResult(False, "this approval has already been decided")
        if on_decided is not None:
            on_decided(pending, answer)
        run = self._resume(thread_id, {**answer, "run_id": run_id})
        run.decided = pending
        return VoteResult(True, f"{answer['status']} by {by}", answer.get("approvers", []), run)

    def vote(
        self,
        thread_id: str,
        user: str,
        approve: bool,
        expand_usergroup: UsergroupExpander | None = None,
        run_id: str | None = None,
        on_decided: DecisionListener | None = None,
    ) -> VoteResult:
        """A person clicked Approve or Reject. Only authorised, distinct, non-requesting people count.

        ``run_id`` (from the approval request the person saw) makes sure a click on an old request's
        buttons never counts for a newer request on the same thread. ``on_decided`` hears the decision
        once it is claimed and before anything executes (Slack shows who decided, then the result).
        """
        pending = self.pending(thread_id)
        if pending is None:
            return VoteResult(False, "there is no pending approval on this thread")
        if run_id is not None and run_id != pending.get("run_id", ""):
            return VoteResult(False, "that approval request was replaced by a newer request on this thread")
        if self.ctx.clock() > float(pending["expires_at"]):
            self.ctx.audit.append("approval_expired", thread_id, {"user": user})
            result = self._claim_and_resume(
                thread_id, pending, user, {"status": "expired", "by": user}, on_decided
            )
            return VoteResult(False, "this approval has expired; nothing will execute", run=result.run)
        allowed = set(pending.get("groups", []))
        if not allowed & approver_groups_of(self.ctx.policy, user, expand_usergroup):
            self.ctx.audit.append("approval_denied", thread_id, {"user": user, "reason": "not authorised"})
            return VoteResult(
                False, f"not authorised: approval needs a member of {', '.join(sorted(allowed))}"
            )
        if user == pending.get("requester") and not pending.get("allow_requester", True):
            self.ctx.audit.append("approval_denied", thread_id, {"user": user, "reason": "self-approval"})
            return VoteResult(False, "not authorised: the requester may not approve this action")
        if not approve:
            return self._claim_and_resume(
                thread_id, pending, user, {"status": "rejected", "by": user, "approvers": [user]}, on_decided
            )
        scope = run_scope(thread_id, str(pending.get("run_id", "")))
        approvers = self.ctx.store.add_member(votes_key(scope), user)
        self.ctx.audit.append("approval_vote", thread_id, {"user": user, "approvers": approvers})
        needed = int(pending.get("count", 1))
        if pending.get("each_group"):
            return self._vote_each_group(thread_id, pending, user, approvers, expand_usergroup, on_decided)
        if len(approvers) < needed:
            return VoteResult(True, f"approval {len(approvers)} of {needed} recorded", approvers)
        return self._claim_and_resume(
            thread_id, pending, user, {"status": "approved", "by": user, "approvers": approvers}, on_decided
        )

    def _vote_each_group(
        self,
        thread_id: str,
        pending: JsonDict,
        user: str,
        approvers: list[str],
        expand_usergroup: UsergroupExpander | None,
        on_decided: DecisionListener | None,
    ) -> VoteResult:
        """One approver from each group: a vote counts only for a group its voter is in, and one person
        counts for one group only (a largest matching of voters to groups); done when every group has one."""
        groups = [str(group) for group in pending.get("groups", [])]
        people = {
            voter: approver_groups_of(self.ctx.policy, voter, expand_usergroup) & set(groups)
            for voter in approvers
        }
        by_group = assign_to_groups(groups, people)
        missing = groups_still_needed(groups, by_group)
        more = int(pending.get("count", len(groups))) - len(approvers)
        if missing or more > 0:
            still = one_from_each(missing) if missing else f"{more} more approvers"
            message = f"approval {len(by_group)} of {len(groups)} recorded; still needed: {still}"
            return VoteResult(True, message, approvers, missing_groups=missing)
        answer = {"status": "approved", "by": user, "approvers": approvers, "by_group": by_group}
        return self._claim_and_resume(thread_id, pending, user, answer, on_decided)

    def expire_due(self) -> list[RunResult]:
        """Close every pending approval whose time is up: marked expired, never executed."""
        closed: list[RunResult] = []
        for key in self.ctx.store.keys("pending:"):
            thread_id = key.removeprefix("pending:")
            pending = self.pending(thread_id)
            if pending is None or self.ctx.clock() <= float(pending["expires_at"]):
                continue
            result = self._claim_and_resume(
                thread_id, pending, "opsbot:expiry", {"status": "expired", "by": "opsbot"}
            )
            if result.run is not None:
                closed.append(result.run)
        return closed

    def preview(self, run_input: RunInput, thread_id: str = "preview") -> JsonDict:
        """parse → retrieve → plan → audit → decide, with nothing executed and nothing logged."""
        runtime = Runtime(context=self.ctx)
        state: GraphState = {"thread_id": thread_id, "input": run_input}
        state.update(parse(state, runtime))  # type: ignore[typeddict-item]
        if state["intent"]["action"] not in CONTROL_ACTIONS:
            for node in (retrieve, plan, audit, decide):
                state.update(node(state, runtime))  # type: ignore[typeddict-item]
        return contract(dict(state))


def contract(state: JsonDict) -> JsonDict:
    """The `opsbot plan --json` contract of DESIGN.md §3."""
    intent = state.get("intent", {})
    decision = state.get("decision", {"decision": "none", "approvers": [], "reasons": []})
    if intent.get("action") in CONTROL_ACTIONS:
        decision = {"decision": "none", "approvers": [], "reasons": intent.get("errors", [])}
    audit_verdict = state.get("audit", {"verdict": "pass", "reasons": []})
    return {
        "intent": {"action": intent.get("action"), "params": intent.get("params", {})},
        "decision": decision.get("decision"),
        "approvers": decision.get("approvers", []),
        "plan": [{"action": s["action"], "params": s["params"]} for s in state.get("plan", [])],
        "audit": {"verdict": audit_verdict.get("verdict"), "reasons": audit_verdict.get("reasons", [])},
        "reasons": decision.get("reasons", []),
    }
