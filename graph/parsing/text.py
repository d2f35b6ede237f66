"""The offline rule parser: chat text, as a tired on-call engineer types it, becomes an ``Intent``.

The parser recognises an action even when its parameters are wrong or missing, keeps the raw
values in ``params`` and explains each problem in ``Intent.errors`` (naming the parameter), so the
reply can say exactly what to fix.  It never raises on any input string.
"""

from __future__ import annotations

import html
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.models import Intent
from tools.base import REGION_RE, SECURITY_GROUP_ID_RE, check_instance_id

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
    }
)
REGIONAL_ACTIONS = WRITE_ACTIONS
ACTION_ID_RE = re.compile(r"^act-[0-9a-z]{4,32}$")
EC2_RESOURCE_ID_RE = re.compile(
    r"^(?:i|sg|vpc|subnet|vol|snap|ami|eni|igw|nat|rtb|acl|eipalloc)-[0-9a-f]{8}(?:[0-9a-f]{9})?$"
)
SERVICE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._:\-]{0,127}$")
ASG_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,254}$")

# ---------------------------------------------------------------------------------------------
# Slack cleanup
# ---------------------------------------------------------------------------------------------

_SLACK_USER_RE = re.compile(r"<@[UWB][A-Z0-9]+(?:\|[^>]*)?>")
_SLACK_SPECIAL_RE = re.compile(r"<![^>]*>")
_SLACK_CHANNEL_RE = re.compile(r"<#[A-Z0-9]+(?:\|([^>]*))?>")
_SLACK_LINK_RE = re.compile(r"<([^<>|\s]+)(?:\|([^<>]*))?>")
_EMOJI_RE = re.compile(r"(?<!\w):[a-z0-9_+\-]+:(?!\w)")
_ITALIC_RE = re.compile(r"(?<!\w)_([^_\n]+)_(?!\w)")
_QUOTE_LINE_RE = re.compile(r"^>\s?", re.MULTILINE)
_UNICODE_FIXES = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2192": "->", "\u00a0": " "}


def clean_chat_text(text: str) -> str:
    """Slack markup removed: mentions, link wrappers, code/bold/strike markers, emoji codes."""
    out = html.unescape(text)
    for bad, good in _UNICODE_FIXES.items():
        out = out.replace(bad, good)
    out = _SLACK_USER_RE.sub(" ", out)
    out = _SLACK_SPECIAL_RE.sub(" ", out)
    out = _SLACK_CHANNEL_RE.sub(lambda m: m.group(1) or " ", out)
    out = _SLACK_LINK_RE.sub(lambda m: m.group(2) or m.group(1), out)
    out = _QUOTE_LINE_RE.sub("", out)
    out = out.replace("`", " ").replace("*", "").replace("~", "")
    out = _ITALIC_RE.sub(r"\1", out)
    out = _EMOJI_RE.sub(" ", out)
    out = re.sub(r"\s+", " ", out).strip()
    return re.sub(r"[\s.!?,;:]+$", "", out)


# ---------------------------------------------------------------------------------------------
# Entities the text names
# ---------------------------------------------------------------------------------------------

_INSTANCE_TOKEN_RE = re.compile(r"(?<![\w-])i-[0-9a-z]+(?![\w-])", re.IGNORECASE)
_SG_TOKEN_RE = re.compile(r"(?<![\w-])sg-[0-9a-z]+(?![\w-])", re.IGNORECASE)
_VPC_TOKEN_RE = re.compile(r"(?<![\w-])vpc-[0-9a-z]+(?![\w-])", re.IGNORECASE)
_ACTION_TOKEN_RE = re.compile(r"(?<![\w-])act-[0-9a-z_]+(?![\w-])", re.IGNORECASE)
_OTHER_ID_TOKEN_RE = re.compile(
    r"(?<![\w-])(?:subnet|vol|snap|ami|eni|igw|nat|rtb|acl|eipalloc)-[0-9a-z]+(?![\w-])", re.IGNORECASE
)
_ARN_TOKEN_RE = re.compile(r"(?<![\w-])arn:aws[\w-]*:[^\s,]+")
_IPV4_TOKEN_RE = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?(?![\w/]|\.\d)")
_IPV6_TOKEN_RE = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:/\d{1,3})?(?![\w:])", re.I)
_ASG_TOKEN_RE = re.compile(r"(?<![\w.-])(?:[A-Za-z0-9][\w.-]*-asg(?:[-.][\w.-]+)?|asg-[\w.-]+)(?![\w-])")


