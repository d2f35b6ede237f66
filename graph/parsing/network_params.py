"""Values of the network requests, read from chat text: ports, durations, domains, rule groups, hosted
zones and region pairs. Each reader returns the raw value and, where it is wrong, the problem with it.
"""

from __future__ import annotations

import re

from graph.parsing.distinct import distinct
from tools.vendor_access import MAX_HOURS

NAMED_PORTS = {
    "https": 443,
    "http": 80,
    "ssh": 22,
    "dns": 53,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "rdp": 3389,
    "redis": 6379,
}
_PORT_RES = [
    re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}:(\d{1,6})\b"),  # 10.0.3.4:5432
    re.compile(r"\bport\s*(?:number\s*)?[:#]?\s*(\d{1,6})\b", re.IGNORECASE),
    re.compile(r"\b(?:tcp|udp)\s*[/:]\s*(\d{1,6})\b", re.IGNORECASE),
    re.compile(r"\b(\d{1,6})\s*/\s*(?:tcp|udp)\b", re.IGNORECASE),
    re.compile(r"\bon\s+(\d{1,6})\b(?!\s*(?:hours?|hrs?|h|days?|minutes?|mins?)\b)", re.IGNORECASE),
]
_NAMED_PORT_RE = re.compile(r"(?<![/:.\w])(" + "|".join(NAMED_PORTS) + r")(?![\w:])", re.IGNORECASE)
_DURATION_RE = re.compile(
    r"\b(\d+(?:\.\d+)?|an?|one)\s*(hours?|hrs?|h|days?|minutes?|mins?)\b(?!-)", re.IGNORECASE
)
# Words that look like a domain: labels with dots, an alphabetic last label; a scheme or path is kept so
# the problem can be named.
_DOMAIN_RE = re.compile(
    r"(?<![\w@.:/-])(?:[a-z][a-z0-9+.-]*://)?\.?(?:[a-z0-9_-]+\.)+[a-z][a-z0-9-]*\.?(?::\d+)?(?:/[^\s,]*)?(?![\w-])",
    re.IGNORECASE,
)
_NAME = r"(?P<name>[A-Za-z0-9][A-Za-z0-9-]{0,127})(?![\w.-])"
_RULE_GROUP_NAMED_RE = re.compile(r"\brule[\s-]?group\s+(?:named\s+|called\s+)?" + _NAME, re.IGNORECASE)
_RULE_GROUP_AFTER_RE = re.compile(
    r"\b(?:in|on|to|into|for)\s+(?:the\s+)?(?:(?:rule[\s-]?group|firewall|allow[\s-]?list)\s+)?" + _NAME,
    re.IGNORECASE,
)
_NOT_A_GROUP = frozenset(
    {
        "rule",
        "group",
        "firewall",
        "allow",
        "list",
        "allowlist",
        "egress",
        "outbound",
        "traffic",
        "port",
        "the",
    }
)
_ZONE_RE = re.compile(
    r"\b(?:hosted[\s-]?)?zone(?:[\s-]?id)?\s*[:=]?\s*(?:/hostedzone/)?(?P<zone>[A-Za-z0-9]{1,32})\b",
    re.IGNORECASE,
)
_BARE_ZONE_RE = re.compile(r"(?<![\w-])(?:/hostedzone/)?(Z[A-Z0-9]{6,31})(?![\w-])")
_REGION_WORD = r"([a-z]{2}(?:-gov)?-[a-z]+-\d+)"
_FROM_REGION_RE = re.compile(rf"\b(?:from|out\s+of|evacuate)\s+{_REGION_WORD}\b", re.IGNORECASE)
_TO_REGION_RE = re.compile(rf"\b(?:to|into|towards)\s+{_REGION_WORD}\b", re.IGNORECASE)


def read_port(text: str) -> tuple[int | None, str | None]:
    """(port, problem): '10.0.3.4:5432', 'port 443', 'tcp/443', '443/tcp', 'on 443', or a service name."""
    for pattern in _PORT_RES:
        match = pattern.search(text)
        if match is not None:
            port = int(match.group(1))
            problem = None if 1 <= port <= 65535 else f"port must be between 1 and 65535, got {port}"
            return port, problem
    named = _NAMED_PORT_RE.search(text)
    if named is not None:
        return NAMED_PORTS[named.group(1).lower()], None
    return None, None


def read_hours(text: str) -> tuple[int | None, str | None, str]:
    """(hours, problem, the words read): 'for 4 hours', '4h', 'an hour', '2 days'."""
    match = _DURATION_RE.search(text)
    if match is None:
        return None, None, ""
    amount, unit = match.group(1).lower(), match.group(2).lower()
    words = match.group(0)
    if unit.startswith("min"):
        return None, f"hours must be whole hours from 1 to {MAX_HOURS}, got '{words}'", words
    value = 1.0 if amount in {"a", "an", "one"} else float(amount)
    hours = value * 24 if unit.startswith("day") else value
    if hours != int(hours):
        return None, f"hours must be whole hours from 1 to {MAX_HOURS}, got '{words}'", words
    if not 1 <= hours <= MAX_HOURS:
        return int(hours), f"hours must be between 1 and {MAX_HOURS}, got {int(hours)}", words
    return int(hours), None, words


def domain_tokens(text: str) -> list[str]:
    """Words shaped like domain names (or URLs), in order; addresses and ids are not."""
    return distinct(
        match.group(0).rstrip(".")
        for match in _DOMAIN_RE.finditer(text)
        if not re.fullmatch(r"[\d.]+", match.group(0).rstrip("."))
    )


def read_rule_group(text: str, after: int = 0) -> str | None:
    """'rule group prod-api' anywhere, else 'in/on/to prod-api' after offset ``after``."""
    for match in _RULE_GROUP_NAMED_RE.finditer(text):
        if match.group("name").lower() not in _NOT_A_GROUP:
            return match.group("name")
    for match in _RULE_GROUP_AFTER_RE.finditer(text, after):
        if match.group("name").lower() not in _NOT_A_GROUP:
            return match.group("name")
    return None


def read_zone(text: str) -> str | None:
    match = _ZONE_RE.search(text)
    if match is not None:
        return match.group("zone")
    bare = _BARE_ZONE_RE.search(text)
    return bare.group(1) if bare is not None else None


def read_region_pair(text: str) -> tuple[str | None, str | None]:
    """(from_region, to_region): 'from us-east-1 to us-west-2', 'evacuate us-east-1 into us-west-2'."""
    source = _FROM_REGION_RE.search(text)
    target = _TO_REGION_RE.search(text)
    return (
        source.group(1).lower() if source else None,
        target.group(1).lower() if target else None,
    )
