"""``build_facts``: a thread's (or run's) audit entries read into ``PostmortemFacts``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.postmortem_facts import (
    ActionTaken,
    ChainCheck,
    DecisionPath,
    Entry,
    Impact,
    PostmortemError,
    PostmortemFacts,
    RollbackFact,
    Trigger,
)
from knowledge.postmortem_lessons import what_to_change
from knowledge.postmortem_reader import EntryReader
from knowledge.postmortem_text import as_dict, seconds_between
from knowledge.postmortem_trigger import title_of
from runtime.audit_log import VerifyReport


def build_facts(
    thread_entries: Sequence[Entry],
    *,
    chain: VerifyReport | None = None,
    log_entries: Sequence[Entry] = (),
    scope: str = "",
    log_path: Path | str = "",
) -> PostmortemFacts:
    """The facts of a post-mortem, read from one thread's (or run's) audit entries in log order.

    ``log_entries`` (the whole log) lets the facts show actions undone later from another thread;
    ``chain`` is the log's ``verify`` report, shown in the footer.
    """
    ordered = sorted((dict(e) for e in thread_entries), key=lambda e: int(e["seq"]))
    if not ordered:
        raise PostmortemError("there are no audit entries to write a post-mortem from")
    reader = EntryReader(scope)
    for entry in ordered:
        reader.read(entry)
    runs = reader.runs
    triggers = [run.trigger for run in runs if run.trigger is not None]
    trigger = (
        triggers[0] if triggers else Trigger(source="unknown", summary="no parse entry in the audit log")
    )
    later = _later_rollbacks(reader.actions, ordered, log_entries)
    impact = _impact(reader, ordered, later)
    facts = PostmortemFacts(
        thread_id=str(ordered[0]["thread_id"]),
        scope=scope,
        title=title_of(trigger),
        first_seq=int(ordered[0]["seq"]),
        last_seq=int(ordered[-1]["seq"]),
        trigger=trigger,
        follow_ups=triggers[1:],
        timeline=reader.timeline,
        actions=reader.actions,
        decisions=[run.path for run in runs],
        impact=impact,
        what_to_change=[],
        chain=None
        if chain is None
        else ChainCheck(
            ok=chain.ok,
            entries=chain.entries,
            reason=chain.reason,
            last_hash=chain.last_hash,
            path=str(log_path),
        ),
    )
    return facts.model_copy(update={"what_to_change": what_to_change(facts)})


def _later_rollbacks(
    actions: list[ActionTaken], ordered: list[dict[str, Any]], log_entries: Sequence[Entry]
) -> list[RollbackFact]:
    """Rollback requests elsewhere in the log that undid one of these actions."""
    ours = {a.action_id for a in actions if a.status == "ok"}
    own_seqs = {int(e["seq"]) for e in ordered}
    found: list[RollbackFact] = []
    for entry in log_entries:
        data = as_dict(entry["data"])
        if entry["kind"] != "action" or data.get("action") != "rollback" or int(entry["seq"]) in own_seqs:
            continue
        undone = str(as_dict(data.get("params")).get("action_id", ""))
        if undone in ours and data.get("status") == "ok":
            found.append(
                RollbackFact(
                    action_id=undone,
                    status="rolled back",
                    ts=str(entry["ts"]),
                    thread_id=str(entry["thread_id"]),
                    later=True,
                )
            )
    return found


def _impact(reader: EntryReader, ordered: list[dict[str, Any]], later: list[RollbackFact]) -> Impact:
    actions = reader.actions
    took_effect = [a for a in actions if a.status == "ok"]
    rollbacks = [*reader.rollbacks, *later]
    undone = {r.action_id for r in rollbacks if r.status == "rolled back"}
    undone |= {a.undoes for a in took_effect if a.undoes}
    failures = [
        f"{a.action} {a.action_id} {a.status}: {a.error}"
        for a in actions
        if a.status in ("failed", "refused")
    ]
    failures += [
        f"rollback of {r.action_id} failed: {r.error}" for r in rollbacks if r.status == "rollback failed"
    ]
    costs = [a.monthly_cost_usd for a in took_effect if a.monthly_cost_usd is not None]
    first, last = str(ordered[0]["ts"]), str(ordered[-1]["ts"])
    documents = [event for event in reader.timeline if event.kind == "document"]
    resolved = documents[-1].ts if documents and reader.run.path.outcome else None
    outcomes = [run.path.outcome or "unfinished" for run in reader.runs]
    return Impact(
        outcome=_final_outcome(reader.runs[-1].path),
        run_outcomes=outcomes if len(outcomes) > 1 else [],
        changed=[
            f"{a.action} {a.action_id} on {', '.join(a.resources) or 'no named resource'}"
            + (f" ({a.detail})" if a.detail else "")
            for a in took_effect
        ],
        resources_changed=list(dict.fromkeys(r for a in took_effect for r in a.resources)),
        still_in_effect=[
            a.action_id for a in took_effect if a.action_id not in undone and a.action != "rollback"
        ],
        rollbacks=rollbacks,
        failures=failures,
        unverified=reader.unverified,
        monthly_cost_usd=round(sum(costs), 2) if costs else None,
        started_at=first,
        ended_at=last,
        duration_seconds=seconds_between(first, last) or 0.0,
        time_to_first_action_seconds=seconds_between(first, took_effect[0].ts) if took_effect else None,
        time_to_resolution_seconds=seconds_between(first, resolved) if resolved else None,
    )


def _final_outcome(path: DecisionPath) -> str:
    if path.outcome:
        return path.outcome
    if path.approval == "pending":
        return "awaiting approval"
    return "unfinished"
