"""allow_egress_domain: add a domain to an AWS Network Firewall stateful domain allow-list rule group.

The rule group holds a ``RulesSourceList`` (GeneratedRulesType ALLOWLIST, TargetTypes TLS_SNI and/or
HTTP_HOST). Changing it is DescribeRuleGroup -> edit the targets -> UpdateRuleGroup with the UpdateToken;
a token that went stale because someone else changed the group meanwhile is retried. moto does not
implement rule groups, so the tests check the requests against botocore's service model with Stubber.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field, field_validator

from tools.aws_failures import not_found_or_refused
from tools.base import (
    AwsClients,
    ExecContext,
    JsonDict,
    RegionArgs,
    ToolError,
    ToolSpec,
    VerifyResult,
    check_match,
)
from tools.context import aws_errors, describe_error, error_code
from tools.records import skip_rollback_after_dry_run, skip_verify_after_dry_run

DOMAIN_MAX = 253
RULE_GROUP_NAME_RE = re.compile(r"^[a-zA-Z0-9-]{1,128}$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
TOKEN_RETRIES = 3
RULE_GROUP_TYPE = "STATEFUL"


def normalise_domain(value: str) -> str:
    """A domain as Network Firewall matches it: lower case, IDNA (punycode) ASCII, at most 253 characters.

    A leading "." is Network Firewall's wildcard (``.example.com`` matches every subdomain); no other
    wildcard, no scheme, path, port or user part.
    """
    text = value.strip().lower()
    if "://" in text or text.startswith(("http:", "https:")):
        raise ValueError(f"'{value}' has a scheme; give the domain alone, like example.com")
    if any(char in text for char in "/?#@:") or any(char.isspace() for char in text):
        raise ValueError(f"'{value}' is not a bare domain: it has a path, port, user part or space")
    if "*" in text:
        raise ValueError(f"'{value}' has a '*'; write a wildcard as a leading dot, like .example.com")
    wildcard = text.startswith(".")
    name = text[1:] if wildcard else text
    name = name[:-1] if name.endswith(".") else name  # the root dot of a fully qualified name
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"'{value}' is not a valid domain name") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
        raise ValueError(f"'{value}' is not a valid domain name (like example.com or .example.com)")
    if len(ascii_name) > DOMAIN_MAX:
        raise ValueError(f"'{value}' is longer than {DOMAIN_MAX} characters")
    return ("." if wildcard else "") + ascii_name


class AllowEgressDomainArgs(RegionArgs):
    domain: str = Field(
        description="Domain to allow, like salesforce.com; a leading dot (.example.com) allows its subdomains"
    )
    rule_group: str = Field(
        description="Name of the Network Firewall stateful domain allow-list rule group, like prod-api"
    )

    @field_validator("domain")
    @classmethod
    def _valid_domain(cls, value: str) -> str:
        return normalise_domain(value)

    @field_validator("rule_group")
    @classmethod
    def _valid_rule_group(cls, value: str) -> str:
        message = f"'{value}' is not a rule group name (letters, digits and hyphens, at most 128)"
        return check_match(RULE_GROUP_NAME_RE, value, message)


def _client(clients: AwsClients, args: AllowEgressDomainArgs) -> Any:
    return clients.client("network-firewall", args.region)


def describe_domain_list(clients: AwsClients, args: AllowEgressDomainArgs) -> JsonDict:
    """DescribeRuleGroup's answer for the named group; ToolError unless it is a domain allow list."""
    doing = f"read Network Firewall rule group {args.rule_group}"
    with (
        aws_errors(doing),
        not_found_or_refused(
            doing,
            not_found=f"Network Firewall rule group {args.rule_group} was not found in {args.region}.",
            is_not_found=lambda code: code == "ResourceNotFoundException",
        ),
    ):
        got: JsonDict = _client(clients, args).describe_rule_group(
            RuleGroupName=args.rule_group, Type=RULE_GROUP_TYPE
        )
    source = (got.get("RuleGroup") or {}).get("RulesSource", {}).get("RulesSourceList")
    if source is None:
        raise ToolError(f"Rule group {args.rule_group} is not a domain list; opsbot only edits domain lists.")
    if source.get("GeneratedRulesType") != "ALLOWLIST":
        kind = source.get("GeneratedRulesType")
        raise ToolError(
            f"Rule group {args.rule_group} is a {kind} domain list, so adding a domain would not allow it."
        )
    return got


