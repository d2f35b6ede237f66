"""create_segment and delete_segment: AWS Cloud WAN segments, which live in the core network policy document.

A change is a new policy version: read the live policy, add or remove the segment, put the document
(with the live version as ``LatestVersionId``, so a concurrent edit fails instead of being overwritten),
wait until its change set is ready, then execute it. opsbot refuses to build on a newer policy version
that is not live yet: executing it would also execute someone else's pending change.

Network Manager is a global service homed in us-west-2 (us-gov-west-1 in GovCloud); ``region`` only
picks the partition. moto does not implement it: the tests validate requests with botocore's Stubber.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from tools.base import (
    AwsClients,
    AwsUnreachable,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.context import describe_error, error_code
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

CORE_NETWORK_ID_RE = re.compile(r"^core-network-[0-9a-f]{8,17}$")
# Cloud WAN segment names: letters and digits, starting with a letter, at most 64 characters.
SEGMENT_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
HOME_REGION = "us-west-2"
GOV_HOME_REGION = "us-gov-west-1"
READY_POLLS = 30  # change-set generation usually takes seconds; give up after about a minute
READY_POLL_SECONDS = 2.0
# Keys of segment-actions, attachment-policies and segments that name segments.
SEGMENT_KEYS = frozenset({"segment", "segments", "share-with", "except", "allow-filter", "deny-filter"})

Edit = Callable[[JsonDict], JsonDict]


class SegmentArgs(RegionArgs):
    core_network_id: str = Field(description="Cloud WAN core network id, like core-network-0123456789abcdef0")
    segment: str = Field(description="Segment name: letters and digits, starting with a letter, at most 64")
    region: str = HOME_REGION

    @field_validator("core_network_id")
    @classmethod
    def _valid_core_network_id(cls, value: str) -> str:
        message = f"'{value}' is not a Cloud WAN core network id (core-network- and 8 to 17 hex digits)"
        return check_match(CORE_NETWORK_ID_RE, value, message)

    @field_validator("segment")
    @classmethod
    def _valid_segment(cls, value: str) -> str:
        message = (
            f"'{value}' is not a Cloud WAN segment name (letters and digits, starting with a letter, "
            "at most 64 characters)"
        )
        return check_match(SEGMENT_NAME_RE, value, message)


def home_region(region: str) -> str:
    """Where Network Manager's API lives for the partition of ``region``."""
    return GOV_HOME_REGION if region.startswith("us-gov-") else HOME_REGION


def _client(clients: AwsClients, args: SegmentArgs) -> Any:
    return clients.client("networkmanager", home_region(args.region))


def _call(doing: str, call: Callable[..., JsonDict], **kwargs: Any) -> JsonDict:
    try:
        return call(**kwargs)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise ToolError(f"Could not {doing}: {describe_error(exc)}.") from exc
        raise ToolError(f"AWS refused to {doing}: {describe_error(exc)}.") from exc
    except BotoCoreError as exc:
        raise AwsUnreachable(f"Could not reach AWS to {doing}: {describe_error(exc)}.") from exc


# --- reading the policy ---------------------------------------------------------------------------


def get_policy(nm: Any, core_network_id: str, **which: Any) -> JsonDict:
    """One policy version (``Alias="LIVE"``/``"LATEST"``, or ``PolicyVersionId=n``), its document parsed."""
    policy = _call(
        f"read the policy of core network {core_network_id}",
        nm.get_core_network_policy,
        CoreNetworkId=core_network_id,
        **which,
    )["CoreNetworkPolicy"]
    try:
        document = json.loads(policy.get("PolicyDocument") or "{}")
    except json.JSONDecodeError as exc:
        raise ToolError(f"The policy document of core network {core_network_id} is not JSON.") from exc
    return {
        "version": int(policy["PolicyVersionId"]),
        "state": str(policy.get("ChangeSetState", "")),
        "document": document,
        "errors": list(policy.get("PolicyErrors", [])),
    }