def normalise_id(token: str) -> str:
    """AWS and opsbot ids are lowercase: ``I-0ABC...`` is read as ``i-0abc...``; a bad id stays raw."""
    lowered = token.lower()
    valid = EC2_RESOURCE_ID_RE.match(lowered) or ACTION_ID_RE.match(lowered)
    return lowered if valid else token


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def _ip_tokens(text: str) -> list[str]:
    found = [m.group(0) for m in _IPV4_TOKEN_RE.finditer(text)]
    for match in _IPV6_TOKEN_RE.finditer(text):
        token = match.group(0)
        if token.count(":") == 7 or "::" in token:
            found.append(token.lower())
    return _unique(found)


@dataclass
class Entities:
    """Every id, address and name a piece of text mentions (raw, so errors can quote them)."""

    instances: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)
    vpcs: list[str] = field(default_factory=list)
    action_ids: list[str] = field(default_factory=list)
    other_ids: list[str] = field(default_factory=list)
    asg_names: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> Entities:
        def ids(pattern: re.Pattern[str]) -> list[str]:
            return _unique([normalise_id(m.group(0)) for m in pattern.finditer(text)])

        return cls(
            instances=ids(_INSTANCE_TOKEN_RE),
            ips=_ip_tokens(text),
            security_groups=ids(_SG_TOKEN_RE),
            vpcs=ids(_VPC_TOKEN_RE),
            action_ids=ids(_ACTION_TOKEN_RE),
            other_ids=ids(_OTHER_ID_TOKEN_RE) + _unique([m.group(0) for m in _ARN_TOKEN_RE.finditer(text)]),
            asg_names=_unique([m.group(0) for m in _ASG_TOKEN_RE.finditer(text)]),
        )

    def any_ids(self) -> list[str]:
        return self.instances + self.security_groups + self.vpcs + self.ips + self.action_ids + self.other_ids


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------

_REGION_LIKE_RE = re.compile(
    r"(?<![\w-])(?:(?:in|at|on|for)\s+)?"
    r"([a-z]{2}(?:-gov|-iso[a-z]?)?-(?:north|south|east|west|central)(?:east|west)?(?:-\d+[a-z]?)?)"
    r"(?![\w-])",
    re.IGNORECASE,
)
_AZ_RE = re.compile(r"^([a-z]{2}(?:-gov)?-[a-z]+-\d)[a-z]$")


def _extract_region(text: str, default_region: str) -> tuple[str, list[str], str]:
    """(region, errors, text without the region words)."""
    valid: list[str] = []
    errors: list[str] = []
    for match in _REGION_LIKE_RE.finditer(text):
        token = match.group(1).lower()
        zone = _AZ_RE.match(token)
        if zone:
            token = zone.group(1)
        if REGION_RE.match(token):
            valid.append(token)
        else:
            errors.append(f"region '{match.group(1)}' is not an AWS region name (like us-east-1)")
    valid = _unique(valid)
    if len(valid) > 1:
        errors.append(f"the request names more than one region ({', '.join(valid)}); name just one")
    remaining = _REGION_LIKE_RE.sub(" ", text)
    return (valid[0] if valid else default_region), errors, re.sub(r"\s+", " ", remaining).strip()


# ---------------------------------------------------------------------------------------------
# Value checks (each returns the plain-language problem, or None)
# ---------------------------------------------------------------------------------------------


def _instance_problem(value: str) -> str | None:
    try:
        check_instance_id(value)
    except ValueError as error:
        return f"instance_id {error}"
    return None


