"""Builders for the actions with more than one parameter: scale, restart, tag and allow egress.

Each returns None when the verb turns out to be prose, not a command.
"""

from __future__ import annotations

import re

from graph.parsing.request_entities import (
    ANY_ID_RE,
    EC2_RESOURCE_ID_RE,
    INSTANCE_TOKEN_RE,
    IP_TARGET_RE,
    Entities,
)
from graph.parsing.request_params import (
    ASG_NAME_RE,
    DELTA_RE,
    DESIRED_RE,
    NUMBER,
    SERVICE_NAME_RE,
    id_problem,
    instance_problem,
    normalise_cidr,
    one_target_problem,
    read_capacity,
)
from graph.parsing.verb_targets import (
    ASG_FILLERS,
    COMMON_FILLERS,
    SERVICE_FILLERS,
    Built,
    VerbMatch,
    next_word,
    pick_target,
    tokens,
)
from tools.base import SECURITY_GROUP_ID_RE

_TAG_PAIR_RE = re.compile(
    r"(?P<key>[^\s=]+)\s*=\s*(?P<value>\"[^\"]*\"|'[^']*'|\S+)"
    r"|(?P<key2>[^\s=]+)\s+(?:as|to)\s+(?P<value2>\"[^\"]*\"|'[^']*'|\S+)"
)
_TAG_FILLERS = COMMON_FILLERS | {"resource", "instance", "group", "volume", "on"}
_NAMED_PORTS = {"https": 443, "http": 80, "ssh": 22, "dns": 53, "postgres": 5432, "mysql": 3306}
_PORT_RE = re.compile(r"(?<![\w./:-])(\d{1,6})(?![\w.:-])(?:/(?:tcp|udp))?")
_NAMED_PORT_RE = re.compile(r"\b(" + "|".join(_NAMED_PORTS) + r")\b", re.IGNORECASE)


def build_scale(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    rest = text[verb.end :]
    word, _pronoun, end = next_word(rest, ASG_FILLERS)
    if word is not None and re.fullmatch(NUMBER, word, re.IGNORECASE):
        word, end = None, 0  # "scale to 6": the number came first, no group named
    has_number = bool(DESIRED_RE.search(rest) or DELTA_RE.search(rest))
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
        if INSTANCE_TOKEN_RE.fullmatch(word) or IP_TARGET_RE.fullmatch(word):
            built.errors.append(
                f"asg_name '{word}' is an instance id or address, not an Auto Scaling group name"
            )
        elif not ASG_NAME_RE.match(word):
            built.errors.append(f"asg_name '{word}' is not a valid Auto Scaling group name")
    read_capacity(built, rest[end:], text[verb.start : verb.end] + " " + rest[:end])
    return built


def build_restart(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    service: str | None = None
    for token, _start, _end in tokens(text[verb.end :]):
        lowered = token.lower()
        if lowered in SERVICE_FILLERS or INSTANCE_TOKEN_RE.fullmatch(token):
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
        problem = instance_problem(instances[0]) or one_target_problem(
            "restart_service", "instance", instances
        )
        if problem:
            built.errors.append(problem)
    return built


def build_tag(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    ok, target = pick_target(text, verb, ANY_ID_RE, ents.any_ids(), _TAG_FILLERS, lenient=True)
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


def build_allow_egress(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    built = Built()
    if ents.security_groups:
        group = ents.security_groups[0]
        built.params["group_id"] = group
        problem = id_problem(
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
