"""The words of a request: each action's verbs, and the short messages that are control commands."""

from __future__ import annotations

import re

from graph.parsing.action_builders import build_allow_egress, build_restart, build_scale, build_tag
from graph.parsing.connectivity_request import TROUBLESHOOT_VERB_RE, build_troubleshoot
from graph.parsing.network_builders import (
    ALLOW_DOMAIN_VERB_RE,
    CREATE_SEGMENT_VERB_RE,
    DELETE_SEGMENT_VERB_RE,
    FAILOVER_VERB_RE,
    GRANT_VERB_RE,
    REVOKE_VERB_RE,
    UPDATE_ROUTE_VERB_RE,
    build_allow_egress_domain,
    build_regional_failover,
    build_update_route,
    segment_builder,
    vendor_builder,
)
from graph.parsing.request_entities import Entities
from graph.parsing.request_params import NUMBER
from graph.parsing.target_actions import (
    ACTION_ID,
    ADDRESS,
    INSTANCE,
    build_investigate,
    one_target_action,
)
from graph.parsing.verb_targets import Builder, VerbMatch, at_clause_start, negated

# In order of precedence where two verbs start at the same place. The network verbs come first: each
# of their builders steps aside (None) when the words are not its request.
VERBS: list[tuple[str, re.Pattern[str], Builder]] = [
    ("troubleshoot_connectivity", TROUBLESHOOT_VERB_RE, build_troubleshoot),
    ("allow_egress_domain", ALLOW_DOMAIN_VERB_RE, build_allow_egress_domain),
    ("grant_vendor_access", GRANT_VERB_RE, vendor_builder("grant_vendor_access", GRANT_VERB_RE)),
    ("revoke_vendor_access", REVOKE_VERB_RE, vendor_builder("revoke_vendor_access", REVOKE_VERB_RE)),
    ("update_route", UPDATE_ROUTE_VERB_RE, build_update_route),
    ("create_segment", CREATE_SEGMENT_VERB_RE, segment_builder("create_segment", CREATE_SEGMENT_VERB_RE)),
    ("delete_segment", DELETE_SEGMENT_VERB_RE, segment_builder("delete_segment", DELETE_SEGMENT_VERB_RE)),
    ("regional_failover", FAILOVER_VERB_RE, build_regional_failover),
    (
        "allow_egress",
        re.compile(r"\b(?:allow|open(?:\s+up)?|permit|add)\s+(?:an?\s+)?(?:egress|outbound)\b", re.I),
        build_allow_egress,
    ),
    (
        "unblock_ip",
        re.compile(
            r"\b(?:unblock|un-block|unban|un-ban|(?:lift|remove|drop)\s+the\s+(?:block|ban)\s+(?:on|for)|"
            r"allow(?=\s+(?:\S+\s+)?again\b))\b",
            re.I,
        ),
        one_target_action("unblock_ip", ADDRESS),
    ),
    (
        "block_ip",
        re.compile(
            r"\b(?:block|blacklist|blocklist|ban|deny|firewall(?:\s+off)?|"
            r"drop\s+(?:all\s+)?(?:traffic|packets|connections)\s+from)\b",
            re.I,
        ),
        one_target_action("block_ip", ADDRESS),
    ),
    (
        "isolate_instance",
        re.compile(r"\b(?:isolate|quarantine|contain|cut\s+off|lock\s*down|fence\s+off|sandbox)\b", re.I),
        one_target_action("isolate_instance", INSTANCE),
    ),
    (
        "snapshot_instance",
        re.compile(
            r"\b(?:take\s+(?:a\s+|an\s+)?(?:snapshot|backup|snap)\s+of|snapshot|back\s+up|backup)\b", re.I
        ),
        one_target_action("snapshot_instance", INSTANCE),
    ),
    ("restart_service", re.compile(r"\b(?:restart|bounce)\b", re.I), build_restart),
    ("tag_resource", re.compile(r"\btag\b", re.I), build_tag),
    (
        "stop_instance",
        re.compile(r"\b(?:stop|shut\s*down|power\s+(?:off|down))\b", re.I),
        one_target_action("stop_instance", INSTANCE, lenient=False),
    ),
    (
        "terminate_instance",
        re.compile(r"\b(?:terminate|kill|nuke|destroy)\b", re.I),
        one_target_action("terminate_instance", INSTANCE, lenient=False),
    ),
    (
        "scale_asg",
        re.compile(
            r"\b(?:scale(?:\s+(?:out|up|in|down))?|"
            r"set\s+(?:the\s+)?(?:desired\s+capacity|desired|capacity)(?:\s+(?:of|for|on))?|"
            r"set(?=\s+\S+\s+(?:desired\s+)?capacity\b)|bump(?:\s+(?:up|down))?|resize)\b",
            re.I,
        ),
        build_scale,
    ),
    (
        "rollback",
        re.compile(r"\b(?:roll\s*back|roll-back|undo|revert)\b", re.I),
        one_target_action("rollback", ACTION_ID),
    ),
    (
        "investigate",
        re.compile(
            r"\b(?:investigate|look\s+(?:at|into)|what(?:'?s|\s+is)\s+(?:wrong|up|going\s+on|happening)"
            r"\s+(?:with|on)|check(?:\s+on)?|dig\s+into|diagnose|debug|triage|status\s+(?:of|for|on)|"
            r"how(?:'?s|\s+is)|why\s+is)\b",
            re.I,
        ),
        build_investigate,
    ),
]

