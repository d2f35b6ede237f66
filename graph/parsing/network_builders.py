"""Builders for the network actions: firewall domains, vendor access, routes, Cloud WAN segments and
regional failover. Each returns None when the words are prose (or another action's), not this request.

Values are checked with the tools' own validators, so a problem reads the same here as at execution.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from graph.parsing.network_params import (
    domain_tokens,
    read_hours,
    read_port,
    read_region_pair,
    read_rule_group,
    read_zone,
)
from graph.parsing.request_entities import CORE_NETWORK_ID_RE, Entities
from graph.parsing.request_params import id_problem
from graph.parsing.verb_targets import Builder, Built, VerbMatch
from tools.base import REGION_RE, SECURITY_GROUP_ID_RE
from tools.cidr_args import normalise_ipv4_cidr
from tools.cloudwan import SEGMENT_NAME_RE
from tools.firewall_domains import normalise_domain
from tools.routes import ROUTE_TABLE_ID_RE, TARGET_RE
from tools.vendor_access import MAX_HOURS, VENDOR_RE

_DOMAIN_AHEAD = r"(?=\s+(?:(?:to|for)\s+)?\.?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*\b)"
ALLOW_DOMAIN_VERB_RE = re.compile(
    r"\b(?:add\s+(?:an?\s+)?(?:network\s+)?(?:firewall|fw|egress|outbound)\s+(?:allow\s+)?(?:rule|entry|exception)"
    r"|allow-?list|whitelist"
    r"|(?:allow|permit|open(?:\s+up)?)(?:\s+(?:egress|outbound|https?|traffic|access))*"
    + _DOMAIN_AHEAD
    + r"|add"
    + _DOMAIN_AHEAD
    + r")",
    re.IGNORECASE,
)
_VENDOR = r"(?:(?:the\s+)?vendor\s+)?(?P<vendor>[\w.-]+?)(?:'s)?"
_VENDOR_AFTER = r"(?:(?:the\s+)?vendor\s+)?(?P<vendor2>[\w.-]+?)(?:'s)?(?![\w.-])"
_ACCESS = r"(?:temporary\s+|temp\s+|time-?boxed\s+)?access\b"
GRANT_VERB_RE = re.compile(
    rf"\b(?:grant|give)\s+(?:{_VENDOR}\s+{_ACCESS}|{_ACCESS}\s+(?:to|for)\s+{_VENDOR_AFTER})", re.IGNORECASE
)
REVOKE_VERB_RE = re.compile(
    rf"\b(?:revoke|remove|pull|withdraw|end)\s+(?:{_VENDOR}\s+{_ACCESS}|{_ACCESS}\s+(?:of|for)\s+{_VENDOR_AFTER})",
    re.IGNORECASE,
)
UPDATE_ROUTE_VERB_RE = re.compile(
    r"\b(?:(?:update|change|replace|modify|re-?point|point|move|switch|swing)\s+(?:the\s+)?route"
    r"|re-?route|redirect"
    r"|(?:route|point|send)(?=\s+(?:(?:all\s+)?traffic\s+(?:for|to)\s+)?(?:\d{1,3}\.|rtb-)))\b",
    re.IGNORECASE,
)
_SEGMENT_TAIL = (
    r"\s+(?:an?\s+|the\s+)?(?:new\s+)?(?:cloud\s*-?wan\s+)?"
    r"(?:(?P<before>[A-Za-z][A-Za-z0-9]{0,63})\s+)?segment\b"
)
CREATE_SEGMENT_VERB_RE = re.compile(
    r"\b(?:create|add|make|set\s+up|provision)" + _SEGMENT_TAIL, re.IGNORECASE
)
DELETE_SEGMENT_VERB_RE = re.compile(
    r"\b(?:delete|remove|drop|destroy|tear\s+down|decommission)" + _SEGMENT_TAIL, re.IGNORECASE
)
FAILOVER_VERB_RE = re.compile(
    r"\b(?:fail\s*-?\s*over|evacuate|(?:shift|move|switch)\s+(?:all\s+)?(?:the\s+)?traffic)\b", re.IGNORECASE
)
_ROUTE_TARGET_TOKEN_RE = re.compile(
    r"(?<![\w-])(?:eni|igw|nat|tgw|vpce|pcx|i)-[0-9a-z]+(?![\w-])", re.IGNORECASE
)
_VIA_RE = re.compile(r"\b(?:via|to|through|thru|at|towards)\s+$|(?:->|=>)\s*$", re.IGNORECASE)
_SEGMENT_NAME_AFTER_RE = re.compile(r"\s*(?:named\s+|called\s+)?[\"'`]?(?P<name>[A-Za-z][\w-]*)")
_PREPOSITIONS = frozenset({"on", "in", "to", "for", "from", "of", "at"})


def _problem(name: str, check: Callable[[str], str], value: str) -> tuple[str, str | None]:
    """(normal form, problem) from a tool validator that raises ValueError."""
    try:
        return check(value), None
    except ValueError as error:
        return value, f"{name} {error}"


def _one(built: Built, action: str, what: str, found: list[str]) -> None:
    if len(found) > 1:
        built.errors.append(f"{action} takes one {what}; the request names {len(found)}: {', '.join(found)}")


# --- allow_egress_domain ------------------------------------------------------------------------------


def build_allow_egress_domain(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    domains = domain_tokens(text[verb.start :])
    if not domains and (ents.ips or ents.security_groups or not verb.at_start):
        return None  # an address rule (allow_egress, block_ip), or prose
    built = Built()
    after = verb.end
    if not domains:
        built.errors.append(
            "allow_egress_domain needs a domain (like 'add firewall rule for salesforce.com in prod-api')"
        )
    else:
        domain, problem = _problem("domain", normalise_domain, domains[0])
        built.params["domain"] = domain
        built.names += [domains[0], domain]
        built.errors += [problem] if problem else []
        _one(built, "allow_egress_domain", "domain at a time", domains)
        after = text.find(domains[0], verb.start) + len(domains[0])
    group = read_rule_group(text, after)
    if group is None:
        if not verb.at_start:
            return None
        built.errors.append("allow_egress_domain needs the Network Firewall rule group (like 'in prod-api')")
    else:
        built.params["rule_group"] = group
        built.names.append(group)
    return built


# --- grant_vendor_access / revoke_vendor_access --------------------------------------------------------


def _vendor(built: Built, action: str, match: re.Match[str] | None) -> None:
    raw = (match.group("vendor") or match.group("vendor2")) if match else None
    if raw is not None and _is_address(raw):
        raw = None
    if raw is None:
        built.errors.append(f"{action} needs the vendor's name (like 'grant acme access ...')")
        return
    vendor = raw.lower()
    built.params["vendor"] = vendor
    if not VENDOR_RE.match(vendor):
        built.errors.append(
            f"vendor '{raw}' is not a vendor name (letters, digits, '.', '_' and '-', at most 64)"
        )


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def vendor_builder(action: str, verb_re: re.Pattern[str]) -> Builder:
    """grant_vendor_access (with hours) or revoke_vendor_access: vendor, CIDR, port and security group."""
    granting = action == "grant_vendor_access"

    def build(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
        if not verb.at_start and not (ents.ips and ents.security_groups):
            return None
        built = Built()
        _vendor(built, action, verb_re.match(text, verb.start))
        scrubbed = text
        if ents.ips:
            cidr, problem = _problem("cidr", normalise_ipv4_cidr, ents.ips[0])
            built.params["cidr"] = cidr
            built.names.append(cidr)
            built.errors += [problem] if problem else []
            _one(built, action, "address or CIDR", ents.ips)
        else:
            built.errors.append(f"{action} needs the vendor's address or CIDR (like 'from 198.51.100.0/24')")
        if ents.security_groups:
            group = ents.security_groups[0]
            built.params["security_group_id"] = group
            what = "a security group id (sg- and 8 or 17 hex digits)"
            problem = id_problem("security_group_id", group, SECURITY_GROUP_ID_RE, what)
            built.errors += [problem] if problem else []
            _one(built, action, "security group", ents.security_groups)
        else:
            built.errors.append(f"{action} needs a security group id (like 'on sg-0123456789abcdef0')")
        if granting:
            hours, problem, words = read_hours(text)
            scrubbed = scrubbed.replace(words, " ") if words else scrubbed
            if hours is not None:
                built.params["hours"] = hours
            if problem or hours is None:
                built.errors.append(
                    problem or f"{action} needs how long (like 'for 4 hours'; at most {MAX_HOURS})"
                )
        for token in ents.ips + ents.security_groups:
            scrubbed = scrubbed.replace(token, " ")
        port, problem = read_port(scrubbed)
        if port is not None:
            built.params["port"] = port
        if problem or port is None:
            built.errors.append(problem or f"{action} needs a TCP port (like 'to port 443')")
        return built

    return build


# --- update_route ------------------------------------------------------------------------------------


def _route_target(text: str) -> tuple[str | None, list[str]]:
    """The new target (the id after via/to/through, else the only one) and every target id named."""
    found = [(m.group(0).lower(), m.start()) for m in _ROUTE_TARGET_TOKEN_RE.finditer(text)]
    marked = [token for token, start in found if _VIA_RE.search(text[:start])]
    names = list(dict.fromkeys(token for token, _start in found))
    if marked:
        return marked[-1], names
    return (names[0] if len(names) == 1 else None), names


def build_update_route(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    tables = [i for i in ents.other_ids if i.lower().startswith("rtb-")]
    target, targets = _route_target(text)
    if not verb.at_start and not (tables and ents.ips and target):
        return None
    built = Built()
    if tables:
        built.params["route_table_id"] = tables[0]
        what = "a route table id (rtb- and 8 or 17 hex digits)"
        problem = id_problem("route_table_id", tables[0], ROUTE_TABLE_ID_RE, what)
        built.errors += [problem] if problem else []
        _one(built, "update_route", "route table", tables)
    else:
        built.errors.append(
            "update_route needs a route table id (like 'route 10.20.0.0/16 in rtb-... via eni-...')"
        )
    if ents.ips:
        cidr, problem = _problem("destination_cidr", normalise_ipv4_cidr, ents.ips[0])
        built.params["destination_cidr"] = cidr
        built.names.append(cidr)
        built.errors += [problem] if problem else []
        _one(built, "update_route", "destination", ents.ips)
    else:
        built.errors.append("update_route needs a destination CIDR (like 10.20.0.0/16)")
    if target is not None:
        built.params["target"] = target
        what = "a route target id (eni-, igw-, nat-, tgw-, vpce-, pcx- or i- and 8 or 17 hex digits)"
        problem = id_problem("target", target, TARGET_RE, what)
        built.errors += [problem] if problem else []
    elif targets:
        built.errors.append(
            f"update_route needs one new target; the request names {', '.join(targets)}: say which with 'via'"
        )
    else:
        built.errors.append("update_route needs the new target (like 'via eni-0123456789abcdef0')")
    return built


# --- create_segment / delete_segment ------------------------------------------------------------------


def segment_builder(action: str, verb_re: re.Pattern[str]) -> Builder:
    def build(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
        networks = [i for i in ents.other_ids if i.lower().startswith("core-network-")]
        if not verb.at_start and not networks:
            return None
        built = Built()
        match = verb_re.match(text, verb.start)
        after = _SEGMENT_NAME_AFTER_RE.match(text, verb.end)
        name = after.group("name") if after and after.group("name").lower() not in _PREPOSITIONS else None
        if name is None or name.lower().startswith("core-network"):
            name = match.group("before") if match else None
        if name is None:
            verb_word = action.split("_")[0]
            built.errors.append(
                f"{action} needs a segment name (like '{verb_word} segment staging on core-network-…')"
            )
        else:
            built.params["segment"] = name
            built.names.append(name)
            if not SEGMENT_NAME_RE.match(name):
                built.errors.append(
                    f"segment '{name}' is not a Cloud WAN segment name (letters and digits, starting with a "
                    "letter, at most 64 characters)"
                )
        if networks:
            built.params["core_network_id"] = networks[0]
            what = "a Cloud WAN core network id (core-network- and 8 to 17 hex digits)"
            problem = id_problem("core_network_id", networks[0], CORE_NETWORK_ID_RE, what)
            built.errors += [problem] if problem else []
            _one(built, action, "core network", networks)
        else:
            built.errors.append(f"{action} needs a core network id (like core-network-0123456789abcdef0)")
        return built

    return build


# --- regional_failover -------------------------------------------------------------------------------


def build_regional_failover(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    source, target = read_region_pair(text)
    if source is None and target is None and not re.search(r"\bregions?\b", text, re.IGNORECASE):
        return None  # a database or appliance failover, not a region's
    if not verb.at_start and not (source and target):
        return None
    built = Built()
    for param, value, words in (("from_region", source, "from"), ("to_region", target, "to")):
        if value is None:
            built.errors.append(f"regional_failover needs {param} (like '{words} us-east-1')")
            continue
        built.params[param] = value
        if not REGION_RE.match(value):
            built.errors.append(f"{param} '{value}' is not an AWS region name (like us-west-2)")
    if source is not None and source == target:
        built.errors.append(f"from_region and to_region are both {source}: fail over to another region")
    zone = read_zone(text)
    if zone is None:
        built.errors.append(
            "regional_failover needs the Route 53 hosted zone id (like 'in zone Z0123456789ABC')"
        )
    else:
        built.params["hosted_zone_id"] = zone.upper()
        built.names.append(zone.upper())
    names = [d for d in domain_tokens(text) if not d.lower().startswith("core-network")]
    if not names:
        built.errors.append("regional_failover needs the record name (like 'for api.example.com')")
    else:
        record, problem = _problem("record_name", normalise_domain, names[0])
        built.params["record_name"] = record
        built.names += [names[0], record]
        built.errors += [problem] if problem else []
        _one(built, "regional_failover", "record name", names)
    return built
