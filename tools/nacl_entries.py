"""Network ACL entries as block_ip and unblock_ip see them: find the ACLs, read, add and remove DENY entries.

An entry reference (``entry_ref``) is the JSON a run record keeps: ACL id, VPC id, rule number, direction.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tools.aws_failures import aws_errors_allowing, not_found_or_refused
from tools.base import JsonDict, ToolError
from tools.cidr_args import CidrArgs
from tools.context import aws_errors

MAX_RULE_NUMBER = 32766  # 32767 is the ACL's built-in catch-all


def network_acls(ec2: Any, args: CidrArgs) -> list[JsonDict]:
    """The network ACLs of ``args.vpc_id`` (or of the whole region), sorted by id; ToolError if none."""
    filters: list[JsonDict] = []
    if args.vpc_id:
        with not_found_or_refused(
            f"describe VPC {args.vpc_id}",
            not_found=f"VPC {args.vpc_id} was not found in {args.region}.",
            is_not_found=lambda code: code == "InvalidVpcID.NotFound",
        ):
            ec2.describe_vpcs(VpcIds=[args.vpc_id])
        filters = [{"Name": "vpc-id", "Values": [args.vpc_id]}]
    with aws_errors(f"list the network ACLs in {args.vpc_id or args.region}"):
        pages = ec2.get_paginator("describe_network_acls").paginate(Filters=filters)
        acls = [dict(acl) for page in pages for acl in page.get("NetworkAcls", [])]
    if not acls:
        raise ToolError(f"No network ACLs were found in {args.vpc_id or args.region}.")
    return sorted(acls, key=lambda acl: str(acl["NetworkAclId"]))


def read_acl(ec2: Any, acl_id: str) -> JsonDict | None:
    """One network ACL, or None when it no longer exists."""
    with aws_errors_allowing(f"describe network ACL {acl_id}", "InvalidNetworkAclID.NotFound") as missing:
        acls = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
    if missing.code is not None:
        return None
    return dict(acls[0]) if acls else None


def is_deny_for(entry: JsonDict, cidr: str, egress: bool) -> bool:
    return (
        entry.get("CidrBlock") == cidr
        and entry.get("RuleAction") == "deny"
        and bool(entry["Egress"]) == egress
    )


def _entry_at(acl: JsonDict | None, rule_number: int, egress: bool) -> JsonDict | None:
    for entry in (acl or {}).get("Entries", []):
        if entry["RuleNumber"] == rule_number and bool(entry["Egress"]) == egress:
            return dict(entry)
    return None


def lowest_free_rule(acl: JsonDict, egress: bool) -> int:
    used = {entry["RuleNumber"] for entry in acl.get("Entries", []) if bool(entry["Egress"]) == egress}
    number = 1
    while number in used:
        number += 1
    if number > MAX_RULE_NUMBER:
        raise ToolError(f"Network ACL {acl['NetworkAclId']} has no free rule number left.")
    return number


def shadowing_allows(acl: JsonDict, cidr: str, egress: bool, rule_number: int) -> list[int]:
    """Lower-numbered ALLOW rules that match (part of) the cidr first, so the deny would not apply."""
    target = ipaddress.IPv4Network(cidr)
    return sorted(
        entry["RuleNumber"]
        for entry in acl.get("Entries", [])
        if bool(entry["Egress"]) == egress
        and entry.get("RuleAction") == "allow"
        and entry["RuleNumber"] < rule_number
        and entry.get("CidrBlock")
        and ipaddress.IPv4Network(entry["CidrBlock"]).overlaps(target)
    )


def entry_ref(acl: JsonDict, rule_number: int, egress: bool) -> JsonDict:
    return {
        "nacl_id": acl["NetworkAclId"],
        "vpc_id": acl["VpcId"],
        "rule_number": rule_number,
        "egress": egress,
    }


def create_deny_entry(ec2: Any, entry: JsonDict, cidr: str) -> None:
    """Create the DENY entry ``entry`` refers to: all protocols unless it records a protocol and ports."""
    kwargs: JsonDict = {
        "NetworkAclId": entry["nacl_id"],
        "RuleNumber": entry["rule_number"],
        "Protocol": entry.get("protocol", "-1"),
        "RuleAction": "deny",
        "Egress": entry["egress"],
        "CidrBlock": cidr,
    }
    if entry.get("port_range"):
        kwargs["PortRange"] = entry["port_range"]
    if entry.get("icmp_type_code"):
        kwargs["IcmpTypeCode"] = entry["icmp_type_code"]
    ec2.create_network_acl_entry(**kwargs)


def delete_entry(ec2: Any, entry: JsonDict) -> None:
    ec2.delete_network_acl_entry(
        NetworkAclId=entry["nacl_id"], RuleNumber=entry["rule_number"], Egress=entry["egress"]
    )


def deny_entries_present(ec2: Any, entries: list[JsonDict], cidr: str) -> list[JsonDict]:
    """Which of ``entries`` still hold a DENY for ``cidr`` at their rule number."""
    acls: dict[str, JsonDict | None] = {}
    present: list[JsonDict] = []
    for entry in entries:
        if entry["nacl_id"] not in acls:
            acls[entry["nacl_id"]] = read_acl(ec2, entry["nacl_id"])
        found = _entry_at(acls[entry["nacl_id"]], entry["rule_number"], entry["egress"])
        if found is not None and is_deny_for(found, cidr, entry["egress"]):
            present.append(entry)
    return present
