"""Network actions: block or unblock a CIDR in network ACLs (and a WAF IP set), allow egress."""

from __future__ import annotations

import ipaddress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from tools.base import (
    SECURITY_GROUP_ID_RE,
    VPC_ID_RE,
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
)
from tools.context import (
    DRY_RUN_VERIFIED,
    aws_errors,
    describe_error,
    dry_run_check,
    error_code,
    nothing_to_roll_back,
)

MAX_RULE_NUMBER = 32766  # 32767 is the ACL's built-in catch-all
MIN_BLOCK_PREFIX = 8
WAF_RETRIES = 3


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
        if value is not None and not VPC_ID_RE.match(value):
            raise ValueError(f"'{value}' is not a VPC id (vpc- and 8 or 17 hex digits)")
        return value


class BlockIpArgs(CidrArgs):
    @field_validator("cidr")
    @classmethod
    def _not_too_broad(cls, value: str) -> str:
        if ipaddress.IPv4Network(value).prefixlen < MIN_BLOCK_PREFIX:
            raise ValueError(
                f"'{value}' is too broad to block (the prefix must be /{MIN_BLOCK_PREFIX} or longer)"
            )
        return value


def _cidr_resources(args: CidrArgs) -> list[str]:
    return [args.cidr] + ([args.vpc_id] if args.vpc_id else [])


# --- network ACL helpers ----------------------------------------------------------------------


def _network_acls(ec2: Any, args: CidrArgs) -> list[JsonDict]:
    filters: list[JsonDict] = []
    if args.vpc_id:
        try:
            ec2.describe_vpcs(VpcIds=[args.vpc_id])
        except ClientError as exc:
            if error_code(exc) == "InvalidVpcID.NotFound":
                raise ToolError(f"VPC {args.vpc_id} was not found in {args.region}.") from exc
            raise ToolError(f"AWS refused to describe VPC {args.vpc_id}: {describe_error(exc)}.") from exc
        filters = [{"Name": "vpc-id", "Values": [args.vpc_id]}]
    with aws_errors(f"list the network ACLs in {args.vpc_id or args.region}"):
        pages = ec2.get_paginator("describe_network_acls").paginate(Filters=filters)
        acls = [dict(acl) for page in pages for acl in page.get("NetworkAcls", [])]
    if not acls:
        raise ToolError(f"No network ACLs were found in {args.vpc_id or args.region}.")
    return sorted(acls, key=lambda acl: str(acl["NetworkAclId"]))


def _read_acl(ec2: Any, acl_id: str) -> JsonDict | None:
    try:
        acls = ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"]
    except ClientError as exc:
        if error_code(exc) == "InvalidNetworkAclID.NotFound":
            return None
        raise ToolError(f"AWS refused to describe network ACL {acl_id}: {describe_error(exc)}.") from exc
    return dict(acls[0]) if acls else None


def _is_deny_for(entry: JsonDict, cidr: str, egress: bool) -> bool:
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


def _lowest_free_rule(acl: JsonDict, egress: bool) -> int:
    used = {entry["RuleNumber"] for entry in acl.get("Entries", []) if bool(entry["Egress"]) == egress}
    number = 1
    while number in used:
        number += 1
    if number > MAX_RULE_NUMBER:
        raise ToolError(f"Network ACL {acl['NetworkAclId']} has no free rule number left.")
    return number


def _shadowing_allows(acl: JsonDict, cidr: str, egress: bool, rule_number: int) -> list[int]:
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


def _entry_ref(acl: JsonDict, rule_number: int, egress: bool) -> JsonDict:
    return {
        "nacl_id": acl["NetworkAclId"],
        "vpc_id": acl["VpcId"],
        "rule_number": rule_number,
        "egress": egress,
    }


def _add_deny(ec2: Any, entry: JsonDict, cidr: str) -> None:
    ec2.create_network_acl_entry(
        NetworkAclId=entry["nacl_id"],
        RuleNumber=entry["rule_number"],
        Protocol="-1",
        RuleAction="deny",
        Egress=entry["egress"],
        CidrBlock=cidr,
    )


def _recreate_entry(ec2: Any, entry: JsonDict, cidr: str) -> None:
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


def _delete_entry(ec2: Any, entry: JsonDict) -> None:
    ec2.delete_network_acl_entry(
        NetworkAclId=entry["nacl_id"], RuleNumber=entry["rule_number"], Egress=entry["egress"]
    )


