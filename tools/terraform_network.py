"""The Terraform for the network actions (issue 6): Network Firewall domains, vendor access, routes, Cloud WAN
segments and regional failover. ``tools.terraform`` picks these up by action name.

Where opsbot knows the whole resource (a security group rule, a route) the snippet is a resource with an
``import`` block; where it changed one part of a resource it never saw whole (a rule group's targets, a
policy document's segments, a record's weight) the snippet is that part, with a comment saying where it goes.
"""

from __future__ import annotations

from collections.abc import Iterable

from tools.terraform import (
    JsonDict,
    SnippetFn,
    comment_line,
    hcl_string,
    import_block,
    resource_block,
    resource_name,
)

# The aws_route argument for each kind of target, by id prefix. An instance (i-) has none: aws_route has no
# instance_id since AWS provider 5, so a route to an instance names the instance's network interface.
ROUTE_TARGET_ARGUMENTS = {
    "eni": "network_interface_id",
    "igw": "gateway_id",
    "vgw": "gateway_id",
    "nat": "nat_gateway_id",
    "tgw": "transit_gateway_id",
    "vpce": "vpc_endpoint_id",
    "pcx": "vpc_peering_connection_id",
    "cagw": "carrier_gateway_id",
    "lgw": "local_gateway_id",
}
# A route record may carry the primary network interface of an instance target under this key.
INSTANCE_ENI_KEY = "target_network_interface_id"
POLICY_DOCUMENT = "aws_networkmanager_core_network_policy_document"
POLICY_ATTACHMENT = "aws_networkmanager_core_network_policy_attachment"


