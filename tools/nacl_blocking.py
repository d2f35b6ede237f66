"""block_ip and unblock_ip: DENY entries for a CIDR in network ACLs, kept in step with the WAF IP set."""

from __future__ import annotations

from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from tools.aws_failures import aws_errors_allowing, undo_completed
from tools.base import AwsClients, ExecContext, JsonDict, ToolError, ToolSpec, VerifyResult
from tools.cidr_args import BlockIpArgs, CidrArgs, cidr_resources
from tools.context import aws_errors, describe_error
from tools.nacl_entries import (
    create_deny_entry,
    delete_entry,
    deny_entries_present,
    entry_ref,
    is_deny_for,
    lowest_free_rule,
    network_acls,
    read_acl,
    shadowing_allows,
)
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run
from tools.waf import waf_change, waf_changed_by_run, waf_has, waf_record, waf_target

EntryStep = Callable[[JsonDict], None]


def _change_entries_then_waf(
    entries: list[JsonDict], apply: EntryStep, undo: EntryStep, change_waf: Callable[[], bool], doing: str
) -> tuple[list[JsonDict], bool]:
    """Apply each ACL entry change, then the WAF change; if any fails, undo the entry changes and say so.

    Returns the entries changed and whether the WAF IP set changed.
    """
    done: list[JsonDict] = []
    try:
        for entry in entries:
            apply(entry)
            done.append(entry)
        waf_changed = change_waf()
    except (ClientError, BotoCoreError, ToolError) as exc:
        undo_completed(done, undo)
        reason = str(exc) if isinstance(exc, ToolError) else describe_error(exc)
        raise ToolError(f"{doing} failed and was undone: {reason.rstrip('.')}.") from exc
    return done, waf_changed


# --- block_ip ---------------------------------------------------------------------------------


