"""Builders for the actions that act on one resource named after the verb (and for investigate).

isolate/snapshot/stop/terminate take an instance, block/unblock an address or CIDR, and rollback
an action id: one builder reads them all, told apart by their ``TargetKind``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from graph.parsing.request_entities import (
    ACTION_ID_RE,
    ACTION_TOKEN_RE,
    ANY_ID_RE,
    INSTANCE_TOKEN_RE,
    IP_TARGET_RE,
    Entities,
    normalise_id,
)
from graph.parsing.request_params import id_problem, instance_problem, normalise_cidr, one_target_problem
from graph.parsing.verb_targets import (
    ACTION_FILLERS,
    ANY_FILLERS,
    INSTANCE_FILLERS,
    IP_FILLERS,
    Builder,
    Built,
    VerbMatch,
    next_word,
    pick_target,
)


@dataclass(frozen=True)
class TargetKind:
    """The one resource an action acts on: how it is spotted, checked and stored."""

    param: str
    noun: str  # as in "takes one <noun> at a time"
    needed: str  # as in "<action> needs <needed>"
    pattern: re.Pattern[str]
    fillers: frozenset[str]
    mentioned: Callable[[Entities], list[str]]
    check: Callable[[str], tuple[str, str | None]]  # raw target -> (param value, problem)


def _action_id_check(value: str) -> tuple[str, str | None]:
    what = "an opsbot action id (act- and 4 to 32 lowercase letters or digits)"
    return value, id_problem("action_id", value, ACTION_ID_RE, what)


INSTANCE = TargetKind(
    param="instance_id",
    noun="instance",
    needed="an instance id (like i-0123456789abcdef0)",
    pattern=INSTANCE_TOKEN_RE,
    fillers=INSTANCE_FILLERS,
    mentioned=lambda ents: ents.instances,
    check=lambda value: (value, instance_problem(value)),
)
ADDRESS = TargetKind(
    param="cidr",
    noun="address or CIDR",
    needed="an IP address or CIDR (like 203.0.113.45 or 203.0.113.0/24)",
    pattern=IP_TARGET_RE,
    fillers=IP_FILLERS,
    mentioned=lambda ents: ents.ips,
    check=normalise_cidr,
)
ACTION_ID = TargetKind(
    param="action_id",
    noun="action",
    needed="an action id (like act-1a2b3c)",
    pattern=ACTION_TOKEN_RE,
    fillers=ACTION_FILLERS,
    mentioned=lambda ents: ents.action_ids,
    check=_action_id_check,
)


def one_target_action(action: str, kind: TargetKind, *, lenient: bool = True) -> Builder:
    """A builder for ``action`` on one ``kind`` of resource (``lenient``: a lone mention will do)."""

    def build(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
        mentioned = kind.mentioned(ents)
        ok, target = pick_target(text, verb, kind.pattern, mentioned, kind.fillers, lenient=lenient)
        if not ok:
            return None
        built = Built()
        if target is None:
            built.errors.append(f"{action} needs {kind.needed}")
            return built
        value, problem = kind.check(target)
        built.params[kind.param] = value
        problem = problem or one_target_problem(action, kind.noun, mentioned)
        if problem:
            built.errors.append(problem)
        if value != target:
            built.names.append(value)
        return built

    return build


def build_investigate(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    word, pronoun, _ = next_word(text[verb.end :], ANY_FILLERS)
    named = ents.any_ids()
    built = Built()
    if word is not None and ANY_ID_RE.fullmatch(word):
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
    if INSTANCE_TOKEN_RE.fullmatch(resource):
        problem = instance_problem(resource)
        if problem:
            built.errors.append(problem)
    return built
