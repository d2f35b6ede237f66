"""grant_vendor_access / revoke_vendor_access: time-boxed TCP ingress for a vendor on one security group.

A grant is one ingress rule whose description says whose it is and until when
(``opsbot vendor acme until 2027-01-15T10:00:00Z``). The expiry itself is kept in the coordination store
and acted on by ``runtime.vendor_expiry``; the description lets people (and the revoke) recognise the rule.
A revoke removes exactly the opsbot rules of that vendor, CIDR and port, by rule id, never another rule.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import Field, field_validator

from tools.aws_failures import aws_errors_allowing, not_found_or_refused
from tools.base import (
    SECURITY_GROUP_ID_RE,
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.cidr_args import normalise_ipv4_cidr
from tools.context import aws_errors, dry_run_check
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

MAX_HOURS = 72
# Security group rule descriptions allow only a few punctuation characters: keep vendor names plain.
VENDOR_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
DESCRIPTION_PREFIX = "opsbot vendor"


def vendor_description(vendor: str, until: datetime) -> str:
    return f"{DESCRIPTION_PREFIX} {vendor} until {until.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def is_vendor_rule(description: str, vendor: str) -> bool:
    return description.startswith(f"{DESCRIPTION_PREFIX} {vendor} until ")


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class VendorArgs(RegionArgs):
    vendor: str = Field(description="Vendor name, like acme (letters, digits, '.', '_' and '-')")
    cidr: str = Field(description="IPv4 address or CIDR the vendor connects from")
    port: int = Field(ge=1, le=65535, description="TCP port")
    security_group_id: str = Field(description="Security group id, like sg-0123456789abcdef0")

    @field_validator("vendor")
    @classmethod
    def _valid_vendor(cls, value: str) -> str:
        message = f"'{value}' is not a vendor name (letters, digits, '.', '_' and '-', at most 64)"
        return check_match(VENDOR_RE, value.lower(), message)

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        return normalise_ipv4_cidr(value)

    @field_validator("security_group_id")
    @classmethod
    def _valid_group_id(cls, value: str) -> str:
        message = f"'{value}' is not a security group id (sg- and 8 or 17 hex digits)"
        return check_match(SECURITY_GROUP_ID_RE, value, message)


class GrantVendorAccessArgs(VendorArgs):
    hours: int = Field(ge=1, le=MAX_HOURS, description=f"How long the access lasts, 1 to {MAX_HOURS} hours")


class RevokeVendorAccessArgs(VendorArgs):
    pass


def ingress_rules(clients: AwsClients, args: VendorArgs) -> list[JsonDict]:
    """The group's TCP ingress rules for exactly this CIDR and port."""
    ec2 = clients.client("ec2", args.region)
    with (
        aws_errors(f"describe {args.security_group_id}"),
        not_found_or_refused(
            f"describe {args.security_group_id}",
            not_found=f"Security group {args.security_group_id} was not found in {args.region}.",
            is_not_found=lambda code: code.startswith("InvalidGroup"),
        ),
    ):
        ec2.describe_security_groups(GroupIds=[args.security_group_id])  # a missing group says so plainly
        paginator = ec2.get_paginator("describe_security_group_rules")
        pages = paginator.paginate(Filters=[{"Name": "group-id", "Values": [args.security_group_id]}])
        rules: list[JsonDict] = [rule for page in pages for rule in page["SecurityGroupRules"]]
    return [
        rule
        for rule in rules
        if not rule.get("IsEgress")
        and rule.get("IpProtocol") == "tcp"
        and rule.get("FromPort") == args.port
        and rule.get("ToPort") == args.port
        and rule.get("CidrIpv4") == args.cidr
    ]


def vendor_rules(clients: AwsClients, args: VendorArgs) -> list[JsonDict]:
    """The opsbot grants of this vendor, CIDR and port on the group."""
    return [
        r for r in ingress_rules(clients, args) if is_vendor_rule(str(r.get("Description", "")), args.vendor)
    ]


def _permission(args: VendorArgs, description: str) -> JsonDict:
    return {
        "IpProtocol": "tcp",
        "FromPort": args.port,
        "ToPort": args.port,
        "IpRanges": [{"CidrIp": args.cidr, "Description": description}],
    }


# --- grant --------------------------------------------------------------------------------------------


