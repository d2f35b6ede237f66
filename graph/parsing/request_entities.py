"""The ids, addresses and names a chat request mentions, found by their shape alone."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graph.parsing.distinct import distinct

ACTION_ID_RE = re.compile(r"^act-[0-9a-z]{4,32}$")
EC2_RESOURCE_ID_RE = re.compile(
    r"^(?:i|sg|vpc|subnet|vol|snap|ami|eni|igw|nat|rtb|acl|eipalloc|tgw|vpce|pcx)-[0-9a-f]{8}(?:[0-9a-f]{9})?$"
)
CORE_NETWORK_ID_RE = re.compile(r"^core-network-[0-9a-f]{8,17}$")

INSTANCE_TOKEN_RE = re.compile(r"(?<![\w-])i-[0-9a-z]+(?![\w-])", re.IGNORECASE)
_SG_TOKEN_RE = re.compile(r"(?<![\w-])sg-[0-9a-z]+(?![\w-])", re.IGNORECASE)
_VPC_TOKEN_RE = re.compile(r"(?<![\w-])vpc-[0-9a-z]+(?![\w-])", re.IGNORECASE)
ACTION_TOKEN_RE = re.compile(r"(?<![\w-])act-[0-9a-z_]+(?![\w-])", re.IGNORECASE)
_OTHER_ID_TOKEN_RE = re.compile(
    r"(?<![\w-])(?:subnet|vol|snap|ami|eni|igw|nat|rtb|acl|eipalloc|tgw|vpce|pcx|core-network)-[0-9a-z]+(?![\w-])",
    re.IGNORECASE,
)
# The ends of a connection, in the order the text names them: instances, network interfaces, addresses.
ENDPOINT_TOKEN_RE = re.compile(
    r"(?<![\w-])(?:i|eni)-[0-9a-z]+(?![\w-])|(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?(?![\w/]|\.\d)",
    re.IGNORECASE,
)
_ARN_TOKEN_RE = re.compile(r"(?<![\w-])arn:aws[\w-]*:[^\s,]+")
_IPV4_TOKEN_RE = re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?(?![\w/]|\.\d)")
_IPV6_TOKEN_RE = re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:/\d{1,3})?(?![\w:])", re.I)
_ASG_TOKEN_RE = re.compile(r"(?<![\w.-])(?:[A-Za-z0-9][\w.-]*-asg(?:[-.][\w.-]+)?|asg-[\w.-]+)(?![\w-])")

IP_TARGET_RE = re.compile(
    r"(?:\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,3})?|(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:/\d{1,3})?)", re.I
)
ANY_ID_RE = re.compile(
    "|".join(
        p.pattern.replace("(?<![\\w-])", "").replace("(?![\\w-])", "")
        for p in (INSTANCE_TOKEN_RE, _SG_TOKEN_RE, _VPC_TOKEN_RE, ACTION_TOKEN_RE, _OTHER_ID_TOKEN_RE)
    )
    + "|"
    + IP_TARGET_RE.pattern
    + r"|arn:aws[\w-]*:\S+",
    re.IGNORECASE,
)


def normalise_id(token: str) -> str:
    """AWS and opsbot ids are lowercase: ``I-0ABC...`` is read as ``i-0abc...``; a bad id stays raw."""
    lowered = token.lower()
    valid = (
        EC2_RESOURCE_ID_RE.match(lowered) or ACTION_ID_RE.match(lowered) or CORE_NETWORK_ID_RE.match(lowered)
    )
    return lowered if valid else token


def _ip_tokens(text: str) -> list[str]:
    found = [m.group(0) for m in _IPV4_TOKEN_RE.finditer(text)]
    for match in _IPV6_TOKEN_RE.finditer(text):
        token = match.group(0)
        if token.count(":") == 7 or "::" in token:
            found.append(token.lower())
    return distinct(found)


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
            return distinct([normalise_id(m.group(0)) for m in pattern.finditer(text)])

        return cls(
            instances=ids(INSTANCE_TOKEN_RE),
            ips=_ip_tokens(text),
            security_groups=ids(_SG_TOKEN_RE),
            vpcs=ids(_VPC_TOKEN_RE),
            action_ids=ids(ACTION_TOKEN_RE),
            other_ids=ids(_OTHER_ID_TOKEN_RE) + distinct([m.group(0) for m in _ARN_TOKEN_RE.finditer(text)]),
            asg_names=distinct([m.group(0) for m in _ASG_TOKEN_RE.finditer(text)]),
        )

    def any_ids(self) -> list[str]:
        return self.instances + self.security_groups + self.vpcs + self.ips + self.action_ids + self.other_ids