# "web-asg -> 6": a scale with no verb at all.
SHORTHAND_SCALE_RE = re.compile(rf"^([A-Za-z0-9][\w.\-/]*)\s*(?:->|=>)\s*({NUMBER})$", re.IGNORECASE)

# Control intents: only when the whole (short) message is the command, and it names no resource.
_TAIL_WORDS = (
    r"(?:\s+(?:all|any|the|of|every|everything|automation|automations|automated|actions?|auto-?remediation|"
    r"remediation|opsbot|bot|it|now|immediately|right|away|asap|pls|please|for|a|bit|while|sec|moment|until|"
    r"further|notice|today|tonight|team|folks|here|there|atm|currently|rn|me|again|stop|everyone|again))*$"
)
_PAUSE_ANYWHERE_RE = re.compile(
    r"\b(?:(?:stop|pause|halt|freeze|suspend|disable)\s+(?:all\s+|the\s+|any\s+)?"
    r"(?:automation|automations|automated\s+actions|auto-?remediation|remediation|opsbot|the\s+bot)|"
    r"kill[\s-]?switch|emergency\s+stop)\b",
    re.I,
)
_RESUME_ANYWHERE_RE = re.compile(
    r"\b(?:resume|unpause|un-pause|unfreeze|re-?enable|restart|turn\s+on)\s+(?:all\s+|the\s+)?"
    r"(?:automation|automations|automated\s+actions|auto-?remediation|remediation|opsbot|the\s+bot)\b",
    re.I,
)
_CONTROL_RES: list[tuple[str, re.Pattern[str]]] = [
    ("pause", re.compile(r"^(?:pause|freeze|halt|stop|stand\s+down|hold\s+(?:on|off))" + _TAIL_WORDS, re.I)),
    (
        "resume",
        re.compile(r"^(?:resume|unpause|un-pause|unfreeze|carry\s+on|all\s+clear)" + _TAIL_WORDS, re.I),
    ),
    (
        "status",
        re.compile(
            r"^(?:status|sitrep|sit\s*rep|report|"
            r"what(?:'?s|\s+is)\s+(?:going\s+on|up|happening|the\s+status|the\s+situation|on\s+fire|broken)|"
            r"(?:is\s+)?anything\s+(?:on\s+fire|burning|broken|going\s+on|happening)|"
            r"how\s+(?:are\s+(?:we|things)|is\s+everything|'?s\s+everything|'?s\s+it\s+going|is\s+it\s+going)"
            r"(?:\s+(?:doing|looking|going))?)" + _TAIL_WORDS,
            re.I,
        ),
    ),
    (
        "help",
        re.compile(
            r"^(?:help|halp|what\s+can\s+(?:you|u)\s+do|what\s+do\s+(?:you|u)\s+do|commands|usage|"
            r"how\s+do\s+i\s+use\s+(?:you|this|opsbot))" + _TAIL_WORDS,
            re.I,
        ),
    ),
]


def control_action(core: str, ents: Entities) -> str | None:
    """pause/resume/status/help when ``core`` (fillers stripped) is such a command, else None."""
    if _PAUSE_ANYWHERE_RE.search(core):
        return "pause"
    if _RESUME_ANYWHERE_RE.search(core):
        return "resume"
    if ents.any_ids():
        return None
    if not core:
        return "help"
    for action, pattern in _CONTROL_RES:
        if pattern.match(core):
            return action
    return None


def verb_matches(text: str) -> list[tuple[VerbMatch, Builder]]:
    """Every verb in ``text`` that is not negated, first in the text first."""
    found = []
    for order, (action, pattern, builder) in enumerate(VERBS):
        for match in pattern.finditer(text):
            if negated(text, match.start()):
                continue
            verb = VerbMatch(action, match.start(), match.end(), at_clause_start(text, match.start()))
            found.append((match.start(), order, verb, builder))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(verb, builder) for _start, _order, verb, builder in found]