def _targets(described: JsonDict) -> list[str]:
    return [str(target) for target in described["RuleGroup"]["RulesSource"]["RulesSourceList"]["Targets"]]


def _update_request(described: JsonDict, targets: list[str], dry_run: bool) -> JsonDict:
    """UpdateRuleGroup's parameters: the described group with new targets; everything else kept as it was."""
    rule_group = copy.deepcopy(described["RuleGroup"])
    rule_group["RulesSource"]["RulesSourceList"]["Targets"] = targets
    response = described["RuleGroupResponse"]
    request: JsonDict = {
        "UpdateToken": described["UpdateToken"],
        "RuleGroupArn": response["RuleGroupArn"],
        "Type": RULE_GROUP_TYPE,
        "RuleGroup": rule_group,
    }
    if response.get("Description"):
        request["Description"] = response["Description"]
    if response.get("EncryptionConfiguration"):
        request["EncryptionConfiguration"] = response["EncryptionConfiguration"]
    if dry_run:
        request["DryRun"] = True
    return request


def change_domain(clients: AwsClients, args: AllowEgressDomainArgs, add: bool, dry_run: bool) -> bool:
    """Add (or remove) the domain; True when the list changed (or, in a dry run, would change)."""
    for _attempt in range(TOKEN_RETRIES):
        described = describe_domain_list(clients, args)
        targets = _targets(described)
        if (args.domain in targets) == add:
            return False
        wanted = [*targets, args.domain] if add else [target for target in targets if target != args.domain]
        try:
            _client(clients, args).update_rule_group(**_update_request(described, wanted, dry_run))
        except ClientError as exc:
            if error_code(exc) == "InvalidTokenException":
                continue  # changed by someone else since we read it: read it again
            verb = "add" if add else "remove"
            raise ToolError(
                f"AWS refused to {verb} {args.domain} in rule group {args.rule_group}: {describe_error(exc)}."
            ) from exc
        return True
    raise ToolError(f"Rule group {args.rule_group} kept changing while opsbot updated it; try again.")


def _run_allow_egress_domain(clients: AwsClients, args: AllowEgressDomainArgs, ctx: ExecContext) -> JsonDict:
    changed = change_domain(clients, args, add=True, dry_run=ctx.dry_run)
    record: JsonDict = {
        "rule_group": args.rule_group,
        "domain": args.domain,
        "already_present": not changed,
        "changed": changed and not ctx.dry_run,
    }
    return {"dry_run": True, **record} if ctx.dry_run else record


@skip_verify_after_dry_run
def _verify_allow_egress_domain(
    clients: AwsClients, args: AllowEgressDomainArgs, record: JsonDict
) -> VerifyResult:
    ok = args.domain in _targets(describe_domain_list(clients, args))
    state = "allows" if ok else "does not allow"
    return VerifyResult(ok=ok, detail=f"Rule group {args.rule_group} {state} {args.domain}.")


@skip_rollback_after_dry_run
def _rollback_allow_egress_domain(
    clients: AwsClients, args: AllowEgressDomainArgs, record: JsonDict, ctx: ExecContext
) -> JsonDict:
    if not record.get("changed"):
        return {"removed": False, "detail": "The domain was on the list before opsbot ran; it is kept."}
    removed = change_domain(clients, args, add=False, dry_run=ctx.dry_run)
    if ctx.dry_run:
        return {"dry_run": True, "would_remove": removed}
    return {"removed": removed} if removed else {"removed": False, "detail": "The domain was already gone."}


def _allow_egress_domain_resources(args: AllowEgressDomainArgs) -> list[str]:
    return [args.rule_group, args.domain]


allow_egress_domain = ToolSpec[AllowEgressDomainArgs](
    name="allow_egress_domain",
    description=(
        "Allow outbound HTTPS/HTTP traffic to a domain by adding it to an AWS Network Firewall stateful "
        "domain allow-list rule group (TLS SNI / HTTP Host)."
    ),
    args=AllowEgressDomainArgs,
    risk="write",
    run=_run_allow_egress_domain,
    verify=_verify_allow_egress_domain,
    rollback=_rollback_allow_egress_domain,
    resources=_allow_egress_domain_resources,
    effect="Traffic through the firewall may reach the domain (matched on TLS SNI / HTTP Host).",
    rollback_summary="Remove the domain from the rule group, unless it was there before opsbot ran.",
)