def aligned(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """``name = value`` lines with the ``=`` signs lined up, as ``terraform fmt`` writes them."""
    listed = list(pairs)
    width = max((len(name) for name, _value in listed), default=0)
    return [f"{name.ljust(width)} = {value}" for name, value in listed]


def hcl_value(value: object) -> str:
    """A JSON value (from a policy document) as an HCL expression; strings always go through hcl_string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(hcl_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{hcl_string(k)} = {hcl_value(v)}" for k, v in value.items()) + " }"
    return hcl_string(value)


def _nested(kinds: list[str], body: list[str]) -> list[str]:
    """``kinds[0] { kinds[1] { ... body ... } }``, two spaces a level."""
    if not kinds:
        return body
    return [f"{kinds[0]} {{", *(f"  {line}" for line in _nested(kinds[1:], body)), "}"]


# --- allow_egress_domain ---------------------------------------------------------------------------------


def _allow_egress_domain(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    group = record.get("rule_group") or params.get("rule_group")
    domain = record.get("domain") or params.get("domain")
    if not group or not domain:
        return None
    targets = f"targets = [{hcl_string(domain)}] # keep the targets already listed"
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: allow_egress_domain allowed {domain} in rule group {group}"),
            comment_line(
                f'in resource "aws_networkfirewall_rule_group" "{resource_name(group)}" '
                f'(name = "{group}", type = "STATEFUL"), add to the targets of its domain list '
                "(generated_rules_type and target_types stay as they are):"
            ),
            *_nested(["rule_group", "rules_source", "rules_source_list"], [targets]),
        ]
    )


# --- grant_vendor_access / revoke_vendor_access -----------------------------------------------------------


def _vendor_rule_name(vendor: object, group_id: object, cidr: object, port: object) -> str:
    return resource_name("vendor", vendor, group_id, cidr, "tcp", port)


def _grant_vendor_access(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    vendor, group_id = record.get("vendor"), record.get("security_group_id")
    cidr, port, until = record.get("cidr"), int(record.get("port") or 0), record.get("expires_at_iso")
    description = record.get("description") or f"opsbot vendor {vendor} until {until}"
    name = _vendor_rule_name(vendor, group_id, cidr, port)
    rule_ids: list[str] = [str(rule_id) for rule_id in record.get("rule_ids") or []]
    parts = [
        comment_line(
            f"opsbot {action_id}: grant_vendor_access let {vendor} reach {group_id} on TCP {port} "
            f"from {cidr} until {until}"
        ),
        comment_line(
            f"opsbot revokes it at {until}: if you keep this block, delete it by then, "
            "or terraform apply will open the access again"
        ),
    ]
    parts += [
        import_block(f"aws_vpc_security_group_ingress_rule.{name}", rule_id) for rule_id in rule_ids[:1]
    ]
    body = [
        ("security_group_id", hcl_string(group_id)),
        ("cidr_ipv4", hcl_string(cidr)),
        ("ip_protocol", '"tcp"'),
        ("from_port", str(port)),
        ("to_port", str(port)),
        ("description", hcl_string(description)),
    ]
    parts.append(resource_block("aws_vpc_security_group_ingress_rule", name, aligned(body)))
    return "\n".join(parts)


def _revoke_vendor_access(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    revoked: list[str] = [str(rule_id) for rule_id in record.get("revoked_rule_ids") or []]
    if not revoked:
        return None
    vendor, group_id = record.get("vendor"), record.get("security_group_id")
    cidr, port = record.get("cidr"), record.get("port")
    name = _vendor_rule_name(vendor, group_id, cidr, port)
    lines = [
        comment_line(
            f"opsbot {action_id}: revoke_vendor_access removed {vendor}'s access to {group_id} on TCP {port} "
            f"from {cidr}; remove from your Terraform, or terraform apply will open it again:"
        ),
        comment_line(
            f'resource "aws_vpc_security_group_ingress_rule" "{name}" (rule {", ".join(revoked)}), '
            "with its import block"
        ),
    ]
    lines += [comment_line(f"its description was: {said}") for said in record.get("descriptions") or []]
    return "\n".join(lines)


# --- update_route -------------------------------------------------------------------------------------


def _was(previous: object) -> str:
    if not isinstance(previous, dict):
        return "a new route"
    return f"it went to {previous.get('id')}" if previous.get("id") else "it was a blackhole route"


def _route_target(target: str, record: JsonDict) -> tuple[list[tuple[str, str]], list[str]]:
    """The aws_route argument naming ``target`` (none for an instance whose interface opsbot did not
    record), and the comments that go with it."""
    kind = target.split("-", 1)[0]
    if kind in ROUTE_TARGET_ARGUMENTS:
        return [(ROUTE_TARGET_ARGUMENTS[kind], hcl_string(target))], []
    if kind != "i":
        return [], [comment_line(f"set the aws_route argument for {target}, a kind opsbot does not route to")]
    no_instance_id = f"{target} is an instance, and aws_route has no instance_id since AWS provider 5"
    eni = record.get(INSTANCE_ENI_KEY)
    if eni:
        return [("network_interface_id", hcl_string(eni))], [
            comment_line(f"{no_instance_id}: {eni} is its primary network interface")
        ]
    return [], [
        comment_line(f"{no_instance_id};"),
        comment_line(
            "opsbot did not record its primary network interface: set network_interface_id to it "
            f"(the primary_network_interface_id of the aws_instance for {target})"
        ),
    ]


def _update_route(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    table = record.get("route_table_id") or params.get("route_table_id")
    destination = record.get("destination_cidr") or params.get("destination_cidr")
    target = str(record.get("target") or params.get("target") or "")
    if not table or not destination or not target:
        return None
    name = resource_name(table, destination)
    arguments, notes = _route_target(target, record)
    where = [("route_table_id", hcl_string(table)), ("destination_cidr_block", hcl_string(destination))]
    return "\n".join(
        [
            comment_line(
                f"opsbot {action_id}: update_route sent {destination} in {table} to {target} "
                f"({_was(record.get('previous'))})"
            ),
            import_block(f"aws_route.{name}", f"{table}_{destination}"),
            resource_block("aws_route", name, aligned([*where, *arguments]) + notes),
        ]
    )


# --- create_segment / delete_segment ------------------------------------------------------------------


def _segments_block(segment: JsonDict) -> list[str]:
    """A policy document's ``segments`` entry as the data source's ``segments`` block (name first)."""
    ordered = sorted(segment.items(), key=lambda item: item[0] != "name")
    return _nested(["segments"], aligned((resource_name(key), hcl_value(value)) for key, value in ordered))


def _policy_place(core_network_id: object, verb: str) -> str:
    attachment = f'resource "{POLICY_ATTACHMENT}" "{resource_name(core_network_id)}"'
    return comment_line(f'in data "{POLICY_DOCUMENT}" (the policy_document of {attachment}), {verb}:')


def _create_segment(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if not record.get("changed"):
        return None
    core_network_id, segment = record.get("core_network_id"), record.get("segment")
    # tools.cloudwan.new_segment: attachments need acceptance; its description names the incident
    added: JsonDict = {"name": segment, "require-attachment-acceptance": True}
    return "\n".join(
        [
            comment_line(
                f"opsbot {action_id}: create_segment added segment {segment} to {core_network_id} "
                f"(policy version {record.get('policy_version')})"
            ),
            _policy_place(core_network_id, "add"),
            *_segments_block(added),
            comment_line(
                'opsbot also gave it the description "created by opsbot (<incident>)": copy it from the '
                "live policy into the block, or terraform apply will put a new policy version without it"
            ),
        ]
    )


def _delete_segment(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    removed = record.get("removed_segment")
    if not record.get("changed") or not isinstance(removed, dict):
        return None
    core_network_id, segment = record.get("core_network_id"), record.get("segment")
    return "\n".join(
        [
            comment_line(
                f"opsbot {action_id}: delete_segment removed segment {segment} from {core_network_id} "
                f"(policy version {record.get('policy_version')})"
            ),
            _policy_place(core_network_id, "remove this segments block"),
            *(f"# {line}" for line in _segments_block(removed)),
        ]
    )


# --- regional_failover --------------------------------------------------------------------------------


def _regional_failover(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    weights: list[JsonDict] = record.get("new_weights") or []
    if not record.get("changed") or not weights:
        return None
    zone, name = record.get("hosted_zone_id"), record.get("record_name")
    parts = [
        comment_line(
            f"opsbot {action_id}: regional_failover moved {name} from {record.get('from_region')} "
            f"to {record.get('to_region')} (Route 53 zone {zone})"
        )
    ]
    for weight in weights:
        kind, region = weight.get("type"), weight.get("set_identifier")
        address = f'"aws_route53_record" "{resource_name(name, kind, region)}"'
        parts.append(
            comment_line(
                f'in resource {address} (zone_id = "{zone}", name = "{name}", type = "{kind}", '
                f'set_identifier = "{region}"):'
            )
        )
        parts += _nested(["weighted_routing_policy"], [f"weight = {int(weight.get('weight') or 0)}"])
    return "\n".join(parts)


NETWORK_SNIPPETS: dict[str, SnippetFn] = {
    "allow_egress_domain": _allow_egress_domain,
    "grant_vendor_access": _grant_vendor_access,
    "revoke_vendor_access": _revoke_vendor_access,
    "update_route": _update_route,
    "create_segment": _create_segment,
    "delete_segment": _delete_segment,
    "regional_failover": _regional_failover,
}
