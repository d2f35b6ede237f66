"""The configured WAFv2 IP set that block_ip and unblock_ip keep in step with the network ACLs."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from tools.base import AwsClients, JsonDict, ToolError
from tools.context import aws_errors, describe_error, error_code

WAF_RETRIES = 3


def waf_target(ctx_waf: JsonDict | None) -> JsonDict | None:
    """The IP set named by the run's settings (name, id, scope), or None when none is configured."""
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


def waf_change(clients: AwsClients, waf: JsonDict, region: str, cidr: str, add: bool) -> bool:
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


def waf_has(clients: AwsClients, waf: JsonDict, region: str, cidr: str) -> bool:
    return cidr in _waf_addresses(clients, waf, region)[0]


def waf_record(waf: JsonDict | None, **state: bool) -> JsonDict | None:
    """What a run record keeps about the IP set: its target plus ``state``; None when there is no IP set."""
    return waf and {**waf, **state}


def waf_changed_by_run(record: JsonDict) -> tuple[JsonDict | None, bool]:
    """The IP set a run record names, and whether that run changed it (so rollback should undo it)."""
    waf: JsonDict | None = record.get("waf")
    return waf, waf is not None and bool(waf.get("changed"))