def _live_base(nm: Any, core_network_id: str) -> JsonDict:
    """The live policy, refusing when a newer version waits unexecuted (executing would apply it too)."""
    live = get_policy(nm, core_network_id, Alias="LIVE")
    latest = get_policy(nm, core_network_id, Alias="LATEST")
    if latest["version"] != live["version"]:
        raise ToolError(
            f"Core network {core_network_id} has policy version {latest['version']} ({latest['state']}) "
            f"newer than the live version {live['version']}; opsbot will not execute someone else's "
            "pending change, so finish or discard it first."
        )
    return live


def segments_of(document: JsonDict) -> list[JsonDict]:
    return [dict(segment) for segment in document.get("segments", []) if isinstance(segment, dict)]


def _find(document: JsonDict, name: str) -> tuple[int, JsonDict] | None:
    for index, segment in enumerate(segments_of(document)):
        if segment.get("name") == name:
            return index, segment
    return None


def _names_segment(value: Any, name: str) -> bool:
    """Whether ``value`` (from a segment-naming key, e.g. share-with) names the segment."""
    if isinstance(value, str):
        return value == name
    if isinstance(value, list):
        return any(_names_segment(item, name) for item in value)
    return _mentions(value, name)


def _mentions(value: Any, name: str) -> bool:
    """Whether any segment-naming key anywhere inside ``value`` names the segment."""
    if isinstance(value, dict):
        return any(
            _names_segment(item, name) if key in SEGMENT_KEYS else _mentions(item, name)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return any(_mentions(item, name) for item in value)
    return False


def segment_references(document: JsonDict, name: str) -> list[str]:
    """Where the policy still names the segment: segment actions, attachment policies, other segments'
    allow/deny filters. Deleting a segment still named there would break the policy."""
    found: list[str] = []
    for index, action in enumerate(document.get("segment-actions", []), start=1):
        if _mentions(action, name):
            found.append(f"segment action {index} ({action.get('action', 'unknown')})")
    for rule in document.get("attachment-policies", []):
        if _mentions(rule, name):
            found.append(f"attachment policy rule {rule.get('rule-number', '?')}")
    for segment in segments_of(document):
        if segment.get("name") != name and _mentions({k: v for k, v in segment.items() if k != "name"}, name):
            found.append(f"the filters of segment {segment.get('name')}")
    return found


# --- changing the policy --------------------------------------------------------------------------


def _wait_until_ready(nm: Any, core_network_id: str, version: int, state: str) -> None:
    for attempt in range(READY_POLLS):
        if state == "READY_TO_EXECUTE":
            return
        if state == "FAILED_GENERATION":
            policy = get_policy(nm, core_network_id, PolicyVersionId=version)
            errors = "; ".join(str(e.get("Message") or e.get("ErrorCode")) for e in policy["errors"])
            raise ToolError(
                f"Cloud WAN could not build policy version {version}: {errors or 'no reason given'}."
            )
        if attempt:
            time.sleep(READY_POLL_SECONDS)
        state = get_policy(nm, core_network_id, PolicyVersionId=version)["state"]
    raise ToolError(
        f"Policy version {version} of {core_network_id} was not ready to execute after a minute; "
        "it is left unexecuted."
    )


def _put_and_execute(
    nm: Any, core_network_id: str, base: JsonDict, document: JsonDict, description: str, token: str
) -> int:
    """Put ``document`` as a new version on top of ``base``, wait for its change set, execute it."""
    put = _call(
        f"put a new policy for core network {core_network_id}",
        nm.put_core_network_policy,
        CoreNetworkId=core_network_id,
        PolicyDocument=json.dumps(document, indent=2),
        Description=description[:256],
        LatestVersionId=base["version"],
        ClientToken=token[:256],
    )["CoreNetworkPolicy"]
    version = int(put["PolicyVersionId"])
    _wait_until_ready(nm, core_network_id, version, str(put.get("ChangeSetState", "")))
    _call(
        f"execute policy version {version} of core network {core_network_id}",
        nm.execute_core_network_change_set,
        CoreNetworkId=core_network_id,
        PolicyVersionId=version,
    )
    return version


def with_segment(document: JsonDict, segment: JsonDict, index: int | None = None) -> JsonDict:
    changed = copy.deepcopy(document)
    segments = changed.setdefault("segments", [])
    segments.insert(len(segments) if index is None else min(index, len(segments)), segment)
    return changed


def without_segment(document: JsonDict, name: str) -> JsonDict:
    changed = copy.deepcopy(document)
    changed["segments"] = [s for s in segments_of(document) if s.get("name") != name]
    return changed


def _refuse_if_referenced(document: JsonDict, core_network_id: str, name: str) -> None:
    references = segment_references(document, name)
    if references:
        raise ToolError(
            f"Segment {name} of {core_network_id} is still used by {', '.join(references)}; "
            "remove those from the policy before deleting the segment."
        )


def _add(
    clients: AwsClients, args: SegmentArgs, segment: JsonDict, index: int | None, token: str, doing: str
) -> JsonDict:
    nm = _client(clients, args)
    base = _live_base(nm, args.core_network_id)
    if _find(base["document"], args.segment) is not None:
        return {"changed": False, "live_version": base["version"]}
    document = with_segment(base["document"], segment, index)
    version = _put_and_execute(nm, args.core_network_id, base, document, doing, token)
    return {"changed": True, "previous_version": base["version"], "policy_version": version}


def _remove(clients: AwsClients, args: SegmentArgs, token: str, doing: str, dry_run: bool) -> JsonDict:
    nm = _client(clients, args)
    base = _live_base(nm, args.core_network_id)
    found = _find(base["document"], args.segment)
    if found is None:
        return {"changed": False, "live_version": base["version"]}
    _refuse_if_referenced(base["document"], args.core_network_id, args.segment)
    index, segment = found
    removed = {"removed_segment": segment, "removed_index": index}
    if dry_run:
        return {"dry_run": True, "changed": False, "live_version": base["version"], **removed}
    document = without_segment(base["document"], args.segment)
    version = _put_and_execute(nm, args.core_network_id, base, document, doing, token)
    return {"changed": True, "previous_version": base["version"], "policy_version": version, **removed}


def _verify_live(clients: AwsClients, args: SegmentArgs, record: JsonDict, present: bool) -> VerifyResult:
    nm = _client(clients, args)
    live = get_policy(nm, args.core_network_id, Alias="LIVE")
    there = _find(live["document"], args.segment) is not None
    where = f"segment {args.segment} of {args.core_network_id}"
    if there == present:
        state = "is in" if present else "is gone from"
        return VerifyResult(ok=True, detail=f"The {where} {state} live policy version {live['version']}.")
    version = record.get("policy_version")
    pending = get_policy(nm, args.core_network_id, PolicyVersionId=version)["state"] if version else "unknown"
    return VerifyResult(
        ok=False,
        detail=(
            f"The {where} is {'not yet' if present else 'still'} in the live policy (version "
            f"{live['version']}); opsbot's version {version} is {pending}."
        ),
    )


def _token(ctx: ExecContext, verb: str, args: SegmentArgs) -> str:
    """An idempotency token: the same step of the same incident never puts two policy versions."""
    return f"opsbot-{ctx.incident_id}-{verb}-{args.core_network_id}-{args.segment}"


def _record(args: SegmentArgs, outcome: JsonDict) -> JsonDict:
    return {"core_network_id": args.core_network_id, "segment": args.segment, **outcome}


# --- create_segment -------------------------------------------------------------------------------


def new_segment(name: str, ctx: ExecContext) -> JsonDict:
    """A new segment: attachments join it only once accepted, until people say otherwise."""
    return {
        "name": name,
        "description": f"created by opsbot ({ctx.incident_id})"[:256],
        "require-attachment-acceptance": True,
    }


def _run_create(clients: AwsClients, args: SegmentArgs, ctx: ExecContext) -> JsonDict:
    if ctx.dry_run:  # Network Manager has no DryRun: check the base and the name, change nothing
        base = _live_base(_client(clients, args), args.core_network_id)
        exists = _find(base["document"], args.segment) is not None
        return _record(args, {"dry_run": True, "live_version": base["version"], "would_create": not exists})
    doing = f"opsbot {ctx.incident_id}: create segment {args.segment}"
    segment = new_segment(args.segment, ctx)
    return _record(args, _add(clients, args, segment, None, _token(ctx, "create", args), doing))


@skip_verify_after_dry_run
def _verify_create(clients: AwsClients, args: SegmentArgs, record: JsonDict) -> VerifyResult:
    return _verify_live(clients, args, record, present=True)


@skip_rollback_after_dry_run
def _rollback_create(clients: AwsClients, args: SegmentArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    if not record.get("changed"):
        return {"deleted": False, "detail": f"Segment {args.segment} existed before opsbot ran; it is kept."}
    doing = f"opsbot {ctx.incident_id}: roll back the creation of segment {args.segment}"
    outcome = _remove(clients, args, _token(ctx, "undo-create", args), doing, ctx.dry_run)
    return {"deleted": bool(outcome.get("changed")), **outcome}


def _segment_resources(args: SegmentArgs) -> list[str]:
    return [args.core_network_id, args.segment]


create_segment = ToolSpec[SegmentArgs](
    name="create_segment",
    description=(
        "Add a segment to an AWS Cloud WAN core network: a new core network policy version with the "
        "segment (attachments need acceptance), executed once its change set is ready."
    ),
    args=SegmentArgs,
    risk="write",
    run=_run_create,
    verify=_verify_create,
    rollback=_rollback_create,
    resources=_segment_resources,
    effect="The core network gains an empty segment that attachments can join once accepted.",
    rollback_summary="Delete the segment again (a new policy version without it), if opsbot created it.",
)


# --- delete_segment -------------------------------------------------------------------------------


def _run_delete(clients: AwsClients, args: SegmentArgs, ctx: ExecContext) -> JsonDict:
    doing = f"opsbot {ctx.incident_id}: delete segment {args.segment}"
    return _record(args, _remove(clients, args, _token(ctx, "delete", args), doing, ctx.dry_run))


@skip_verify_after_dry_run
def _verify_delete(clients: AwsClients, args: SegmentArgs, record: JsonDict) -> VerifyResult:
    return _verify_live(clients, args, record, present=False)


@skip_rollback_after_dry_run
def _rollback_delete(clients: AwsClients, args: SegmentArgs, record: JsonDict, ctx: ExecContext) -> JsonDict:
    if not record.get("changed"):
        return {"restored": False, "detail": f"Segment {args.segment} was not there; nothing to put back."}
    segment = dict(record["removed_segment"])
    if ctx.dry_run:
        return {"dry_run": True, "would_restore": segment}
    doing = f"opsbot {ctx.incident_id}: roll back the deletion of segment {args.segment}"
    index = record.get("removed_index")
    token = _token(ctx, "undo-delete", args)
    outcome = _add(clients, args, segment, index if isinstance(index, int) else None, token, doing)
    return {"restored": bool(outcome.get("changed")), **outcome}


delete_segment = ToolSpec[SegmentArgs](
    name="delete_segment",
    description=(
        "Remove a segment from an AWS Cloud WAN core network: a new core network policy version without "
        "it, executed once ready. Refused while segment actions, attachment policies or other segments' "
        "filters still name it."
    ),
    args=SegmentArgs,
    risk="write",  # reversible: rollback puts the recorded segment back
    run=_run_delete,
    verify=_verify_delete,
    rollback=_rollback_delete,
    resources=_segment_resources,
    effect="The segment disappears from the core network; its routes go with it.",
    rollback_summary="Put the removed segment back exactly as it was (its recorded policy JSON).",
)
