"""What started a run, read from its ``parse`` entry, and the post-mortem's title."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from knowledge.postmortem_facts import Trigger
from knowledge.postmortem_text import ALERT_LABELS, as_dict, as_list, text, user


def trigger_of(parse_data: Mapping[str, Any]) -> Trigger:
    intent = as_dict(parse_data.get("intent"))
    alert = as_dict(intent.get("alert"))
    action, params = str(intent.get("action", "")), as_dict(intent.get("params"))
    common: dict[str, Any] = {
        "action": action,
        "params": params,
        "untrusted_directives": [str(d) for d in as_list(intent.get("untrusted_directives"))],
        "problems": [str(p) for p in as_list(intent.get("errors"))],
        "requester": str(intent.get("requester") or as_dict(parse_data.get("input")).get("requester") or ""),
    }
    if alert:
        primary = [
            str(r) for key in ("instance_ids", "asg_names", "remote_ips") for r in as_list(alert.get(key))
        ]
        named = [*primary, *(str(r) for r in as_list(alert.get("resource_ids")))]
        resources = list(dict.fromkeys(named or [str(r) for r in as_list(intent.get("named_resources"))]))
        shown = primary or resources
        kind = str(alert.get("kind", ""))
        severity = alert.get("severity")
        sev = (
            float(severity) if isinstance(severity, int | float) and not isinstance(severity, bool) else None
        )
        what = str(alert.get("finding_type") or alert.get("title") or "")
        summary = f"{ALERT_LABELS.get(kind, kind or 'alert')} {text(what, 120)}"
        summary += f" (severity {sev:g})" if sev is not None else ""
        summary += f" on {text(', '.join(shown), 160)}" if shown else ""
        summary += " [sample finding]" if alert.get("sample") else ""
        return Trigger(
            source="alert",
            summary=summary + f" → {action}",
            alert_kind=kind,
            title=str(alert.get("title", "")),
            finding_type=str(alert.get("finding_type", "")),
            severity=sev,
            sample=bool(alert.get("sample")),
            resources=resources,
            region=str(alert.get("region", "")),
            account=str(alert.get("account", "")),
            finding_id=str(alert.get("raw_id", "")),
            **common,
        )
    request = str(intent.get("text") or as_dict(parse_data.get("input")).get("text") or "")
    by = f" by {user(common['requester'])}" if common["requester"] else ""
    return Trigger(
        source="request",
        summary=f"request{by}: “{text(request, 160)}” → {action}",
        request_text=request,
        resources=[str(r) for r in as_list(intent.get("named_resources"))],
        **common,
    )


def title_of(trigger: Trigger) -> str:
    if trigger.source == "alert":
        what = trigger.finding_type or trigger.title or trigger.alert_kind
        where = f" on {trigger.resources[0]}" if trigger.resources else ""
        return text(f"{what}{where}", 150)
    if trigger.source == "request":
        return text(trigger.request_text or trigger.action, 150)
    return "unknown incident"
