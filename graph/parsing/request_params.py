"""Parameter values read from a request, and the plain-language problem with each one.

Each check returns the problem (naming the parameter) or None, so a reply can say what to fix.
"""

from __future__ import annotations

import ipaddress
import re

from graph.parsing.distinct import distinct
from graph.parsing.verb_targets import Built
from tools.base import REGION_RE, check_instance_id

SERVICE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._:\-]{0,127}$")
ASG_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,254}$")

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


# "from us-east-1 ... to us-west-2": a move between regions names no single region for the request.
_DIRECTIONAL_RE = re.compile(r"\b(?:from|to|into|towards|evacuate|out\s+of)\s+$", re.IGNORECASE)


def extract_region(
    text: str, default_region: str, keep_directional: bool = False
) -> tuple[str, list[str], str]:
    """(region, errors, text without the region words).

    ``keep_directional``: regions after "from"/"to" are left in the text and not taken as the request's
    region (a failover names two).
    """
    valid: list[str] = []
    errors: list[str] = []
    kept: set[tuple[int, int]] = set()
    for match in _REGION_LIKE_RE.finditer(text):
        if keep_directional and _DIRECTIONAL_RE.search(text[: match.start()]):
            kept.add(match.span())
            continue
        token = match.group(1).lower()
        zone = _AZ_RE.match(token)
        if zone:
            token = zone.group(1)
        if REGION_RE.match(token):
            valid.append(token)
        else:
            errors.append(f"region '{match.group(1)}' is not an AWS region name (like us-east-1)")
    valid = distinct(valid)
    if len(valid) > 1:
        errors.append(f"the request names more than one region ({', '.join(valid)}); name just one")
    remaining = _REGION_LIKE_RE.sub(lambda m: m.group(0) if m.span() in kept else " ", text)
    return (valid[0] if valid else default_region), errors, re.sub(r"\s+", " ", remaining).strip()


# ---------------------------------------------------------------------------------------------
# Ids and addresses
# ---------------------------------------------------------------------------------------------


def instance_problem(value: str) -> str | None:
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


def id_problem(name: str, value: str, pattern: re.Pattern[str], what: str) -> str | None:
    return None if pattern.match(value) else f"{name} '{value}' is not {what}"


def one_target_problem(action: str, what: str, named: list[str]) -> str | None:
    if len(named) > 1:
        return f"{action} takes one {what} at a time; the request names {len(named)}: {', '.join(named)}"
    return None


# ---------------------------------------------------------------------------------------------
# Capacity: "to 6", "by 2", "+2", "six"
# ---------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "  # noqa: SIM905
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
NUMBER = r"[+-]?\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS)
DESIRED_RE = re.compile(rf"(?:\bto|=|\bat)\s*({NUMBER})\b", re.IGNORECASE)
DELTA_RE = re.compile(rf"\bby\s*({NUMBER})\b", re.IGNORECASE)
_SIGNED_RE = re.compile(r"(?<![\w.])([+-]\d+)\b")
_BARE_NUMBER_RE = re.compile(rf"^\s*(?:instances?\s+)?({NUMBER})\b", re.IGNORECASE)
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


def read_capacity(built: Built, after: str, verb_text: str) -> None:
    """desired_capacity ("to 6") or delta ("by 2", "+2") from the words after the ASG name."""
    desired, delta, signed = DESIRED_RE.search(after), DELTA_RE.search(after), _SIGNED_RE.search(after)
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
