"""The root message of an incident thread: severity, kind, title, where, resources and how often seen.

Alert text is escaped, so ``<!channel>`` in a finding title is shown, never obeyed.
"""

from __future__ import annotations

from bot.blocks_common import (
    KIND_LABELS,
    MAX_LIST_ITEMS,
    TEXT_FALLBACK_LIMIT,
    Block,
    JsonDict,
    code_span,
    context_block,
    fields_block,
    fit_message,
    header_block,
    section_block,
    slack_date,
    times_text,
)
from bot.slack_text import escape, truncate


def severity_label(severity: float) -> str:
    """GuardDuty's bands (0-10): critical ≥ 9, high ≥ 7, medium ≥ 4, low > 0."""
    for floor, label in ((9.0, "🟣 Critical"), (7.0, "🔴 High"), (4.0, "🟠 Medium"), (0.1, "🟡 Low")):
        if severity >= floor:
            return label
    return "⚪ Informational"


def _alert_resources(alert: JsonDict) -> list[str]:
    keys = ("instance_ids", "asg_names", "remote_ips", "resource_ids")
    named = [str(item) for key in keys for item in alert.get(key, [])]
    return list(dict.fromkeys(named))


def _severity(alert: JsonDict) -> float:
    value = alert.get("severity", 0.0)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def incident_root_blocks(
    alert: JsonDict, thread_id: str, repeats: int, first_seen: float | None = None
) -> list[Block]:
    """The root message of an incident thread; ``chat.update`` it with the new ``repeats`` count.

    ``repeats`` counts deliveries after the first, as ``runtime.incidents`` does: seen = repeats + 1.
    """
    severity = _severity(alert)
    kind = KIND_LABELS.get(str(alert.get("kind")), "alert")
    flags = [flag for flag in ("sample", "resolved") if alert.get(flag)]
    header = f"{severity_label(severity)} {kind}" + "".join(f" ({flag})" for flag in flags)
    resources = [code_span(escape(r)) for r in _alert_resources(alert)]
    shown = ", ".join(resources[:MAX_LIST_ITEMS]) + (
        f" and {len(resources) - MAX_LIST_ITEMS} more" if len(resources) > MAX_LIST_ITEMS else ""
    )
    where = escape(str(alert.get("region") or "unknown region"))
    where += f" · account {escape(str(alert['account']))}" if alert.get("account") else ""
    seen = [f"👀 Seen {times_text(max(repeats, 0) + 1)}"]
    if first_seen is not None:
        seen.append(f"first {slack_date(first_seen)}")
    seen.append(f"thread {code_span(escape(thread_id))}")
    return fit_message(
        [
            header_block(header),
            section_block(f"*{escape(str(alert.get('title') or 'untitled'))}*"),
            fields_block(
                f"*Type*\n{escape(str(alert.get('finding_type') or kind))}",
                f"*Severity*\n{severity:g}",
                f"*Where*\n{where}",
                f"*Resources*\n{shown or 'none named'}",
            ),
            context_block(" · ".join(seen)),
        ]
    )


def incident_root_text(alert: JsonDict, thread_id: str, repeats: int, first_seen: float | None = None) -> str:
    """The notification line of the incident root message (escaped: it is mrkdwn too)."""
    kind = KIND_LABELS.get(str(alert.get("kind")), "alert")
    title = escape(str(alert.get("title") or "untitled"))
    text = f"{severity_label(_severity(alert))} {kind}: {title} (seen {times_text(max(repeats, 0) + 1)})"
    return truncate(text, TEXT_FALLBACK_LIMIT)