def _run_block(clients: AwsClients, args: BlockIpArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    waf = waf_target(ctx.waf_ip_set)
    to_add: list[JsonDict] = []
    already: list[JsonDict] = []
    for acl in network_acls(ec2, args):
        for egress in (False, True):
            existing = [e for e in acl.get("Entries", []) if is_deny_for(e, args.cidr, egress)]
            if existing:
                already.append(entry_ref(acl, int(existing[0]["RuleNumber"]), egress))
                continue
            number = lowest_free_rule(acl, egress)
            shadowed = shadowing_allows(acl, args.cidr, egress, number)
            to_add.append({**entry_ref(acl, number, egress), "shadowed_by": shadowed})
    record: JsonDict = {"cidr": args.cidr, "vpc_id": args.vpc_id, "already_blocked": already}
    if ctx.dry_run:  # EC2 has no usable DryRun for ACL entries here: the plan comes from reads only
        would_waf = waf is not None and not waf_has(clients, waf, args.region, args.cidr)
        return {
            "dry_run": True,
            **record,
            "would_add": to_add,
            "waf": waf_record(waf, would_change=would_waf),
        }
    added, waf_changed = _change_entries_then_waf(
        to_add,
        apply=lambda entry: create_deny_entry(ec2, entry, args.cidr),
        undo=lambda entry: delete_entry(ec2, entry),
        change_waf=lambda: waf is not None and waf_change(clients, waf, args.region, args.cidr, add=True),
        doing=f"Blocking {args.cidr}",
    )
    return {**record, "entries": added, "waf": waf_record(waf, changed=waf_changed)}


@skip_verify_after_dry_run
def _verify_block(clients: AwsClients, args: BlockIpArgs, record: JsonDict) -> VerifyResult:
    ec2 = clients.client("ec2", args.region)
    expected = record["entries"] + record["already_blocked"]
    missing = len(expected) - len(deny_entries_present(ec2, expected, args.cidr))
    problems = [f"{missing} DENY entr{'y is' if missing == 1 else 'ies are'} missing"] if missing else []
    shadowed = [f"{e['nacl_id']} #{e['rule_number']}" for e in record["entries"] if e.get("shadowed_by")]
    if shadowed:
        problems.append(f"earlier ALLOW rules let the traffic through first at {', '.join(shadowed)}")
    waf = record.get("waf")
    if waf and not waf_has(clients, waf, args.region, args.cidr):
        problems.append(f"WAF IP set {waf['name']} does not hold it")
    if problems:
        return VerifyResult(ok=False, detail=f"{args.cidr} is not fully blocked: {'; '.join(problems)}.")
    where = f" and WAF IP set {waf['name']}" if waf else ""
    return VerifyResult(
        ok=True, detail=f"{args.cidr} is denied by {len(expected)} network ACL entries{where}."
    )


@skip_rollback_after_dry_run
def _rollback_block(clients: AwsClients, args: BlockIpArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    ours = deny_entries_present(ec2, record["entries"], args.cidr)  # never delete a rule someone reused
    waf, waf_changed = waf_changed_by_run(record)
    if ctx.dry_run:
        return {"dry_run": True, "would_remove": ours, "would_remove_from_waf": waf_changed}
    with aws_errors(f"remove the DENY entries for {args.cidr}"):
        for entry in ours:
            delete_entry(ec2, entry)
    removed_from_waf = (
        waf is not None and waf_changed and waf_change(clients, waf, args.region, args.cidr, add=False)
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
    resources=cidr_resources,
    effect="Traffic to and from the CIDR is dropped at the subnet boundary (and by WAF if configured).",
    rollback_summary="Remove exactly the DENY entries (and WAF address) this action added.",
)


# --- unblock_ip -------------------------------------------------------------------------------


def _run_unblock(clients: AwsClients, args: CidrArgs, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    waf = waf_target(ctx.waf_ip_set)
    found = [
        {
            **entry_ref(acl, int(entry["RuleNumber"]), bool(entry["Egress"])),
            "protocol": str(entry.get("Protocol", "-1")),
            "port_range": entry.get("PortRange"),
            "icmp_type_code": entry.get("IcmpTypeCode"),
        }
        for acl in network_acls(ec2, args)
        for entry in acl.get("Entries", [])
        if is_deny_for(entry, args.cidr, bool(entry["Egress"]))
    ]
    in_waf = waf is not None and waf_has(clients, waf, args.region, args.cidr)
    record: JsonDict = {"cidr": args.cidr, "vpc_id": args.vpc_id}
    if ctx.dry_run:
        return {"dry_run": True, **record, "would_remove": found, "waf": waf_record(waf, would_change=in_waf)}
    removed, waf_changed = _change_entries_then_waf(
        found,
        apply=lambda entry: delete_entry(ec2, entry),
        undo=lambda entry: create_deny_entry(ec2, entry, args.cidr),
        change_waf=lambda: (
            waf is not None and in_waf and waf_change(clients, waf, args.region, args.cidr, add=False)
        ),
        doing=f"Unblocking {args.cidr}",
    )
    note = "" if removed or waf_changed else f"{args.cidr} was not blocked; nothing changed."
    return {**record, "removed": removed, "waf": waf_record(waf, changed=waf_changed), "note": note}


@skip_verify_after_dry_run
def _verify_unblock(clients: AwsClients, args: CidrArgs, record: JsonDict) -> VerifyResult:
    ec2 = clients.client("ec2", args.region)
    problems: list[str] = []
    for acl_id in sorted({entry["nacl_id"] for entry in record["removed"]}):
        acl = read_acl(ec2, acl_id) or {}
        if any(is_deny_for(e, args.cidr, bool(e["Egress"])) for e in acl.get("Entries", [])):
            problems.append(f"{acl_id} still denies it")
    waf = record.get("waf")
    if waf and waf_has(clients, waf, args.region, args.cidr):
        problems.append(f"WAF IP set {waf['name']} still holds it")
    if problems:
        return VerifyResult(ok=False, detail=f"{args.cidr} is still blocked: {'; '.join(problems)}.")
    return VerifyResult(ok=True, detail=f"No DENY rule for {args.cidr} is left where opsbot removed them.")


@skip_rollback_after_dry_run
def _rollback_unblock(clients: AwsClients, args: CidrArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    ec2 = clients.client("ec2", args.region)
    waf, waf_changed = waf_changed_by_run(record)
    if ctx.dry_run:
        return {"dry_run": True, "would_restore": record["removed"], "would_restore_in_waf": waf_changed}
    restored: list[JsonDict] = []
    conflicts: list[str] = []
    for entry in record["removed"]:
        with aws_errors_allowing(
            f"restore a DENY entry for {args.cidr}", "NetworkAclEntryAlreadyExists"
        ) as taken:
            create_deny_entry(ec2, entry, args.cidr)
        if taken.code is None:
            restored.append(entry)
        else:
            conflicts.append(f"{entry['nacl_id']} #{entry['rule_number']}")
    restored_in_waf = (
        waf is not None and waf_changed and waf_change(clients, waf, args.region, args.cidr, add=True)
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
    resources=cidr_resources,
    effect="Traffic to and from the CIDR is no longer denied by network ACLs or WAF.",
    rollback_summary="Put the removed DENY entries back at the same rule numbers (and the WAF address).",
)
