"""``what_to_change``: lessons derived by rule from a post-mortem's facts."""

from __future__ import annotations

from knowledge.postmortem_facts import DecisionPath, PostmortemFacts
from knowledge.postmortem_text import elapsed, text, user, users

SLOW_APPROVAL_SECONDS = 15 * 60


def what_to_change(facts: PostmortemFacts) -> list[str]:
    """Lessons derived by rule from the facts; never empty."""
    lessons: list[str] = []
    chain = facts.chain
    if chain is not None and not chain.ok:
        lessons.append(f"The audit log failed verification ({chain.reason}): treat this record as suspect.")
    for path in facts.decisions:
        lessons += _decision_lessons(path)
    directives = [d for t in [facts.trigger, *facts.follow_ups] for d in t.untrusted_directives]
    if directives:
        lessons.append(
            "The alert text carried instructions to the bot ("
            + "; ".join(f"«{text(d, 80)}»" for d in directives[:3])
            + "): find out who can write that alert's description, and tighten it."
        )
    for trigger in [facts.trigger, *facts.follow_ups]:
        if trigger.problems:
            lessons.append(
                "The request could not be read as asked (" + text("; ".join(trigger.problems), 160) + "): "
                "say in the help text how to phrase it."
            )
    for action in facts.actions:
        if action.status == "failed":
            lessons.append(
                f"Investigate why {action.action} {action.action_id} failed ({text(action.error, 160)}) "
                "and fix the cause before the next alert of this kind."
            )
        elif action.status == "refused":
            lessons.append(
                f"{action.action} {action.action_id} was refused at execution ({text(action.error, 160)}): "
                "policy or the kill switch changed after the decision; confirm that was intended."
            )
    for undo in facts.impact.rollbacks:
        if undo.status == "rollback failed":
            lessons.append(
                f"The rollback of {undo.action_id} failed ({text(undo.error, 160)}): "
                "undo it by hand and check the resource now."
            )
        elif undo.status == "not reversible":
            lessons.append(
                f"{undo.action_id} could not be rolled back automatically: check its effect by hand."
            )
        elif not undo.later:
            lessons.append(
                f"{undo.action_id} was rolled back after a failure: confirm the resource is as it was."
            )
        else:
            lessons.append(
                f"{undo.action_id} was undone later from thread {text(undo.thread_id, 80)}: record why, "
                "and whether the alert or the rule that acted on it should change."
            )
    for check in facts.impact.unverified:
        lessons.append(f"Verification did not confirm {text(check, 200)}: check the effect by hand.")
    return lessons or ["Nothing stood out: the run went as the policy intended."]


def _refusal_lessons(path: DecisionPath) -> list[str]:
    """Why the audit vetoed or policy rejected the run, as lessons: each kind of reason once."""
    vetoed = path.audit == "veto"
    reasons = path.veto_reasons if vetoed else path.reasons if path.decision == "reject" else []
    kinds: dict[str, list[str]] = {}
    for reason in reasons:
        lowered = reason.lower()
        kind = next(
            (k for k, needle in _REFUSAL_KINDS if needle in lowered), "mismatch" if vetoed else "policy"
        )
        kinds.setdefault(kind, []).append(reason)
    lessons = []
    for kind, found in kinds.items():
        if kind == "directive":  # said once for the whole incident, from the trigger
            continue
        lesson = _REFUSAL_LESSONS[kind]
        lessons.append(lesson.format(reasons=text("; ".join(found), 200)))
    return lessons


_REFUSAL_KINDS = [
    ("directive", "carries instructions"),
    ("paused", "paused"),
    ("rate", "rate limit"),
    ("blast", "the limit is"),
    ("blast", "blast-radius"),
]
_REFUSAL_LESSONS = {
    "paused": "Automation was paused when this came in: decide whether the pause should still hold.",
    "rate": "A rate limit was used up ({reasons}): look for an alert storm, or review the limit.",
    "blast": "The plan was bigger than the blast-radius limits allow ({reasons}): "
    "split the work, or review the limits.",
    "mismatch": "The plan did not match the intent: the audit vetoed it ({reasons}). "
    "Check how the request was parsed and planned.",
    "policy": "Policy rejected the request ({reasons}): confirm the rule is right.",
}


def _decision_lessons(path: DecisionPath) -> list[str]:
    lessons = _refusal_lessons(path)
    wait = path.approval_wait_seconds
    if path.approval == "expired":
        who = " or ".join(path.approver_groups) or "the approvers"
        lessons.append(
            f"The approval expired after {elapsed(wait)}: nobody in {who} answered; "
            "check how approvers are paged."
        )
    elif path.approval == "approved" and wait is not None and wait > SLOW_APPROVAL_SECONDS:
        lessons.append(
            f"Approval took {elapsed(wait)}: page the approvers sooner, "
            "or let policy run this case on its own."
        )
    elif path.approval == "rejected" and path.rejected_by:
        reason = (
            f" ({text(path.approval_reason, 120)})" if path.approval_reason not in ("", "rejected") else ""
        )
        lessons.append(
            f"{user(path.rejected_by)} rejected the plan{reason}: record why, and change the rule or planner "
            "if the proposal was wrong."
        )
    if path.denied:
        who = users(dict.fromkeys(click.user for click in path.denied))
        groups = " or ".join(path.approver_groups) or "the approver groups"
        lessons.append(
            f"{len(path.denied)} approval click(s) came from people who may not approve ({who}): "
            f"update {groups} if they should, or tell them who can."
        )
    if path.late_clicks:
        lessons.append(
            f"{users(dict.fromkeys(path.late_clicks))} tried to approve after the request expired: "
            "consider a longer approval window."
        )
    return lessons
