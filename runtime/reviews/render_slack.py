"""A report as one Slack message: Block Kit blocks inside Slack's limits, and its notification text.

Each section shows its first rows (the email and ``opsbot review`` carry them all); everything from
AWS is escaped; proposed requests appear as code, ready to paste.
"""

from __future__ import annotations

from bot.blocks_common import (
    TEXT_FALLBACK_LIMIT,
    Block,
    code_span,
    context_block,
    divider_block,
    fields_block,
    fit_message,
    header_block,
    section_block,
)
from bot.slack_text import SECTION_FIELDS_MAX, SECTION_TEXT_MAX, escape, truncate
from runtime.reviews.periods import utc_minute
from runtime.reviews.report import Report, Row, Section, format_total, monthly

ROWS_SHOWN = 8
CELL_MAX = 80


def report_blocks(report: Report) -> list[Block]:
    blocks: list[Block] = [
        header_block(f"{report.title}: {report.period}"),
        context_block(
            f"Regions: {escape(', '.join(report.regions))} · generated {utc_minute(report.generated_at)} · "
            "read-only: paste a proposed request to act on it"
        ),
    ]
    multi_region = len(report.regions) > 1
    for section in report.sections:
        blocks += [divider_block(), *_section_blocks(section, report.review, multi_region)]
    blocks.append(divider_block())
    fields = [f"*{escape(total.label)}*\n{format_total(total)}" for total in report.totals]
    for start in range(0, len(fields), SECTION_FIELDS_MAX):
        blocks.append(fields_block(*fields[start : start + SECTION_FIELDS_MAX]))
    if report.notes:
        blocks.append(context_block(*(escape(note) for note in report.notes)))
    return fit_message(blocks)


def report_fallback(report: Report) -> str:
    """The message's ``text``: the title and the totals, for notifications and screen readers."""
    totals = "; ".join(f"{total.label}: {format_total(total)}" for total in report.totals)
    return truncate(escape(f"{report.title} ({report.period}). {totals}"), TEXT_FALLBACK_LIMIT)


def _section_blocks(section: Section, review: str, multi_region: bool) -> list[Block]:
    heading = f"*{escape(section.title)}* ({len(section.rows)})"
    if section.priced:
        heading += f" · saving {monthly(section.saving_usd)}"
    if not section.rows:
        return [section_block(f"{heading}\n{escape(section.empty_text)}")]
    lines = [_row_line(row, section.priced, multi_region) for row in section.rows[:ROWS_SHOWN]]
    hidden = len(section.rows) - ROWS_SHOWN
    if hidden > 0:
        lines.append(f"…and {hidden} more: see the email or `opsbot review {review}`")
    blocks = [section_block(text) for text in _pack([heading, *lines])]
    if section.notes:
        blocks.append(context_block(*(escape(note) for note in section.notes)))
    return blocks


def _row_line(row: Row, priced: bool, multi_region: bool) -> str:
    first, *rest = [escape(truncate(cell, CELL_MAX)) for cell in row.cells]
    parts = [code_span(first) or "—", *rest]
    if multi_region:
        parts.append(escape(row.region))
    if priced:
        parts.append(f"*{monthly(row.saving_usd)}*")
    line = "• " + " · ".join(parts)
    if row.request:
        line += f"\n   → {code_span(escape(row.request))}"
    return line


def _pack(lines: list[str]) -> list[str]:
    """Lines joined into as few texts as fit a section block each."""
    texts: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_TEXT_MAX and current:
            texts.append(current)
            candidate = line
        current = candidate
    if current:
        texts.append(current)
    return texts
