"""IPv4 CIDR arguments: the normal form of an address or network, and the args of block_ip and unblock_ip."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from tools.base import VPC_ID_RE, RegionArgs, check_match

MIN_BLOCK_PREFIX = 8


def normalise_ipv4_cidr(value: str) -> str:
    """'203.0.113.7' -> '203.0.113.7/32'; a network keeps its prefix; host bits are refused."""
    text = value.strip()
    if "/" not in text:
        text = f"{text}/32"
    try:
        loose = ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"'{value}' is not an IPv4 address or network (like 203.0.113.7 or 203.0.113.0/24)"
        ) from None
    if str(loose) != text:
        raise ValueError(f"'{value}' has host bits set; did you mean {loose} or {loose.network_address}/32?")
    return str(loose)


class CidrArgs(RegionArgs):
    cidr: str = Field(description="IPv4 address or CIDR, like 203.0.113.7 or 203.0.113.0/24")
    vpc_id: str | None = Field(
        default=None, description="Limit to this VPC; all VPCs in the region if omitted"
    )

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return normalise_ipv4_cidr(value)

    @field_validator("vpc_id")
    @classmethod
    def _valid_vpc_id(cls, value: str | None) -> str | None:
        if value is None:
            return value
        return check_match(VPC_ID_RE, value, f"'{value}' is not a VPC id (vpc- and 8 or 17 hex digits)")


class BlockIpArgs(CidrArgs):
    @field_validator("cidr")
    @classmethod
    def _not_too_broad(cls, value: str) -> str:
        if ipaddress.IPv4Network(value).prefixlen < MIN_BLOCK_PREFIX:
            raise ValueError(
                f"'{value}' is too broad to block (the prefix must be /{MIN_BLOCK_PREFIX} or longer)"
            )
        return value


def cidr_resources(args: CidrArgs) -> list[str]:
    return [args.cidr] + ([args.vpc_id] if args.vpc_id else [])
