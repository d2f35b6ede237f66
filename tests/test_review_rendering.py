"""Reports as Slack Block Kit (inside Slack's limits, escaped) and as Markdown text."""

from __future__ import annotations

from typing import Any

import pytest

from bot import slack_text
from runtime.reviews.render_slack import ROWS_SHOWN, report_blocks, report_fallback
from runtime.reviews.render_text import report_text
from runtime.reviews.report import Report, Row, Section, count_total, usd_total

NOW = 1_763_798_400.0  # 2025-11-22 08:00 UTC


def assert_within_block_kit_limits(blocks: list[dict[str, Any]]) -> None:
    assert 0 < len(blocks) <= slack_text.BLOCKS_PER_MESSAGE_MAX
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            assert 0 < len(block["text"]["text"]) <= slack_text.HEADER_TEXT_MAX
            assert block["text"]["type"] == "plain_text"
        elif kind == "section":
            assert ("text" in block) != ("fields" in block)
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= slack_text.SECTION_TEXT_MAX
            else:
                assert 0 < len(block["fields"]) <= slack_text.SECTION_FIELDS_MAX
                assert all(
                    0 < len(field["text"]) <= slack_text.SECTION_FIELD_TEXT_MAX for field in block["fields"]
                )
        elif kind == "context":
            assert 0 < len(block["elements"]) <= slack_text.CONTEXT_ELEMENTS_MAX
            assert all(
                0 < len(element["text"]) <= slack_text.TEXT_OBJECT_MAX for element in block["elements"]
            )
        else:
            assert kind == "divider", kind


def sample_report(rows: int, cell: str = "value", regions: tuple[str, ...] = ("us-east-1",)) -> Report:
    section_rows = tuple(
        Row(
            resource=f"vol-{index:017x}",
            region=regions[index % len(regions)],
            cells=(f"vol-{index:017x}", cell, f"{index} GiB"),
            saving_usd=round(index * 0.1, 2),
            request=f"@opsbot tag vol-{index:017x} cost-review=delete in {regions[0]}",
        )
        for index in range(rows)
    )
    return Report(
        review="monthly_cost",
        title="Monthly cost review",
        period="14 days to 2025-11-22 08:00 UTC",
        generated_at=NOW,
        regions=regions,
        sections=(
            Section(
                key="unattached_volumes",
                title="Unattached EBS volumes",
                columns=("Volume", "Name", "Size"),
                rows=section_rows,
                notes=("a note",),
                priced=True,
            ),
            Section(
                key="old_snapshots", title="Old snapshots", columns=("Snapshot",), empty_text="None old."
            ),
        ),
        totals=(
            count_total("unattached_volumes", "Unattached EBS volumes", rows),
            usd_total(
                "total_saving", "Estimated total saving", sum(row.saving_usd or 0 for row in section_rows)
            ),
        ),
        notes=("Prices from the table.",),
    )


def slack_text_of(blocks: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for block in blocks:
        objects = [block.get("text"), *block.get("fields", []), *block.get("elements", [])]
        parts += [obj["text"] for obj in objects if isinstance(obj, dict)]
    return "\n".join(parts)


@pytest.mark.parametrize("rows", [0, 1, ROWS_SHOWN, ROWS_SHOWN + 1, 400])
def test_blocks_stay_inside_slack_limits_at_any_size(rows: int) -> None:
    blocks = report_blocks(sample_report(rows, cell="x" * 500))
    assert_within_block_kit_limits(blocks)
    assert len(report_fallback(sample_report(rows))) <= 3000


def test_blocks_show_the_first_rows_their_requests_and_how_many_more() -> None:
    report = sample_report(ROWS_SHOWN + 3)
    text = slack_text_of(report_blocks(report))
    section = report.section("unattached_volumes")
    for row in section.rows[:ROWS_SHOWN]:
        assert f"`{row.resource}`" in text
        assert f"`{row.request}`" in text
    assert section.rows[ROWS_SHOWN].resource not in text
    assert "…and 3 more: see the email or `opsbot review monthly_cost`" in text
    assert f"saving ${section.saving_usd:,.2f}/month" in text
    assert "None old." in text
    assert f"*Estimated total saving*\n${report.total('total_saving'):,.2f}/month" in text


def test_text_from_aws_is_escaped_in_slack() -> None:
    text = slack_text_of(report_blocks(sample_report(1, cell="<!channel> & <@U123>")))
    assert "<!channel>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text


def test_text_report_has_every_row_total_and_request() -> None:
    report = sample_report(ROWS_SHOWN + 3, regions=("us-east-1", "eu-west-1"))
    text = report_text(report)
    assert text.startswith("# Monthly cost review: 14 days to 2025-11-22 08:00 UTC\n")
    for row in report.section("unattached_volumes").rows:
        assert row.resource in text
        assert f"    {row.request}" in text
    assert "| Volume " in text
    assert "| Region " in text
    assert "| Saving/month |" in text
    assert "eu-west-1" in text
    assert "## Old snapshots (0)\n\nNone old." in text
    assert f"- Estimated total saving: ${report.total('total_saving'):,.2f}/month" in text
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len({len(line) for line in table}) == 1  # the columns line up
    assert len(table) == 2 + ROWS_SHOWN + 3


def test_a_row_must_fill_its_sections_columns() -> None:
    with pytest.raises(ValueError, match="has 1 cells for 2 columns"):
        Section(
            key="k", title="t", columns=("a", "b"), rows=(Row(resource="r", region="x", cells=("only",)),)
        )
