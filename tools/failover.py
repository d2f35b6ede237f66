"""regional_failover: move a name's traffic from one region to another with Route 53 weighted records.

Each region serves the name through a weighted record set whose SetIdentifier is the region name. A
failover sets ``to_region``'s weight to 100 and ``from_region``'s to 0, for every record type the name has
in both (A and AAAA, say); other regions' records are left alone. The prior weights are recorded, and
rollback puts them back. Route 53 is global: ``region`` is only where its API is called.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from tools.base import (
    REGION_RE,
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.context import aws_errors
from tools.firewall_domains import normalise_domain
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

HOSTED_ZONE_ID_RE = re.compile(r"^[A-Z0-9]{1,32}$")
ACTIVE_WEIGHT = 100
DRAINED_WEIGHT = 0


class RegionalFailoverArgs(RegionArgs):
    from_region: str = Field(description="The failing region, whose weight goes to 0, like us-east-1")
    to_region: str = Field(description="The region that takes the traffic, whose weight goes to 100")
    hosted_zone_id: str = Field(description="Route 53 hosted zone id, like Z0123456789ABCDEFGHIJ")
    record_name: str = Field(description="The weighted record's name, like api.example.com")

    @field_validator("from_region", "to_region")
    @classmethod
    def _valid_regions(cls, value: str) -> str:
        return check_match(REGION_RE, value, f"'{value}' is not an AWS region name (like us-west-2)")

    @field_validator("hosted_zone_id")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        zone = value.removeprefix("/hostedzone/").upper()
        return check_match(HOSTED_ZONE_ID_RE, zone, f"'{value}' is not a Route 53 hosted zone id")

    @field_validator("record_name")
    @classmethod
    def _valid_record_name(cls, value: str) -> str:
        name = normalise_domain(value)
        if name.startswith("."):
            raise ValueError(f"'{value}' is not a record name: give the full name, like api.example.com")
        return name

    @model_validator(mode="after")
    def _two_regions(self) -> Self:
        if self.from_region == self.to_region:
            raise ValueError(
                f"from_region and to_region are both {self.from_region}: fail over to another region"
            )
        return self


def _fqdn(args: RegionalFailoverArgs) -> str:
    return args.record_name + "."


def _client(clients: AwsClients, args: RegionalFailoverArgs) -> Any:
    return clients.client("route53", args.region)


def weighted_records(clients: AwsClients, args: RegionalFailoverArgs) -> list[JsonDict]:
    """The weighted record sets of the name whose SetIdentifier is from_region or to_region."""
    route53 = _client(clients, args)
    found: list[JsonDict] = []
    request: JsonDict = {"HostedZoneId": args.hosted_zone_id, "StartRecordName": _fqdn(args)}
    with aws_errors(f"read {args.record_name} in hosted zone {args.hosted_zone_id}"):
        while True:
            page = route53.list_resource_record_sets(**request)
            sets = page["ResourceRecordSets"]
            found += [s for s in sets if str(s["Name"]).lower() == _fqdn(args)]
            past_name = any(str(s["Name"]).lower() != _fqdn(args) for s in sets)
            if past_name or not page.get("IsTruncated"):
                break
            request = {
                "HostedZoneId": args.hosted_zone_id,
                "StartRecordName": page["NextRecordName"],
                "StartRecordType": page["NextRecordType"],
                **(
                    {"StartRecordIdentifier": page["NextRecordIdentifier"]}
                    if "NextRecordIdentifier" in page
                    else {}
                ),
            }
    regions = {args.from_region, args.to_region}
    return [s for s in found if "Weight" in s and s.get("SetIdentifier") in regions]


def _pairs(clients: AwsClients, args: RegionalFailoverArgs) -> list[JsonDict]:
    """The record sets to change: for every record type that has both regions. ToolError when none has."""
    records = weighted_records(clients, args)
    by_type: dict[str, set[str]] = {}
    for record in records:
        by_type.setdefault(str(record["Type"]), set()).add(str(record["SetIdentifier"]))
    both = {kind for kind, regions in by_type.items() if regions == {args.from_region, args.to_region}}
    if not both:
        have = ", ".join(sorted(f"{s['Type']} {s['SetIdentifier']}" for s in records)) or "none"
        raise ToolError(
            f"{args.record_name} has no weighted records for both {args.from_region} and {args.to_region} "
            f"in hosted zone {args.hosted_zone_id} (found: {have})."
        )
    return [record for record in records if record["Type"] in both]


def _target_weight(args: RegionalFailoverArgs, record: JsonDict) -> int:
    return ACTIVE_WEIGHT if record["SetIdentifier"] == args.to_region else DRAINED_WEIGHT


def _upsert(clients: AwsClients, args: RegionalFailoverArgs, records: list[JsonDict], comment: str) -> str:
    changes = [{"Action": "UPSERT", "ResourceRecordSet": record} for record in records]
    with aws_errors(f"change the weights of {args.record_name}"):
        reply = _client(clients, args).change_resource_record_sets(
            HostedZoneId=args.hosted_zone_id, ChangeBatch={"Comment": comment[:256], "Changes": changes}
        )
    return str(reply["ChangeInfo"]["Id"])


def _weights(records: list[JsonDict]) -> list[JsonDict]:
    return [
        {"type": r["Type"], "set_identifier": r["SetIdentifier"], "weight": int(r["Weight"])} for r in records
    ]


def _run_failover(clients: AwsClients, args: RegionalFailoverArgs, ctx: ExecContext) -> JsonDict:
    records = _pairs(clients, args)
    record: JsonDict = {
        "hosted_zone_id": args.hosted_zone_id,
        "record_name": args.record_name,
        "from_region": args.from_region,
        "to_region": args.to_region,
        "prior_weights": _weights(records),
    }
    wanted = []
    for current in records:
        if int(current["Weight"]) != _target_weight(args, current):
            wanted.append({**copy.deepcopy(current), "Weight": _target_weight(args, current)})
    if not wanted:
        return {**record, "changed": False}
    if ctx.dry_run:  # Route 53 has no DryRun: say what would change
        return {"dry_run": True, **record, "would_set": _weights(wanted)}
    comment = (
        f"opsbot {ctx.incident_id}: fail over {args.record_name} from {args.from_region} to {args.to_region}"
    )
    change_id = _upsert(clients, args, wanted, comment)
    return {**record, "changed": True, "change_id": change_id, "new_weights": _weights(wanted)}


@skip_verify_after_dry_run
def _verify_failover(clients: AwsClients, args: RegionalFailoverArgs, record: JsonDict) -> VerifyResult:
    records = _pairs(clients, args)
    ok = all(int(r["Weight"]) == _target_weight(args, r) for r in records)
    weights = ", ".join(f"{r['SetIdentifier']} {r['Type']}={r['Weight']}" for r in records)
    return VerifyResult(ok=ok, detail=f"{args.record_name} weights: {weights}.")


@skip_rollback_after_dry_run
def _rollback_failover(
    clients: AwsClients, args: RegionalFailoverArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    if not record.get("changed"):
        return {"restored": False, "detail": "The weights were already as asked; nothing to restore."}
    prior = {(w["type"], w["set_identifier"]): int(w["weight"]) for w in record.get("prior_weights", [])}
    restore = [
        {**copy.deepcopy(current), "Weight": prior[(current["Type"], current["SetIdentifier"])]}
        for current in _pairs(clients, args)
        if (current["Type"], current["SetIdentifier"]) in prior
        and int(current["Weight"]) != prior[(current["Type"], current["SetIdentifier"])]
    ]
    if not restore:
        return {"restored": False, "detail": "The weights already match what they were before."}
    if ctx.dry_run:
        return {"dry_run": True, "would_restore": _weights(restore)}
    comment = f"opsbot {ctx.incident_id}: undo the failover of {args.record_name}"
    return {
        "restored": True,
        "change_id": _upsert(clients, args, restore, comment),
        "weights": _weights(restore),
    }


def _failover_resources(args: RegionalFailoverArgs) -> list[str]:
    return [args.hosted_zone_id, args.record_name]


regional_failover = ToolSpec[RegionalFailoverArgs](
    name="regional_failover",
    description=(
        "Fail a DNS name over from one AWS region to another: set the Route 53 weighted record of to_region "
        "to weight 100 and from_region's to 0 (records whose SetIdentifier is the region name)."
    ),
    args=RegionalFailoverArgs,
    risk="write",
    run=_run_failover,
    verify=_verify_failover,
    rollback=_rollback_failover,
    resources=_failover_resources,
    effect="Clients resolving the name are sent to to_region; from_region gets no new traffic.",
    rollback_summary="Put the recorded weights back on both regions' records.",
)