def _deny_entries_present(ec2: Any, entries: list[JsonDict], cidr: str) -> list[JsonDict]:
    """Which of ``entries`` still hold a DENY for ``cidr`` at their rule number."""
    acls: dict[str, JsonDict | None] = {}
    present: list[JsonDict] = []
    for entry in entries:
        if entry["nacl_id"] not in acls:
            acls[entry["nacl_id"]] = _read_acl(ec2, entry["nacl_id"])
        found = _entry_at(acls[entry["nacl_id"]], entry["rule_number"], entry["egress"])
        if found is not None and _is_deny_for(found, cidr, entry["egress"]):
            present.append(entry)
    return present


# --- WAF IP set helpers -----------------------------------------------------------------------


def _waf_target(ctx_waf: JsonDict | None) -> JsonDict | None:
    if not ctx_waf:
        return None
    missing = [key for key in ("name", "id", "scope") if not ctx_waf.get(key)]
    if missing:
        raise ToolError(f"The WAF IP set setting is missing {', '.join(missing)}.")
    return {"name": str(ctx_waf["name"]), "id": str(ctx_waf["id"]), "scope": str(ctx_waf["scope"])}


def _waf_client(clients: AwsClients, waf: JsonDict, region: str) -> Any:
    return clients.client("wafv2", "us-east-1" if waf["scope"] == "CLOUDFRONT" else region)


def _waf_addresses(clients: AwsClients, waf: JsonDict, region: str) -> tuple[list[str], str]:
    client = _waf_client(clients, waf, region)
    with aws_errors(f"read WAF IP set {waf['name']}"):
        got = client.get_ip_set(Name=waf["name"], Scope=waf["scope"], Id=waf["id"])
    return [str(address) for address in got["IPSet"]["Addresses"]], str(got["LockToken"])


def _waf_change(clients: AwsClients, waf: JsonDict, region: str, cidr: str, add: bool) -> bool:
    """Add or remove ``cidr`` in the IP set; True when the set changed."""
    client = _waf_client(clients, waf, region)
    for _attempt in range(WAF_RETRIES):
        addresses, token = _waf_addresses(clients, waf, region)
        if (cidr in addresses) == add:
            return False
        wanted = [*addresses, cidr] if add else [address for address in addresses if address != cidr]
        try:
            client.update_ip_set(
                Name=waf["name"], Scope=waf["scope"], Id=waf["id"], Addresses=wanted, LockToken=token
            )
        except ClientError as exc:
            if error_code(exc) == "WAFOptimisticLockException":
                continue
            raise ToolError(
                f"AWS refused to change WAF IP set {waf['name']}: {describe_error(exc)}."
            ) from exc
        return True
    raise ToolError(f"WAF IP set {waf['name']} kept changing while opsbot updated it; try again.")


def _waf_has(clients: AwsClients, waf: JsonDict, region: str, cidr: str) -> bool:
    return cidr in _waf_addresses(clients, waf, region)[0]


# --- block_ip ---------------------------------------------------------------------------------


