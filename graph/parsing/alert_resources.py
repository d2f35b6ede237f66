"""Resource names and addresses taken from an alert's structured fields (never from its free text)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TypedDict

from graph.parsing.distinct import distinct

_INSTANCE_LIKE_RE = re.compile(r"^i-[0-9A-Za-z]+$")
_INSTANCE_ARN_RE = re.compile(r"^arn:aws[\w-]*:ec2:[^:]*:[^:]*:instance/(i-[0-9A-Za-z]+)$")
_NOT_PUBLIC_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3", "::/128", "::1/128",
        "fc00::/7", "fe80::/10", "ff00::/8",
    )
]  # fmt: skip


def is_public_ip(value: str) -> bool:
    """Routable on the internet (documentation ranges count, as AWS sample findings use them)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not any(
        address in network for network in _NOT_PUBLIC_NETWORKS if network.version == address.version
    )


def host_cidr(ip: str) -> str:
    """The single-address network of ``ip`` as written: ``203.0.113.7/32`` or ``2001:db8::1/128``."""
    return f"{ip}/{ipaddress.ip_address(ip).max_prefixlen}"


class NamedResources(TypedDict):
    """The AlertFacts fields that name resources, ready to pass as keyword arguments."""

    instance_ids: list[str]
    asg_names: list[str]
    resource_ids: list[str]


@dataclass
class ResourceNames:
    """Structured resource names, sorted into the AlertFacts lists."""

    instances: list[str]
    asgs: list[str]
    others: list[str]

    @classmethod
    def empty(cls) -> ResourceNames:
        return cls([], [], [])

    def add(self, value: str) -> None:
        if not value:
            return
        arn_instance = _INSTANCE_ARN_RE.match(value)
        if arn_instance:
            self.instances.append(arn_instance.group(1))
            self.others.append(value)
        elif _INSTANCE_LIKE_RE.match(value):
            self.instances.append(value)
        else:
            self.others.append(value)

    def fields(self) -> NamedResources:
        taken = set(self.instances) | set(self.asgs)
        return NamedResources(
            instance_ids=distinct(self.instances),
            asg_names=distinct(self.asgs),
            resource_ids=[item for item in distinct(self.others) if item not in taken],
        )