def _run_grant(clients: AwsClients, args: GrantVendorAccessArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    existing = ingress_rules(clients, args)
    if existing:
        said = existing[0].get("Description") or "no description"
        raise ToolError(
            f"{args.security_group_id} already allows {args.cidr} on TCP {args.port} ({said}); "
            "opsbot grants only access that is not there yet, so nothing was changed."
        )
    until = now_utc() + timedelta(hours=args.hours)
    description = vendor_description(args.vendor, until)
    record: JsonDict = {
        "security_group_id": args.security_group_id,
        "vendor": args.vendor,
        "cidr": args.cidr,
        "port": args.port,
        "hours": args.hours,
        "description": description,
        "expires_at": until.timestamp(),
        "expires_at_iso": until.isoformat().replace("+00:00", "Z"),
    }
    permission = _permission(args, description)
    if ctx.dry_run:
        dry_run_check(
            ec2.authorize_security_group_ingress,
            f"grant {args.vendor} access to {args.security_group_id}",
            GroupId=args.security_group_id,
            IpPermissions=[permission],
        )
        return {"dry_run": True, **record}
    with aws_errors(f"grant {args.vendor} access to {args.security_group_id}"):
        reply = ec2.authorize_security_group_ingress(
            GroupId=args.security_group_id, IpPermissions=[permission]
        )
    rule_ids = [str(rule["SecurityGroupRuleId"]) for rule in reply.get("SecurityGroupRules", [])]
    return {**record, "rule_ids": rule_ids, "changed": True}


@skip_verify_after_dry_run
def _verify_grant(clients: AwsClients, args: GrantVendorAccessArgs, record: JsonDict) -> VerifyResult:
    wanted = str(record.get("description", ""))
    ok = any(rule.get("Description") == wanted for rule in ingress_rules(clients, args))
    state = "allows" if ok else "does not allow"
    until = record.get("expires_at_iso", "?")
    return VerifyResult(
        ok=ok, detail=f"{args.security_group_id} {state} {args.cidr} on TCP {args.port} until {until}."
    )


def revoke_rules(clients: AwsClients, args: VendorArgs, rule_ids: list[str], dry_run: bool) -> list[str]:
    """Revoke the given rules one by one; the ids actually revoked (a rule already gone is skipped)."""
    ec2 = clients.client("ec2", args.region)
    doing = f"revoke {args.vendor}'s access to {args.security_group_id}"
    revoked: list[str] = []
    for rule_id in rule_ids:
        if dry_run:
            dry_run_check(
                ec2.revoke_security_group_ingress,
                doing,
                GroupId=args.security_group_id,
                SecurityGroupRuleIds=[rule_id],
            )
            revoked.append(rule_id)
            continue
        with aws_errors(doing), aws_errors_allowing(doing, "InvalidPermission.NotFound") as gone:
            ec2.revoke_security_group_ingress(GroupId=args.security_group_id, SecurityGroupRuleIds=[rule_id])
        if gone.code is None:
            revoked.append(rule_id)
    return revoked


@skip_rollback_after_dry_run
def _rollback_grant(
    clients: AwsClients, args: GrantVendorAccessArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    ours = [
        str(r["SecurityGroupRuleId"])
        for r in ingress_rules(clients, args)
        if r.get("Description") == record.get("description")
    ]
    revoked = revoke_rules(clients, args, ours, ctx.dry_run)
    if ctx.dry_run:
        return {"dry_run": True, "would_revoke": revoked}
    return {"revoked": revoked} if revoked else {"revoked": [], "detail": "The rule was already gone."}


def _resources(args: VendorArgs) -> list[str]:
    return [args.security_group_id, args.cidr]


grant_vendor_access = ToolSpec[GrantVendorAccessArgs](
    name="grant_vendor_access",
    description=(
        "Give a vendor time-boxed TCP access (1 to 72 hours) from an IPv4 address or CIDR to one port of "
        "a security group; opsbot revokes it automatically when the time is up."
    ),
    args=GrantVendorAccessArgs,
    risk="write",
    run=_run_grant,
    verify=_verify_grant,
    rollback=_rollback_grant,
    resources=_resources,
    effect="The vendor can connect from the CIDR to the port until the expiry, when opsbot revokes it.",
    rollback_summary="Revoke the vendor's rule now.",
)


# --- revoke -------------------------------------------------------------------------------------------


def _run_revoke(clients: AwsClients, args: RevokeVendorAccessArgs, ctx: ExecContext) -> JsonDict:
    rules = vendor_rules(clients, args)
    record: JsonDict = {
        "security_group_id": args.security_group_id,
        "vendor": args.vendor,
        "cidr": args.cidr,
        "port": args.port,
        "descriptions": [str(rule.get("Description", "")) for rule in rules],
    }
    revoked = revoke_rules(clients, args, [str(rule["SecurityGroupRuleId"]) for rule in rules], ctx.dry_run)
    if ctx.dry_run:
        return {"dry_run": True, **record, "would_revoke": revoked}
    detail = "" if revoked else f"{args.vendor} had no opsbot access there (already revoked or expired)."
    return {**record, "revoked_rule_ids": revoked, "changed": bool(revoked), "detail": detail}


@skip_verify_after_dry_run
def _verify_revoke(clients: AwsClients, args: RevokeVendorAccessArgs, record: JsonDict) -> VerifyResult:
    left = vendor_rules(clients, args)
    state = "still allows" if left else "no longer allows"
    return VerifyResult(
        ok=not left,
        detail=f"{args.security_group_id} {state} {args.vendor} ({args.cidr}) on TCP {args.port}.",
    )


revoke_vendor_access = ToolSpec[RevokeVendorAccessArgs](
    name="revoke_vendor_access",
    description="Revoke a vendor's opsbot-granted TCP access (its CIDR and port) on a security group now.",
    args=RevokeVendorAccessArgs,
    risk="write",
    run=_run_revoke,
    verify=_verify_revoke,
    resources=_resources,
    effect="The vendor can no longer connect from the CIDR to the port; other rules are untouched.",
    rollback_summary="not reversible: grant the access again (security approves it)",
)