def normalise_cidr(value: str) -> tuple[str, str | None]:
    """(cidr, problem): a bare address becomes /32 (or /128); a bad network is explained."""
    try:
        if "/" not in value:
            address = ipaddress.ip_address(value)
            return f"{address}/{address.max_prefixlen}", None
        return str(ipaddress.ip_network(value, strict=True)), None
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return value, f"cidr '{value}' is not a valid IP network (like 203.0.113.45 or 203.0.113.0/24)"
    host = value.split("/", 1)[0]
    return value, (f"cidr '{value}' has host bits set; did you mean {loose} or {host}/{loose.max_prefixlen}?")


def _id_problem(name: str, value: str, pattern: re.Pattern[str], what: str) -> str | None:
    return None if pattern.match(value) else f"{name} '{value}' is not {what}"


# ---------------------------------------------------------------------------------------------
# Where commands start, and what follows a verb
# ---------------------------------------------------------------------------------------------

_START_FILLER_RE = re.compile(
    r"^(?:(?:hey|hi|hello|yo|ok|okay|so|pls|plz|please|kindly|just|now|asap|quick(?:ly)?|urgent(?:ly)?|"
    r"opsbot|bot|team|folks|(?:can|could|would|will)\s+(?:you|u|ya|someone|somebody)|go\s+ahead\s+and|"
    r"i\s+need\s+(?:you|u)\s+to|(?:we\s+)?(?:need|have|got)\s+to|gotta|we\s+should|let'?s|let\s+us|"
    r"(?:i\s+)?(?:want|wanna|'d\s+like)\s+(?:to\s+)?|time\s+to)\b[\s,:!-]*)+",
    re.IGNORECASE,
)
_CLAUSE_BREAK_RE = re.compile(r"(?:[.!?;,:]\s+|\s+-+\s+|\s+(?:and|then|also)\s+|\n)", re.IGNORECASE)
_NEGATION_RE = re.compile(
    r"\b(?:don'?t|do\s+not|dont|never|no\s+need\s+to|shouldn'?t|should\s+not|won'?t|not)\s+(?:\w+\s+)?$",
    re.IGNORECASE,
)
_PRONOUNS = frozenset({"it", "them", "one", "those", "these", "him", "her"})
_STRIP_CHARS = "\"'()[]{}<>.,!?;"
_WORDLIKE_RE = re.compile(r"^[A-Za-z][\w.:/@-]*$")

