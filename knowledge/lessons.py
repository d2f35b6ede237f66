"""What remembered incidents and their feedback say, by action and alert type.

``lessons(store)`` groups every remembered run by (action, alert type) and counts how often it was
executed, refused (vetoed, rejected, declined, expired) and liked or disliked, keeps the latest
comments, and says it in one line; ``render_lessons`` prints that as a plain table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from graph.render import NEGATIVE_OUTCOMES, is_negative, vote_count

if TYPE_CHECKING:
    from knowledge.store import KnowledgeStore

EXECUTED = ("executed", "executed_unverified")
COMMENTS_KEPT = 3
PAGE = 1000
TAKEAWAY_REASON_CHARS = 100


class Lesson(BaseModel):
    model_config = ConfigDict(frozen=True)

    action: str
    alert_type: str
    count: int
    executed: int
    negatives: int
    thumbs_up: int
    thumbs_down: int
    feedback: list[str]  # the most recent comments, newest last
    takeaway: str


def remembered_incidents(store: KnowledgeStore) -> Iterator[dict[str, Any]]:
    """The metadata of every remembered incident, a page at a time."""
    from knowledge.store import chroma_errors

    offset = 0
    while True:
        with chroma_errors(f"read remembered incidents from {store.location}"):
            page = store.incidents.get(include=["metadatas"], limit=PAGE, offset=offset)
        metadatas = page["metadatas"] or []
        for metadata in metadatas:
            yield dict(metadata or {})
        if len(page["ids"]) < PAGE:
            return
        offset += PAGE


def _when(metadata: Mapping[str, Any]) -> str:
    return str(metadata.get("finished_at") or metadata.get("remembered_at") or "")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def takeaway(group: Sequence[Mapping[str, Any]]) -> str:
    """One line: is this usually done, and done well, or usually refused, and why."""
    count = len(group)
    refused = [meta for meta in group if is_negative(meta)]
    executed = sum(1 for meta in group if meta.get("outcome") in EXECUTED)
    ups = sum(vote_count(meta.get("thumbs_up")) for meta in group)
    downs = sum(vote_count(meta.get("thumbs_down")) for meta in group)
    if refused and len(refused) * 2 >= count:
        outcome, _ = Counter(str(meta.get("outcome")) for meta in refused).most_common(1)[0]
        reasons = Counter(str(meta.get("reasons") or "") for meta in refused if meta.get("reasons"))
        top = f": {_clip(reasons.most_common(1)[0][0], TAKEAWAY_REASON_CHARS)}" if reasons else ""
        return f"often {NEGATIVE_OUTCOMES.get(outcome, outcome)}{top}"
    if downs > ups:
        return "done, but mostly disliked: read the feedback before repeating it"
    if executed * 2 >= count:
        if ups:
            return "mostly approved and liked"
        return "mostly approved; no votes yet" if not downs else "mostly approved; opinions split"
    return "mixed outcomes: check each case"


def lessons(store: KnowledgeStore) -> list[Lesson]:
    """Remembered incidents grouped by (action, alert type), the most frequent first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for metadata in remembered_incidents(store):
        alert = str(metadata.get("alert_type") or metadata.get("finding_type") or "")
        key = (
            str(metadata.get("action") or "unknown"),
            alert or str(metadata.get("alert_kind") or "request"),
        )
        groups.setdefault(key, []).append(metadata)
    found = []
    for (action, alert), group in groups.items():
        group.sort(key=_when)
        comments = [
            line.strip()
            for meta in group
            for line in str(meta.get("feedback") or "").splitlines()
            if line.strip()
        ]
        found.append(
            Lesson(
                action=action,
                alert_type=alert,
                count=len(group),
                executed=sum(1 for meta in group if meta.get("outcome") in EXECUTED),
                negatives=sum(1 for meta in group if is_negative(meta)),
                thumbs_up=sum(vote_count(meta.get("thumbs_up")) for meta in group),
                thumbs_down=sum(vote_count(meta.get("thumbs_down")) for meta in group),
                feedback=comments[-COMMENTS_KEPT:],
                takeaway=takeaway(group),
            )
        )
    return sorted(found, key=lambda lesson: (-lesson.count, lesson.action, lesson.alert_type))


COLUMNS = ("action", "alert type", "runs", "executed", "refused", "up", "down", "takeaway")


def render_lessons(found: Sequence[Lesson]) -> str:
    """A plain table, one row per (action, alert type), then the latest comments of each."""
    if not found:
        return "No incidents remembered yet: lessons appear once runs have finished."
    rows = [
        (
            lesson.action,
            lesson.alert_type,
            str(lesson.count),
            str(lesson.executed),
            str(lesson.negatives),
            str(lesson.thumbs_up),
            str(lesson.thumbs_down),
            lesson.takeaway,
        )
        for lesson in found
    ]
    widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    lines = [
        line(COLUMNS),
        line(["-" * width for width in widths] + ["-" * len(COLUMNS[-1])]),
        *map(line, rows),
    ]
    commented = [lesson for lesson in found if lesson.feedback]
    if commented:
        lines += ["", "Latest feedback:"]
        for lesson in commented:
            lines.append(f"  {lesson.action} / {lesson.alert_type}:")
            lines += [f"    - {comment}" for comment in lesson.feedback]
    return "\n".join(lines)