def _run_block(clients: AwsClients, args: BlockIpArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    waf = _waf_target(ctx.waf_ip_set)
    to_add: list[JsonDict] = []
    already: list[JsonDict] = []
    for acl in _network_acls(ec2, args):
        for egress in (False, True):
            existing = [e for e in acl.get("Entries", []) if _is_deny_for(e, args.cidr, egress)]
            if existing:
                already.append(_entry_ref(acl, int(existing[0]["RuleNumber"]), egress))
                continue
            number = _lowest_free_rule(acl, egress)
            shadowed = _shadowing_allows(acl, args.cidr, egress, number)
            to_add.append({**_entry_ref(acl, number, egress), "shadowed_by": shadowed})
    record: JsonDict = {"cidr": args.cidr, "vpc_id": args.vpc_id, "already_blocked": already}
    if ctx.dry_run:  # EC2 has no usable DryRun for ACL entries here: the plan comes from reads only
        would_waf = waf is not None and not _waf_has(clients, waf, args.region, args.cidr)
        return {
            "dry_run": True,
            **record,
            "would_add": to_add,
            "waf": waf and {**waf, "would_change": would_waf},
        }
    added: list[JsonDict] = []
    try:
        for entry in to_add:
            _add_deny(ec2, entry, args.cidr)
            added.append(entry)
        waf_changed = waf is not None and _waf_change(clients, waf, args.region, args.cidr, add=True)
    except (ClientError, BotoCoreError, ToolError) as exc:
        for entry in added:
            try:
                _delete_entry(ec2, entry)
            except (ClientError, BotoCoreError):
                continue
        reason = str(exc) if isinstance(exc, ToolError) else describe_error(exc)
        raise ToolError(f"Blocking {args.cidr} failed and was undone: {reason.rstrip('.')}.") from exc
    return {**record, "entries": added, "waf": waf and {**waf, "changed": waf_changed}}


def _verify_block(clients: AwsClients, args: BlockIpArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    ec2 = clients.client("ec2", args.region)
    expected = record["entries"] + record["already_blocked"]
    missing = len(expected) - len(_deny_entries_present(ec2, expected, args.cidr))
    problems = [f"{missing} DENY entr{'y is' if missing == 1 else 'ies are'} missing"] if missing else []
    shadowed = [f"{e['nacl_id']} #{e['rule_number']}" for e in record["entries"] if e.get("shadowed_by")]
    if shadowed:
        problems.append(f"earlier ALLOW rules let the traffic through first at {', '.join(shadowed)}")
    waf = record.get("waf")
    if waf and not _waf_has(clients, waf, args.region, args.cidr):
        problems.append(f"WAF IP set {waf['name']} does not hold it")
    if problems:
        return VerifyResult(ok=False, detail=f"{args.cidr} is not fully blocked: {'; '.join(problems)}.")
    where = f" and WAF IP set {waf['name']}" if waf else ""
    return VerifyResult(
        ok=True, detail=f"{args.cidr} is denied by {len(expected)} network ACL entries{where}."
    )


def _rollback_block(clients: AwsClients, args: BlockIpArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
    ec2 = clients.client("ec2", args.region)
    ours = _deny_entries_present(ec2, record["entries"], args.cidr)  # never delete a rule someone reused
    waf: JsonDict | None = record.get("waf")
    waf_changed = waf is not None and bool(waf.get("changed"))
    if ctx.dry_run:
        return {"dry_run": True, "would_remove": ours, "would_remove_from_waf": waf_changed}
    with aws_errors(f"remove the DENY entries for {args.cidr}"):
        for entry in ours:
            _delete_entry(ec2, entry)
    removed_from_waf = (
        waf is not None and waf_changed and _waf_change(clients, waf, args.region, args.cidr, add=False)
    )
    return {"removed": ours, "removed_from_waf": removed_from_waf}


block_ip = ToolSpec[BlockIpArgs](
    name="block_ip",
    description=(
        "Block an IPv4 address or CIDR with DENY rules (inbound and outbound, all protocols) in the "
        "network ACLs of one VPC or of every VPC in the region, and in the configured WAF IP set."
    ),
    args=BlockIpArgs,
    risk="write",
    run=_run_block,
    verify=_verify_block,
    rollback=_rollback_block,
    resources=_cidr_resources,
    effect="Traffic to and from the CIDR is dropped at the subnet boundary (and by WAF if configured).",
    rollback_summary="Remove exactly the DENY entries (and WAF address) this action added.",
)


# --- unblock_ip -------------------------------------------------------------------------------


def _run_unblock(clients: AwsClients, args: CidrArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    waf = _waf_target(ctx.waf_ip_set)
    found = [
        {
            **_entry_ref(acl, int(entry["RuleNumber"]), bool(entry["Egress"])),
            "protocol": str(entry.get("Protocol", "-1")),
            "port_range": entry.get("PortRange"),
            "icmp_type_code": entry.get("IcmpTypeCode"),
        }
        for acl in _network_acls(ec2, args)
        for entry in acl.get("Entries", [])
        if _is_deny_for(entry, args.cidr, bool(entry["Egress"]))
    ]
    in_waf = waf is not None and _waf_has(clients, waf, args.region, args.cidr)
    record: JsonDict = {"cidr": args.cidr, "vpc_id": args.vpc_id}
    if ctx.dry_run:
        return {
            "dry_run": True,
            **record,
            "would_remove": found,
            "waf": waf and {**waf, "would_change": in_waf},
        }
    removed: list[JsonDict] = []
    try:
        for entry in found:
            _delete_entry(ec2, entry)
            removed.append(entry)
        waf_changed = (
            waf is not None and in_waf and _waf_change(clients, waf, args.region, args.cidr, add=False)
        )
    except (ClientError, BotoCoreError, ToolError) as exc:
        for entry in removed:
            try:
                _recreate_entry(ec2, entry, args.cidr)
            except (ClientError, BotoCoreError):
                continue
        reason = str(exc) if isinstance(exc, ToolError) else describe_error(exc)
        raise ToolError(f"Unblocking {args.cidr} failed and was undone: {reason.rstrip('.')}.") from exc
    note = "" if removed or waf_changed else f"{args.cidr} was not blocked; nothing changed."
    return {**record, "removed": removed, "waf": waf and {**waf, "changed": waf_changed}, "note": note}


def _verify_unblock(clients: AwsClients, args: CidrArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    ec2 = clients.client("ec2", args.region)
    problems: list[str] = []
    for acl_id in sorted({entry["nacl_id"] for entry in record["removed"]}):
        acl = _read_acl(ec2, acl_id) or {}
        if any(_is_deny_for(e, args.cidr, bool(e["Egress"])) for e in acl.get("Entries", [])):
            problems.append(f"{acl_id} still denies it")
    waf = record.get("waf")
    if waf and _waf_has(clients, waf, args.region, args.cidr):
        problems.append(f"WAF IP set {waf['name']} still holds it")
    if problems:
        return VerifyResult(ok=False, detail=f"{args.cidr} is still blocked: {'; '.join(problems)}.")
    return VerifyResult(ok=True, detail=f"No DENY rule for {args.cidr} is left where opsbot removed them.")


def _rollback_unblock(clients: AwsClients, args: CidrArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
    ec2 = clients.client("ec2", args.region)
    waf: JsonDict | None = record.get("waf")
    waf_changed = waf is not None and bool(waf.get("changed"))
    if ctx.dry_run:
        return {"dry_run": True, "would_restore": record["removed"], "would_restore_in_waf": waf_changed}
    restored: list[JsonDict] = []
    conflicts: list[str] = []
    for entry in record["removed"]:
        try:
            _recreate_entry(ec2, entry, args.cidr)
            restored.append(entry)
        except ClientError as exc:
            if error_code(exc) != "NetworkAclEntryAlreadyExists":
                raise ToolError(
                    f"AWS refused to restore a DENY entry for {args.cidr}: {describe_error(exc)}."
                ) from exc
            conflicts.append(f"{entry['nacl_id']} #{entry['rule_number']}")
    restored_in_waf = (
        waf is not None and waf_changed and _waf_change(clients, waf, args.region, args.cidr, add=True)
    )
    if conflicts:
        raise ToolError(
            f"Could not restore the DENY rules at {', '.join(conflicts)}: those numbers are now taken."
        )
    return {"restored": restored, "restored_in_waf": restored_in_waf}


unblock_ip = ToolSpec[CidrArgs](
    name="unblock_ip",
    description=(
        "Remove the DENY rules for an IPv4 address or CIDR from the network ACLs of one VPC or of every "
        "VPC in the region, and from the configured WAF IP set."
    ),
    args=CidrArgs,
    risk="write",
    run=_run_unblock,
    verify=_verify_unblock,
    rollback=_rollback_unblock,
    resources=_cidr_resources,
    effect="Traffic to and from the CIDR is no longer denied by network ACLs or WAF.",
    rollback_summary="Put the removed DENY entries back at the same rule numbers (and the WAF address).",
)


# --- allow_egress -----------------------------------------------------------------------------


class AllowEgressArgs(RegionArgs):
    group_id: str = Field(description="Security group id, like sg-0123456789abcdef0")
    cidr: str = Field(description="IPv4 destination address or CIDR")
    port: int = Field(ge=1, le=65535, description="TCP port")

    @field_validator("group_id")
    @classmethod
    def _valid_group_id(cls, value: str) -> str:
        if not SECURITY_GROUP_ID_RE.match(value):
            raise ValueError(f"'{value}' is not a security group id (sg- and 8 or 17 hex digits)")
        return value

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return normalise_ipv4_cidr(value)


def _egress_permission(args: AllowEgressArgs, description: str | None = None) -> JsonDict:
    ip_range: JsonDict = {"CidrIp": args.cidr}
    if description:
        ip_range["Description"] = description
    return {"IpProtocol": "tcp", "FromPort": args.port, "ToPort": args.port, "IpRanges": [ip_range]}


def _egress_rule_exists(clients: AwsClients, args: AllowEgressArgs) -> bool:
    ec2 = clients.client("ec2", args.region)
    try:
        group = ec2.describe_security_groups(GroupIds=[args.group_id])["SecurityGroups"][0]
    except ClientError as exc:
        if error_code(exc).startswith("InvalidGroup"):
            raise ToolError(f"Security group {args.group_id} was not found in {args.region}.") from exc
        raise ToolError(f"AWS refused to describe {args.group_id}: {describe_error(exc)}.") from exc
    return any(
        perm.get("IpProtocol") == "tcp"
        and perm.get("FromPort") == args.port
        and perm.get("ToPort") == args.port
        and any(r.get("CidrIp") == args.cidr for r in perm.get("IpRanges", []))
        for perm in group.get("IpPermissionsEgress", [])
    )


def _run_allow_egress(clients: AwsClients, args: AllowEgressArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    existed = _egress_rule_exists(clients, args)
    record: JsonDict = {
        "group_id": args.group_id,
        "cidr": args.cidr,
        "port": args.port,
        "already_existed": existed,
    }
    if existed:
        return {**record, "changed": False}
    permission = _egress_permission(args, f"opsbot {ctx.incident_id}"[:255])
    if ctx.dry_run:
        dry_run_check(
            ec2.authorize_security_group_egress,
            f"allow egress from {args.group_id}",
            GroupId=args.group_id,
            IpPermissions=[permission],
        )
        return {"dry_run": True, **record}
    try:
        ec2.authorize_security_group_egress(GroupId=args.group_id, IpPermissions=[permission])
    except ClientError as exc:
        if error_code(exc) != "InvalidPermission.Duplicate":
            raise ToolError(
                f"AWS refused to allow egress from {args.group_id}: {describe_error(exc)}."
            ) from exc
        return {**record, "already_existed": True, "changed": False}  # added concurrently
    return {**record, "changed": True}


def _verify_allow_egress(clients: AwsClients, args: AllowEgressArgs, record: JsonDict) -> VerifyResult:
    if record.get("dry_run"):
        return DRY_RUN_VERIFIED
    ok = _egress_rule_exists(clients, args)
    state = "allows" if ok else "does not allow"
    return VerifyResult(ok=ok, detail=f"{args.group_id} {state} TCP {args.port} out to {args.cidr}.")


def _rollback_allow_egress(
    clients: AwsClients, args: AllowEgressArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    skipped = nothing_to_roll_back(record)
    if skipped is not None:
        return skipped
    if not record.get("changed"):
        return {"revoked": False, "detail": "The rule was there before opsbot ran; it is kept."}
    ec2 = clients.client("ec2", args.region)
    if ctx.dry_run:
        dry_run_check(
            ec2.revoke_security_group_egress,
            f"revoke egress from {args.group_id}",
            GroupId=args.group_id,
            IpPermissions=[_egress_permission(args)],
        )
        return {"dry_run": True, "would_revoke": True}
    try:
        ec2.revoke_security_group_egress(GroupId=args.group_id, IpPermissions=[_egress_permission(args)])
    except ClientError as exc:
        if error_code(exc) != "InvalidPermission.NotFound":
            raise ToolError(
                f"AWS refused to revoke egress from {args.group_id}: {describe_error(exc)}."
            ) from exc
        return {"revoked": False, "detail": "The rule was already gone."}
    return {"revoked": True}


def _allow_egress_resources(args: AllowEgressArgs) -> list[str]:
    return [args.group_id, args.cidr]


allow_egress = ToolSpec[AllowEgressArgs](
    name="allow_egress",
    description="Allow outbound TCP traffic on one port from a security group to an IPv4 address or CIDR.",
    args=AllowEgressArgs,
    risk="write",
    run=_run_allow_egress,
    verify=_verify_allow_egress,
    rollback=_rollback_allow_egress,
    resources=_allow_egress_resources,
    effect="Members of the security group can open TCP connections to the CIDR on that port.",
    rollback_summary="Revoke the egress rule, unless it existed before opsbot ran.",
)

SPECS: tuple[ToolSpec[Any], ...] = (block_ip, unblock_ip, allow_egress)
