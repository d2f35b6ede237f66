"""Post-mortems built from the hash-chained audit log: facts first, then Markdown.

``incident_entries`` picks a thread's entries (or one run's: ``thread/N`` or ``thread/<run id>``),
``build_facts`` reads them into ``PostmortemFacts`` (trigger, timeline, actions and who allowed them,
the decision path, impact, what to change), and ``render_markdown`` writes the template. A
``PostmortemWriter`` (an LLM, issue 5) may rewrite the draft; when it fails, the template stands.

Everything shown comes from the log. Text that came from outside (alert titles, request text, AWS
error messages) is escaped, so it cannot form mentions, links or table cells.

The work is split over ``postmortem_entries`` (selecting), ``postmortem_trigger`` and
``postmortem_reader`` (reading entries), ``postmortem_collect`` (``build_facts``), ``postmortem_lessons``
(what to change), ``postmortem_render`` (Markdown), ``postmortem_facts`` (the models) and
``postmortem_text`` (escaping and times). This module writes the post-mortem and re-exports the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from knowledge.postmortem_collect import build_facts
from knowledge.postmortem_entries import incident_entries, read_log, select_entries
from knowledge.postmortem_facts import PostmortemError, PostmortemFacts
from knowledge.postmortem_render import FOOTER_MARK, footer, render_markdown, timeline_lines
from knowledge.postmortem_text import text
from runtime.audit_log import verify

__all__ = [
    "PostmortemError",
    "PostmortemFacts",
    "PostmortemWriter",
    "build_facts",
    "incident_entries",
    "render_markdown",
    "text",
    "timeline_lines",
    "write_postmortem",
]


class PostmortemWriter(Protocol):
    """Rewrites the template draft (an LLM, for instance). Whatever it returns is posted as is."""

    def __call__(self, facts: PostmortemFacts, draft_markdown: str) -> str: ...


def write_postmortem(audit_path: Path | str, incident: str, writer: PostmortemWriter | None = None) -> str:
    """The post-mortem of ``incident`` in Markdown: the writer's, or the template when there is none
    or it fails. The footer naming the audit log and its chain check is always there."""
    path = Path(audit_path)
    log = read_log(path)
    chosen, scope = select_entries(log, incident, path)
    facts = build_facts(chosen, chain=verify(path), log_entries=log, scope=scope, log_path=path)
    draft = render_markdown(facts)
    if writer is None:
        return draft
    try:
        written = writer(facts, draft)
    except Exception as error:  # any writer failure (network, quota, bad output) falls back to the template
        return _with_note(draft, f"the writer failed ({type(error).__name__}: {text(error, 160)})")
    if not isinstance(written, str) or not written.strip():
        return _with_note(draft, "the writer returned nothing")
    return written if FOOTER_MARK in written else written.rstrip() + "\n\n---\n" + footer(facts) + "\n"


def _with_note(draft: str, why: str) -> str:
    title, _, rest = draft.partition("\n")
    return f"{title}\n\n> Note: {why}; this is the template post-mortem.\n{rest}"
