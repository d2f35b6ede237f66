"""The offline rule parser: chat text, as a tired on-call engineer types it, becomes an ``Intent``.

The parser recognises an action even when its parameters are wrong or missing, keeps the raw
values in ``params`` and explains each problem in ``Intent.errors`` (naming the parameter), so the
reply can say exactly what to fix.  It never raises on any input string.

The pieces: ``chat_text`` (Slack markup), ``request_entities`` (ids and addresses),
``request_params`` (values and their problems), ``verb_targets`` (what a verb acts on),
``target_actions`` and ``action_builders`` (one builder per action) and ``vocabulary`` (the verbs).
"""

from __future__ import annotations

from graph.models import Intent
from graph.parsing.chat_text import clean_chat_text
from graph.parsing.distinct import distinct
from graph.parsing.network_builders import FAILOVER_VERB_RE
from graph.parsing.request_entities import ACTION_ID_RE, ANY_ID_RE, Entities, normalise_id
from graph.parsing.request_params import extract_region, normalise_cidr, read_capacity
from graph.parsing.verb_targets import START_FILLER_RE, Built
from graph.parsing.vocabulary import SHORTHAND_SCALE_RE, control_action, verb_matches

WRITE_ACTIONS = frozenset(
    {
        "isolate_instance",
        "block_ip",
        "unblock_ip",
        "scale_asg",
        "restart_service",
        "snapshot_instance",
        "tag_resource",
        "stop_instance",
        "terminate_instance",
        "allow_egress",
        "allow_egress_domain",
        "grant_vendor_access",
        "revoke_vendor_access",
        "update_route",
        "create_segment",
        "delete_segment",
        "regional_failover",
    }
)
# Cloud WAN is homed in us-west-2 and Route 53 is global: their region is set only when the request names one.
GLOBAL_ACTIONS = frozenset({"create_segment", "delete_segment", "regional_failover"})
REGIONAL_ACTIONS = (WRITE_ACTIONS - GLOBAL_ACTIONS) | {"troubleshoot_connectivity"}


def _named_resources(ents: Entities, built: Built) -> list[str]:
    cidrs = [normalise_cidr(ip)[0] for ip in ents.ips]
    return distinct(
        ents.instances
        + ents.ips
        + cidrs
        + ents.security_groups
        + ents.vpcs
        + ents.asg_names
        + [name for name in built.names if name not in {"it", "that"}]
        + ents.action_ids
        + ents.other_ids
    )


def _understand(work: str, ents: Entities) -> tuple[str, Built]:
    core = START_FILLER_RE.sub("", work).strip()
    control = control_action(core, ents)
    if control is not None:
        return control, Built()
    shorthand = SHORTHAND_SCALE_RE.match(core)
    if shorthand is not None:
        built = Built(params={"asg_name": shorthand.group(1)}, names=[shorthand.group(1)])
        read_capacity(built, "to " + shorthand.group(2), "")
        return "scale_asg", built
    for verb, builder in verb_matches(work):
        built_or_none = builder(work, verb, ents)
        if built_or_none is not None:
            return verb.action, built_or_none
    lone = core.rstrip("?").strip()
    if lone and ANY_ID_RE.fullmatch(lone):
        return "investigate", Built(params={"resource": normalise_id(lone)})
    return "unknown", Built()


def parse_request(text: str, requester: str = "", default_region: str = "us-east-1") -> Intent:
    """Rules only, never raises: the recognised action, its params as typed, and what is wrong."""
    cleaned = clean_chat_text(text)
    moving = FAILOVER_VERB_RE.search(cleaned) is not None  # "from us-east-1 to us-west-2" names no one region
    region, region_errors, work = extract_region(cleaned, default_region, keep_directional=moving)
    ents = Entities.of(work)
    action, built = _understand(work, ents)
    params = dict(built.params)
    errors = list(built.errors)
    if action in REGIONAL_ACTIONS or (action in GLOBAL_ACTIONS and extract_region(cleaned, "", moving)[0]):
        params["region"] = region
    if action != "unknown":
        errors.extend(region_errors)
    return Intent(
        action=action,
        params=params,
        source="request",
        text=text,
        requester=requester,
        named_resources=_named_resources(ents, built),
        errors=errors,
    )


__all__ = [
    "ACTION_ID_RE",
    "WRITE_ACTIONS",
    "Entities",
    "clean_chat_text",
    "normalise_cidr",
    "parse_request",
]