_COMMON_FILLERS = frozenset(
    {"the", "a", "an", "that", "this", "my", "our", "pls", "please", "now", "asap", "immediately", "right"}
)
_INSTANCE_FILLERS = _COMMON_FILLERS | {
    "instance", "instances", "server", "box", "host", "node", "vm", "ec2", "machine", "compromised",
    "infected", "hacked", "bad", "rogue", "suspicious", "affected", "broken", "prod", "production",
    "staging", "id", "of", "for", "on", "off", "down", "up",
}  # fmt: skip
_IP_FILLERS = _COMMON_FILLERS | {
    "ip", "ips", "address", "addr", "host", "all", "traffic", "connections", "requests", "from", "source",
    "src", "attacker", "attacking", "malicious", "bad", "ingress", "inbound", "range", "cidr", "subnet",
    "network", "net", "of", "on", "for", "to", "again",
}  # fmt: skip
_ASG_FILLERS = _COMMON_FILLERS | {
    "asg", "group", "autoscaling", "auto-scaling", "auto", "scaling", "of", "for", "on", "out", "up", "in",
    "down", "capacity", "desired", "fleet",
}  # fmt: skip
_ACTION_FILLERS = _COMMON_FILLERS | {"action", "step", "change", "of", "for", "last", "previous", "latest"}
_ANY_FILLERS = _COMMON_FILLERS | {
    "at", "into", "on", "with", "instance", "server", "box", "host", "ip", "group", "asg", "alarm", "of",
    "for", "going", "wrong", "up",
}  # fmt: skip
_SERVICE_FILLERS = _COMMON_FILLERS | {"service", "daemon", "process", "unit", "systemd", "app"}


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(token without surrounding punctuation, start, end) for each word."""
    out = []
    for match in re.finditer(r"\S+", text):
        raw = match.group(0)
        token = raw.strip(_STRIP_CHARS)
        if raw.endswith(":") and raw.count(":") == 1:
            token = token.rstrip(":")
        if token:
            out.append((token, match.start(), match.end()))
    return out


def _next_word(text: str, fillers: frozenset[str]) -> tuple[str | None, bool, int]:
    """The first non-filler word of ``text``: (word, was_a_pronoun, end offset)."""
    for token, _start, end in _tokens(text):
        lowered = token.lower()
        if lowered in _PRONOUNS:
            return None, True, end
        if lowered in fillers:
            continue
        return token, False, end
    return None, False, len(text)


@dataclass(frozen=True)
class VerbMatch:
    action: str
    start: int
    end: int
    at_start: bool  # the verb opens a clause: an imperative, not prose


def _at_clause_start(text: str, start: int) -> bool:
    before = text[:start]
    breaks = list(_CLAUSE_BREAK_RE.finditer(before))
    prefix = before[breaks[-1].end() :] if breaks else before
    prefix = _START_FILLER_RE.sub("", prefix.strip())
    return prefix.strip() == ""


def _negated(text: str, start: int) -> bool:
    return bool(_NEGATION_RE.search(text[:start]))


@dataclass
class Built:
    params: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # extra names (asg names, services) to list


def _pick_target(
    text: str,
    verb: VerbMatch,
    pattern: re.Pattern[str],
    named: list[str],
    fillers: frozenset[str],
    *,
    lenient: bool,
) -> tuple[bool, str | None]:
    """(recognised, target) for an action whose target is one id of ``pattern``'s kind.

    Prose ("we will stop your instance") is told apart from commands: the target must follow the
    verb, or the verb must open a clause.
    """
    word, pronoun, _ = _next_word(text[verb.end :], fillers)
    if word is not None and pattern.fullmatch(word):
        return True, normalise_id(word)
    if word is None:
        if (verb.at_start or pronoun) and named:
            return True, named[0]
        return verb.at_start, None
    if not verb.at_start or not _WORDLIKE_RE.match(word):
        return False, None  # prose, or a flag/number ("kill -9 1234"), not a resource
    if lenient and len(named) == 1:
        return True, named[0]
    return True, word


def _one_target_problem(action: str, what: str, named: list[str]) -> str | None:
    if len(named) > 1:
        return f"{action} takes one {what} at a time; the request names {len(named)}: {', '.join(named)}"
    return None


# ---------------------------------------------------------------------------------------------
# Action builders: each returns None when the verb turns out to be prose, not a command
# ---------------------------------------------------------------------------------------------

_IP_TARGET_RE = re.compile(
    r"(?:\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?|(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:/\d{1,3})?)", re.I
)


def _instance_action(action: str, *, lenient: bool) -> Callable[[str, VerbMatch, Entities], Built | None]:
    def build(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
        ok, target = _pick_target(
            text, verb, _INSTANCE_TOKEN_RE, ents.instances, _INSTANCE_FILLERS, lenient=lenient
        )
        if not ok:
            return None
        built = Built()
        if target is None:
            built.errors.append(f"{action} needs an instance id (like i-0123456789abcdef0)")
            return built
        built.params["instance_id"] = target
        problem = _instance_problem(target) or _one_target_problem(action, "instance", ents.instances)
        if problem:
            built.errors.append(problem)
        return built

    return build


def _cidr_action(action: str) -> Callable[[str, VerbMatch, Entities], Built | None]:
    def build(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
        ok, target = _pick_target(text, verb, _IP_TARGET_RE, ents.ips, _IP_FILLERS, lenient=True)
        if not ok:
            return None
        built = Built()
        if target is None:
            built.errors.append(f"{action} needs an IP address or CIDR (like 203.0.113.45 or 203.0.113.0/24)")
            return built
        cidr, problem = normalise_cidr(target)
        built.params["cidr"] = cidr
        problem = problem or _one_target_problem(action, "address or CIDR", ents.ips)
        if problem:
            built.errors.append(problem)
        if cidr != target:
            built.names.append(cidr)
        return built

    return build


def _build_rollback(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    ok, target = _pick_target(text, verb, _ACTION_TOKEN_RE, ents.action_ids, _ACTION_FILLERS, lenient=True)
    if not ok:
        return None
    built = Built()
    if target is None:
        built.errors.append("rollback needs an action id (like act-1a2b3c)")
        return built
    built.params["action_id"] = target
    problem = _id_problem(
        "action_id",
        target,
        ACTION_ID_RE,
        "an opsbot action id (act- and 4 to 32 lowercase letters or digits)",
    ) or _one_target_problem("rollback", "action", ents.action_ids)
    if problem:
        built.errors.append(problem)
    return built


_ANY_ID_RE = re.compile(
    "|".join(
        p.pattern.replace("(?<![\\w-])", "").replace("(?![\\w-])", "")
        for p in (_INSTANCE_TOKEN_RE, _SG_TOKEN_RE, _VPC_TOKEN_RE, _ACTION_TOKEN_RE, _OTHER_ID_TOKEN_RE)
    )
    + "|"
    + _IP_TARGET_RE.pattern
    + r"|arn:aws[\w-]*:\S+",
    re.IGNORECASE,
)


def _build_investigate(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    word, pronoun, _ = _next_word(text[verb.end :], _ANY_FILLERS)
    named = ents.any_ids()
    built = Built()
    if word is not None and _ANY_ID_RE.fullmatch(word):
        resource = normalise_id(word)
    elif word is not None and verb.at_start:
        resource = word  # a name: an ASG, an alarm, a service
        built.names.append(word)
    elif word is None and (verb.at_start or pronoun) and named:
        resource = named[0]
    elif word is None and verb.at_start:
        built.errors.append("investigate needs a resource (an instance id, IP, security group or ASG name)")
        return built
    else:
        return None
    built.params["resource"] = resource
    if _INSTANCE_TOKEN_RE.fullmatch(resource):
        problem = _instance_problem(resource)
        if problem:
            built.errors.append(problem)
    return built


_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "  # noqa: SIM905
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER = r"[+-]?\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS)
_DESIRED_RE = re.compile(rf"(?:\bto|=|\bat)\s*({_NUMBER})\b", re.IGNORECASE)
_DELTA_RE = re.compile(rf"\bby\s*({_NUMBER})\b", re.IGNORECASE)
_SIGNED_RE = re.compile(r"(?<![\w.])([+-]\d+)\b")
_BARE_NUMBER_RE = re.compile(rf"^\s*(?:instances?\s+)?({_NUMBER})\b", re.IGNORECASE)
_DOWN_RE = re.compile(r"\b(?:in|down|decrease|shrink)\b", re.IGNORECASE)


def _number(raw: str) -> int | float | str:
    lowered = raw.lower()
    if lowered in _NUMBER_WORDS:
        return _NUMBER_WORDS[lowered]
    try:
        return int(lowered)
    except ValueError:
        try:
            return float(lowered)
        except ValueError:
            return raw


def _capacity(built: Built, after: str, verb_text: str) -> None:
    """desired_capacity ("to 6") or delta ("by 2", "+2") from the words after the ASG name."""
    desired, delta, signed = _DESIRED_RE.search(after), _DELTA_RE.search(after), _SIGNED_RE.search(after)
    bare = _BARE_NUMBER_RE.match(after)
    first = min((m for m in (desired, delta) if m is not None), key=lambda m: m.start(), default=None)
    if first is not None and first is desired:
        value = _number(first.group(1))
        built.params["desired_capacity"] = value
        if not isinstance(value, int):
            built.errors.append(f"desired_capacity must be a whole number, got {first.group(1)}")
        elif value < 0:
            built.errors.append(f"desired_capacity must be 0 or more, got {value}")
        return
    raw_delta = first.group(1) if first is not None else (signed.group(1) if signed else None)
    if raw_delta is not None:
        value = _number(raw_delta)
        if isinstance(value, int) and _DOWN_RE.search(
            verb_text + " " + after[: first.start() if first else 0]
        ):
            value = -abs(value)
        built.params["delta"] = value
        if not isinstance(value, int):
            built.errors.append(f"delta must be a whole number of instances, got {raw_delta}")
        elif value == 0:
            built.errors.append("delta must not be 0")
        return
    if bare is not None:
        value = _number(bare.group(1))
        built.params["desired_capacity"] = value
        if not isinstance(value, int) or value < 0:
            built.errors.append(f"desired_capacity must be a whole number, 0 or more, got {bare.group(1)}")
        return
    built.errors.append("scale_asg needs a desired capacity (like 'scale web-asg to 6' or 'by 2')")


def _build_scale(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    rest = text[verb.end :]
    word, _pronoun, end = _next_word(rest, _ASG_FILLERS)
    if word is not None and re.fullmatch(_NUMBER, word, re.IGNORECASE):
        word, end = None, 0  # "scale to 6": the number came first, no group named
    has_number = bool(_DESIRED_RE.search(rest) or _DELTA_RE.search(rest))
    if not verb.at_start and not (word and has_number):
        return None
    built = Built()
    if word is None and len(ents.asg_names) == 1:
        word = ents.asg_names[0]
    if word is None:
        built.errors.append("scale_asg needs an Auto Scaling group name (like 'scale web-asg to 6')")
    else:
        built.params["asg_name"] = word
        built.names.append(word)
        if _INSTANCE_TOKEN_RE.fullmatch(word) or _IP_TARGET_RE.fullmatch(word):
            built.errors.append(
                f"asg_name '{word}' is an instance id or address, not an Auto Scaling group name"
            )
        elif not ASG_NAME_RE.match(word):
            built.errors.append(f"asg_name '{word}' is not a valid Auto Scaling group name")
    _capacity(built, rest[end:], text[verb.start : verb.end] + " " + rest[:end])
    return built


_SHORTHAND_SCALE_RE = re.compile(rf"^([A-Za-z0-9][\w.\-/]*)\s*(?:->|=>)\s*({_NUMBER})$", re.IGNORECASE)


def _build_restart(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    rest = text[verb.end :]
    service: str | None = None
    for token, _start, _end in _tokens(rest):
        lowered = token.lower()
        if lowered in _SERVICE_FILLERS or _INSTANCE_TOKEN_RE.fullmatch(token):
            continue
        if lowered not in {"on", "at", "in", "it", "for"}:
            service = token
        break
    if not verb.at_start:
        return None
    instances = ents.instances
    built = Built()
    if service is None:
        built.errors.append(
            "restart_service needs a service name (like 'restart nginx on i-0123456789abcdef0')"
        )
    else:
        built.params["service"] = service
        built.names.append(service)
        if not SERVICE_NAME_RE.match(service):
            built.errors.append(f"service '{service}' is not a valid service name")
    if not instances:
        built.errors.append(
            "restart_service needs an instance id (like 'restart nginx on i-0123456789abcdef0')"
        )
    else:
        built.params["instance_id"] = instances[0]
        problem = _instance_problem(instances[0]) or _one_target_problem(
            "restart_service", "instance", instances
        )
        if problem:
            built.errors.append(problem)
    return built


_TAG_PAIR_RE = re.compile(
    r"(?P<key>[^\s=]+)\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|\S+)"
    r"|(?P<key2>[^\s=]+)\s+(?:as|to)\s+(?P<value2>\"[^\"]*\"|'[^']*'|\S+)"
)
_TAG_TARGET_RE = re.compile(_ANY_ID_RE.pattern, re.IGNORECASE)
_TAG_FILLERS = _COMMON_FILLERS | {"resource", "instance", "group", "volume", "on"}


def _build_tag(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    ok, target = _pick_target(text, verb, _TAG_TARGET_RE, ents.any_ids(), _TAG_FILLERS, lenient=True)
    if not ok:
        return None
    built = Built()
    rest = text[verb.end :]
    if target is not None:
        position = rest.lower().find(target.lower())
        rest = rest[position + len(target) :] if position >= 0 else rest
        built.params["resource_id"] = target
        if not EC2_RESOURCE_ID_RE.match(target):
            built.errors.append(
                f"resource_id '{target}' is not an EC2 resource id (like i-0123456789abcdef0 or sg-...)"
            )
    else:
        built.errors.append("tag_resource needs a resource id (like 'tag i-0123456789abcdef0 env=prod')")
    rest = re.sub(r"^\s*with\b", " ", rest, flags=re.IGNORECASE)
    pairs = list(_TAG_PAIR_RE.finditer(rest))
    if not pairs:
        built.errors.append("tag_resource needs a key and a value (like env=prod or 'owner as alice')")
        return built
    key = (pairs[0].group("key") or pairs[0].group("key2") or "").strip()
    value = (pairs[0].group("value") or pairs[0].group("value2") or "").strip().strip("\"'")
    built.params["key"] = key
    built.params["value"] = value
    if key.lower().startswith("aws:"):
        built.errors.append(f"tag key '{key}' uses the reserved aws: prefix")
    elif len(key) > 128:
        built.errors.append(f"tag key '{key[:40]}...' is longer than 128 characters")
    if len(value) > 256:
        built.errors.append(f"tag value '{value[:40]}...' is longer than 256 characters")
    if len(pairs) > 1:
        built.errors.append("tag_resource sets one tag at a time; send one message per tag")
    return built


_NAMED_PORTS = {"https": 443, "http": 80, "ssh": 22, "dns": 53, "postgres": 5432, "mysql": 3306}
_PORT_RE = re.compile(r"(?<![\w./:-])(\d{1,6})(?![\w.:-])(?:/(?:tcp|udp))?")
_NAMED_PORT_RE = re.compile(r"\b(" + "|".join(_NAMED_PORTS) + r")\b", re.IGNORECASE)


def _build_allow_egress(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    built = Built()
    if ents.security_groups:
        group = ents.security_groups[0]
        built.params["group_id"] = group
        problem = _id_problem(
            "group_id", group, SECURITY_GROUP_ID_RE, "a security group id (sg- and 8 or 17 hex digits)"
        )
        if problem:
            built.errors.append(problem)
    else:
        built.errors.append("allow_egress needs a security group id (like sg-0123456789abcdef0)")
    if ents.ips:
        cidr, problem = normalise_cidr(ents.ips[0])
        built.params["cidr"] = cidr
        if problem:
            built.errors.append(problem)
        if cidr != ents.ips[0]:
            built.names.append(cidr)
    else:
        built.errors.append("allow_egress needs a destination CIDR (like 10.1.0.0/16)")
    scrubbed = text
    for token in ents.any_ids():
        scrubbed = re.sub(re.escape(token), " ", scrubbed, flags=re.IGNORECASE)
    port_match = _PORT_RE.search(scrubbed)
    named_port = _NAMED_PORT_RE.search(scrubbed)
    if port_match is not None:
        port = int(port_match.group(1))
        built.params["port"] = port
        if not 1 <= port <= 65535:
            built.errors.append(f"port must be between 1 and 65535, got {port}")
    elif named_port is not None:
        built.params["port"] = _NAMED_PORTS[named_port.group(1).lower()]
    else:
        built.errors.append("allow_egress needs a port (like 'on 443')")
    return built


# ---------------------------------------------------------------------------------------------
# The vocabulary
# ---------------------------------------------------------------------------------------------

Builder = Callable[[str, VerbMatch, Entities], Built | None]

_VERBS: list[tuple[str, re.Pattern[str], Builder]] = [
    (
        "allow_egress",
        re.compile(r"\b(?:allow|open(?:\s+up)?|permit|add)\s+(?:an?\s+)?(?:egress|outbound)\b", re.I),
        _build_allow_egress,
    ),
    (
        "unblock_ip",
        re.compile(
            r"\b(?:unblock|un-block|unban|un-ban|(?:lift|remove|drop)\s+the\s+(?:block|ban)\s+(?:on|for)|"
            r"allow(?=\s+(?:\S+\s+)?again\b))\b",
            re.I,
        ),
        _cidr_action("unblock_ip"),
    ),
    (
        "block_ip",
        re.compile(
            r"\b(?:block|blacklist|blocklist|ban|deny|firewall(?:\s+off)?|"
            r"drop\s+(?:all\s+)?(?:traffic|packets|connections)\s+from)\b",
            re.I,
        ),
        _cidr_action("block_ip"),
    ),
    (
        "isolate_instance",
        re.compile(r"\b(?:isolate|quarantine|contain|cut\s+off|lock\s*down|fence\s+off|sandbox)\b", re.I),
        _instance_action("isolate_instance", lenient=True),
    ),
    (
        "snapshot_instance",
        re.compile(
            r"\b(?:take\s+(?:a\s+|an\s+)?(?:snapshot|backup|snap)\s+of|snapshot|back\s+up|backup)\b", re.I
        ),
        _instance_action("snapshot_instance", lenient=True),
    ),
    ("restart_service", re.compile(r"\b(?:restart|bounce)\b", re.I), _build_restart),
    ("tag_resource", re.compile(r"\btag\b", re.I), _build_tag),
    (
        "stop_instance",
        re.compile(r"\b(?:stop|shut\s*down|power\s+(?:off|down))\b", re.I),
        _instance_action("stop_instance", lenient=False),
    ),
    (
        "terminate_instance",
        re.compile(r"\b(?:terminate|kill|nuke|destroy)\b", re.I),
        _instance_action("terminate_instance", lenient=False),
    ),
    (
        "scale_asg",
        re.compile(
            r"\b(?:scale(?:\s+(?:out|up|in|down))?|"
            r"set\s+(?:the\s+)?(?:desired\s+capacity|desired|capacity)(?:\s+(?:of|for|on))?|"
            r"set(?=\s+\S+\s+(?:desired\s+)?capacity\b)|bump(?:\s+(?:up|down))?|resize)\b",
            re.I,
        ),
        _build_scale,
    ),
    ("rollback", re.compile(r"\b(?:roll\s*back|roll-back|undo|revert)\b", re.I), _build_rollback),
    (
        "investigate",
        re.compile(
            r"\b(?:investigate|look\s+(?:at|into)|what(?:'?s|\s+is)\s+(?:wrong|up|going\s+on|happening)"
            r"\s+(?:with|on)|check(?:\s+on)?|dig\s+into|diagnose|debug|triage|status\s+(?:of|for|on)|"
            r"how(?:'?s|\s+is)|why\s+is)\b",
            re.I,
        ),
        _build_investigate,
    ),
]

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


def _control_action(core: str, ents: Entities) -> str | None:
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


def _verb_matches(text: str) -> list[tuple[VerbMatch, Builder]]:
    found = []
    for order, (action, pattern, builder) in enumerate(_VERBS):
        for match in pattern.finditer(text):
            if _negated(text, match.start()):
                continue
            verb = VerbMatch(action, match.start(), match.end(), _at_clause_start(text, match.start()))
            found.append((match.start(), order, verb, builder))
    found.sort(key=lambda item: (item[0], item[1]))
    return [(verb, builder) for _start, _order, verb, builder in found]


def _named_resources(ents: Entities, built: Built) -> list[str]:
    cidrs = [normalise_cidr(ip)[0] for ip in ents.ips]
    return _unique(
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
    core = _START_FILLER_RE.sub("", work).strip()
    control = _control_action(core, ents)
    if control is not None:
        return control, Built()
    shorthand = _SHORTHAND_SCALE_RE.match(core)
    if shorthand is not None:
        built = Built(params={"asg_name": shorthand.group(1)}, names=[shorthand.group(1)])
        _capacity(built, "to " + shorthand.group(2), "")
        return "scale_asg", built
    for verb, builder in _verb_matches(work):
        built_or_none = builder(work, verb, ents)
        if built_or_none is not None:
            return verb.action, built_or_none
    lone = core.rstrip("?").strip()
    if lone and _ANY_ID_RE.fullmatch(lone):
        return "investigate", Built(params={"resource": normalise_id(lone)})
    return "unknown", Built()


def parse_request(text: str, requester: str = "", default_region: str = "us-east-1") -> Intent:
    """Rules only, never raises: the recognised action, its params as typed, and what is wrong."""
    cleaned = clean_chat_text(text)
    region, region_errors, work = _extract_region(cleaned, default_region)
    ents = Entities.of(work)
    action, built = _understand(work, ents)
    params = dict(built.params)
    errors = list(built.errors)
    if action in REGIONAL_ACTIONS:
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
