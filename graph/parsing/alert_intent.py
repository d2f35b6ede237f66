"""An alert's natural first action, as an ``Intent``; policy and audit decide whether it runs."""

from __future__ import annotations

from typing import Any

from graph.models import AlertFacts, Intent
from graph.parsing.alert_resources import host_cidr
from graph.parsing.cloudwatch import ALARM_SEVERITY
from graph.parsing.directives import find_directives

ISOLATE_PURPOSES = frozenset({"CryptoCurrency", "Backdoor", "Trojan"})
NETWORK_ATTACK_MARKERS = ("bruteforce", "portprobe", "portscan")
NON_INSTANCE_RESOURCE_TYPES = frozenset({"IAMUser", "S3", "Kubernetes", "RDS", "Lambda", "ECS", "EKS"})


def _guardduty_action(alert: AlertFacts, resource_role: str) -> tuple[str, dict[str, Any]]:
    purpose, _, rest = alert.finding_type.partition(":")
    resource_type = rest.split("/", 1)[0]
    instance = alert.instance_ids[0] if alert.instance_ids else None
    if resource_type == "IAMUser":
        return "investigate", {"resource": (alert.resource_ids or [alert.raw_id])[0]}
    on_instance = instance is not None and resource_type not in NON_INSTANCE_RESOURCE_TYPES
    if on_instance and (purpose in ISOLATE_PURPOSES or resource_role.upper() == "ACTOR"):
        return "isolate_instance", {"instance_id": instance, "region": alert.region}
    network_attack = any(marker in alert.finding_type.lower() for marker in NETWORK_ATTACK_MARKERS)
    if network_attack and alert.remote_ips:
        return "block_ip", {"cidr": host_cidr(alert.remote_ips[0]), "region": alert.region}
    return "investigate", {"resource": instance or (alert.resource_ids or [alert.raw_id])[0]}


def _alert_action(alert: AlertFacts, resource_role: str) -> tuple[str, dict[str, Any]]:
    if alert.kind == "guardduty":
        return _guardduty_action(alert, resource_role)
    if alert.kind == "cloudwatch":
        in_alarm = not alert.resolved and alert.severity >= ALARM_SEVERITY
        if in_alarm and alert.asg_names:
            return "scale_asg", {"asg_name": alert.asg_names[0], "region": alert.region}
        return "investigate", {"resource": alert.finding_type}
    if alert.kind == "health" and alert.instance_ids and not alert.resolved:
        return "snapshot_instance", {"instance_id": alert.instance_ids[0], "region": alert.region}
    if alert.kind == "autoscaling" and alert.asg_names:
        return "investigate", {"resource": alert.asg_names[0]}
    candidates = alert.instance_ids + alert.resource_ids + alert.asg_names
    return "investigate", {"resource": candidates[0] if candidates else alert.raw_id or alert.fingerprint}


def _summary(alert: AlertFacts) -> str:
    """One line from structured fields only (the title is untrusted and stays in ``alert``)."""
    targets = ", ".join((alert.instance_ids + alert.asg_names + alert.remote_ips)[:3]) or "no named resource"
    flags = "".join(
        f" [{flag}]" for flag, on in (("sample", alert.sample), ("resolved", alert.resolved)) if on
    )
    return (
        f"{alert.kind} {alert.finding_type} (severity {alert.severity:g}) on {targets} "
        f"in {alert.region}, account {alert.account or 'unknown'}{flags}"
    )


def intent_from_alert(alert: AlertFacts, *, resource_role: str = "") -> Intent:
    """The natural first action for ``alert``; policy and audit decide whether it runs.

    ``resource_role`` is GuardDuty's TARGET/ACTOR (AlertFacts has no field for it).  Without it, an
    instance acting as the attacker is investigated rather than isolated, unless its finding type
    alone calls for isolation.  ``intent_from_event`` passes it for you.
    """
    action, params = _alert_action(alert, resource_role)
    cidrs = [host_cidr(ip) for ip in alert.remote_ips]
    named = list(
        dict.fromkeys(alert.instance_ids + alert.asg_names + alert.remote_ips + cidrs + alert.resource_ids)
    )
    return Intent(
        action=action,
        params=params,
        source="alert",
        text=_summary(alert),
        alert=alert,
        named_resources=named,
        untrusted_directives=find_directives(f"{alert.title}\n{alert.description}"),
    )
