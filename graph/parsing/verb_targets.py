"""What a verb in a request acts on: the words after it (fillers skipped), and whether it is a command.

Prose ("we will stop your instance") is told apart from commands: a command's verb opens a clause,
or its target follows the verb.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graph.parsing.request_entities import Entities, normalise_id

START_FILLER_RE = re.compile(
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

COMMON_FILLERS = frozenset(
    {"the", "a", "an", "that", "this", "my", "our", "pls", "please", "now", "asap", "immediately", "right"}
)
INSTANCE_FILLERS = COMMON_FILLERS | {
    "instance", "instances", "server", "box", "host", "node", "vm", "ec2", "machine", "compromised",
    "infected", "hacked", "bad", "rogue", "suspicious", "affected", "broken", "prod", "production",
    "staging", "id", "of", "for", "on", "off", "down", "up",
}  # fmt: skip
IP_FILLERS = COMMON_FILLERS | {
    "ip", "ips", "address", "addr", "host", "all", "traffic", "connections", "requests", "from", "source",
    "src", "attacker", "attacking", "malicious", "bad", "ingress", "inbound", "range", "cidr", "subnet",
    "network", "net", "of", "on", "for", "to", "again",
}  # fmt: skip
ASG_FILLERS = COMMON_FILLERS | {
    "asg", "group", "autoscaling", "auto-scaling", "auto", "scaling", "of", "for", "on", "out", "up", "in",
    "down", "capacity", "desired", "fleet",
}  # fmt: skip
ACTION_FILLERS = COMMON_FILLERS | {"action", "step", "change", "of", "for", "last", "previous", "latest"}
ANY_FILLERS = COMMON_FILLERS | {
    "at", "into", "on", "with", "instance", "server", "box", "host", "ip", "group", "asg", "alarm", "of",
    "for", "going", "wrong", "up",
}  # fmt: skip
SERVICE_FILLERS = COMMON_FILLERS | {"service", "daemon", "process", "unit", "systemd", "app"}


@dataclass(frozen=True)
class VerbMatch:
    action: str
    start: int
    end: int
    at_start: bool  # the verb opens a clause: an imperative, not prose


@dataclass
class Built:
    params: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # extra names (asg names, services) to list


# Reads the words around a verb; None when the verb turns out to be prose, not a command.
Builder = Callable[[str, VerbMatch, Entities], Built | None]


def tokens(text: str) -> list[tuple[str, int, int]]:
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


def next_word(text: str, fillers: frozenset[str]) -> tuple[str | None, bool, int]:
    """The first non-filler word of ``text``: (word, was_a_pronoun, end offset)."""
    for token, _start, end in tokens(text):
        lowered = token.lower()
        if lowered in _PRONOUNS:
            return None, True, end
        if lowered in fillers:
            continue
        return token, False, end
    return None, False, len(text)


def at_clause_start(text: str, start: int) -> bool:
    before = text[:start]
    breaks = list(_CLAUSE_BREAK_RE.finditer(before))
    prefix = before[breaks[-1].end() :] if breaks else before
    prefix = START_FILLER_RE.sub("", prefix.strip())
    return prefix.strip() == ""


def negated(text: str, start: int) -> bool:
    return bool(_NEGATION_RE.search(text[:start]))


def pick_target(
    text: str,
    verb: VerbMatch,
    pattern: re.Pattern[str],
    named: list[str],
    fillers: frozenset[str],
    *,
    lenient: bool,
) -> tuple[bool, str | None]:
    """(recognised, target) for an action whose target is one id of ``pattern``'s kind.

    The target must follow the verb, or the verb must open a clause.
    """
    word, pronoun, _ = next_word(text[verb.end :], fillers)
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
