"""A report as Markdown that also reads well as plain text: for email and the CLI.

Tables are Markdown pipe tables padded to line up in a fixed-width font.
"""

from __future__ import annotations

from runtime.reviews.periods import utc_minute
from runtime.reviews.report import Report, Row, Section, format_total, monthly

CELL_MAX = 70


def report_text(report: Report) -> str:
    lines = [
        f"# {report.title}: {report.period}",
        "",
        f"Regions: {', '.join(report.regions)}. Generated {utc_minute(report.generated_at)}. "
        "This report changes nothing; paste a proposed request to opsbot to act on it.",
        "",
    ]
    for section in report.sections:
        lines += _section(section, multi_region=len(report.regions) > 1)
    lines += ["## Totals", ""]
    lines += [f"- {total.label}: {format_total(total)}" for total in report.totals]
    if report.notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _section(section: Section, multi_region: bool) -> list[str]:
    lines = [f"## {section.title} ({len(section.rows)})", ""]
    if not section.rows:
        lines += [section.empty_text, ""]
    else:
        header = list(section.columns) + (["Region"] if multi_region else [])
        header += ["Saving/month"] if section.priced else []
        body = [_cells(row, section.priced, multi_region) for row in section.rows]
        lines += table(header, body)
        lines.append("")
        if section.priced:
            lines += [f"Saving: {monthly(section.saving_usd)}", ""]
        requests = [row.request for row in section.rows if row.request]
        if requests:
            lines += ["Requests to paste to opsbot:", ""]
            lines += [f"    {request}" for request in requests]
            lines.append("")
    lines += [f"_{note}_" for note in section.notes]
    return [*lines, ""] if section.notes else lines


def _cells(row: Row, priced: bool, multi_region: bool) -> list[str]:
    cells = list(row.cells) + ([row.region] if multi_region else [])
    if priced:
        cells.append(monthly(row.saving_usd))
    return cells


def table(header: list[str], body: list[list[str]]) -> list[str]:
    rows = [[_clean(cell) for cell in row] for row in [header, *body]]
    widths = [max(len(row[index]) for row in rows) for index in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return [line(rows[0]), rule, *(line(row) for row in rows[1:])]


def _clean(cell: str) -> str:
    text = " ".join(cell.replace("|", "/").split())
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"
