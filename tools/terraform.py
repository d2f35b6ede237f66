"""The Terraform an executed write action corresponds to, so a team's IaC repository can absorb the change.

Each snippet starts with a comment naming the opsbot action id. Resources that opsbot created or found in
AWS come with an ``import`` block, so ``terraform apply`` adopts them instead of making duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

JsonDict = dict[str, Any]
SnippetFn = Callable[[str, JsonDict, JsonDict], "str | None"]

_NOT_NAME_CHARS = re.compile(r"[^a-z0-9_]+")


def resource_name(*parts: object) -> str:
    """A Terraform resource name made from ids: lowercase ``[a-z0-9_]``, starting with a letter."""
    joined = "_".join(str(part) for part in parts if str(part))
    name = _NOT_NAME_CHARS.sub("_", joined.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"r_{name}".rstrip("_")
    return name


def hcl_string(value: object) -> str:
    """``value`` as a quoted HCL string, with quotes, backslashes, newlines and templates escaped."""
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = text.replace(raw, escaped)
    return '"' + text.replace("${", "$${").replace("%{", "%%{") + '"'


def comment_line(text: object) -> str:
    """One HCL comment line; any newline in ``text`` is folded into a space, so it cannot end the comment."""
    return "# " + " ".join(str(text).split())


def import_block(address: str, resource_id: object) -> str:
    """An ``import`` block adopting ``resource_id`` into ``address``."""
    return f"import {{\n  to = {address}\n  id = {hcl_string(resource_id)}\n}}"


def resource_block(kind: str, name: str, body: Iterable[str]) -> str:
    """A ``resource`` block whose body lines are indented by two spaces (blank lines stay blank)."""
    lines = "".join(f"  {line}\n" if line else "\n" for line in body)
    return f'resource "{kind}" "{name}" {{\n{lines}}}'


# --- one function per action: (action id, params, record) -> HCL or None -----------------------------


def _scale_asg(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    name = record.get("asg_name") or params.get("asg_name")
    capacity = record.get("desired_capacity", params.get("desired_capacity"))
    if name is None or capacity is None:
        return None
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: scale_asg set the desired capacity of {name} to {capacity}"),
            comment_line(f'in resource "aws_autoscaling_group" "{resource_name(name)}" (name = "{name}"):'),
            f"desired_capacity = {int(capacity)}",
        ]
    )


def _nacl_rule(cidr: str, entry: JsonDict) -> str:
    direction = "out" if entry.get("egress") else "in"
    name = resource_name("deny", cidr, entry.get("nacl_id"), direction, entry.get("rule_number"))
    egress = "true" if entry.get("egress") else "false"
    import_id = f"{entry.get('nacl_id')}:{int(entry.get('rule_number', 0))}:-1:{egress}"
    return (
        import_block(f"aws_network_acl_rule.{name}", import_id)
        + "\n"
        + resource_block(
            "aws_network_acl_rule",
            name,
            [
                f"network_acl_id = {hcl_string(entry.get('nacl_id'))}",
                f"rule_number    = {int(entry.get('rule_number', 0))}",
                f"egress         = {egress}",
                'protocol       = "-1"',
                'rule_action    = "deny"',
                f"cidr_block     = {hcl_string(cidr)}",
            ],
        )
    )


def _waf_patch(cidr: str, waf: JsonDict) -> str:
    name = str(waf.get("name", ""))
    return "\n".join(
        [
            comment_line(
                f'in resource "aws_wafv2_ip_set" "{resource_name(name)}" '
                f'(name = "{name}", id {waf.get("id")}, scope {waf.get("scope")}), add to addresses:'
            ),
            f"addresses = [{hcl_string(cidr)}]  # keep the addresses already listed",
        ]
    )


def _block_ip(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    cidr = str(record.get("cidr") or params.get("cidr") or "")
    entries: list[JsonDict] = record.get("entries") or []
    waf: JsonDict | None = record.get("waf")
    parts = [_nacl_rule(cidr, entry) for entry in entries]
    if waf and waf.get("changed"):
        parts.append(_waf_patch(cidr, waf))
    if not cidr or not parts:
        return None
    head = comment_line(f"opsbot {action_id}: block_ip denied {cidr} in {len(entries)} network ACL entries")
    return "\n".join([head, *parts])


def _quarantine_address(vpc_id: str, group_id: str) -> str:
    return f"aws_security_group.{resource_name('quarantine', vpc_id or group_id)}"


def _isolate_instance(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    instance_id = record.get("instance_id") or params.get("instance_id")
    interfaces: list[JsonDict] = record.get("interfaces") or []
    group_name = str(record.get("quarantine_group_name") or "opsbot-quarantine")
    parts = [
        comment_line(f"opsbot {action_id}: isolate_instance gave {instance_id} only the quarantine group")
    ]
    isolated = [eni for eni in interfaces if eni.get("quarantine_group_id")]
    groups = {str(eni["quarantine_group_id"]): str(eni.get("vpc_id") or "") for eni in isolated}
    if not groups:
        return None
    for group_id, vpc_id in sorted(groups.items()):
        address = _quarantine_address(vpc_id, group_id)
        parts.append(import_block(address, group_id))
        parts.append(
            resource_block(
                "aws_security_group",
                address.split(".", 1)[1],
                [
                    f"name        = {hcl_string(group_name)}",
                    'description = "opsbot quarantine: no inbound or outbound traffic"',
                    f"vpc_id      = {hcl_string(vpc_id)}",
                    "# no ingress or egress rules: Terraform also removes the default allow-all egress",
                ],
            )
        )
    for eni in isolated:
        group = _quarantine_address(str(eni.get("vpc_id") or ""), str(eni["quarantine_group_id"]))
        parts.append(
            resource_block(
                "aws_network_interface_sg_attachment",
                resource_name("quarantine", eni.get("eni_id")),
                [
                    f"security_group_id    = {group}.id",
                    f"network_interface_id = {hcl_string(eni.get('eni_id'))}",
                ],
            )
        )
        old = ", ".join(eni.get("original_groups") or []) or "none"
        parts.append(
            comment_line(
                f"and remove {old} from {eni.get('eni_id')}: drop them from the vpc_security_group_ids "
                f"of the aws_instance for {instance_id} (or set it to [{group}.id])"
            )
        )
    return "\n".join(parts)


def _allow_egress(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    group_id, cidr, port = record.get("group_id"), record.get("cidr"), record.get("port")
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: allow_egress opened TCP {port} from {group_id} to {cidr}"),
            resource_block(
                "aws_vpc_security_group_egress_rule",
                resource_name(group_id, "to", cidr, "tcp", port),
                [
                    f"security_group_id = {hcl_string(group_id)}",
                    f"cidr_ipv4         = {hcl_string(cidr)}",
                    'ip_protocol       = "tcp"',
                    f"from_port         = {int(port or 0)}",
                    f"to_port           = {int(port or 0)}",
                    f"description       = {hcl_string(f'opsbot {action_id}')}",
                ],
            ),
        ]
    )


def _tag_resource(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    resource_id, key, value = record.get("resource_id"), record.get("key"), record.get("value")
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: tag_resource set {key} on {resource_id}"),
            comment_line(
                f"in the resource for {resource_id} ({resource_name(resource_id)}), add to its tags:"
            ),
            f"tags = {{\n  {hcl_string(key)} = {hcl_string(value)}\n}}",
        ]
    )


def _stop_instance(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    instance_id = record.get("instance_id") or params.get("instance_id")
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: stop_instance stopped {instance_id}"),
            resource_block(
                "aws_ec2_instance_state",
                resource_name(instance_id),
                [f"instance_id = {hcl_string(instance_id)}", 'state       = "stopped"'],
            ),
        ]
    )


def _terminate_instance(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    if record.get("changed") is False:
        return None
    instance_id = record.get("instance_id") or params.get("instance_id")
    called = (record.get("tags") or {}).get("Name")
    named = f" (Name {called})" if called else ""
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: terminate_instance terminated {instance_id}{named}"),
            comment_line(
                f"delete the aws_instance block for {instance_id} from your Terraform, or forget it with:"
            ),
            comment_line("terraform state rm aws_instance.<its name>"),
        ]
    )


def _snapshot_instance(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    snapshots: list[JsonDict] = record.get("snapshots") or []
    if not snapshots:
        return None
    instance_id = record.get("instance_id") or params.get("instance_id")
    parts = [
        comment_line(
            f"opsbot {action_id}: snapshot_instance took {len(snapshots)} snapshot(s) of {instance_id}"
        ),
        comment_line("snapshots are forensic copies, usually kept out of IaC; to track them anyway:"),
    ]
    for snap in snapshots:
        name = resource_name(snap.get("snapshot_id"))
        parts.append(import_block(f"aws_ebs_snapshot.{name}", snap.get("snapshot_id")))
        parts.append(
            resource_block(
                "aws_ebs_snapshot",
                name,
                [
                    f"volume_id = {hcl_string(snap.get('volume_id'))}",
                    f'tags = {{\n    "opsbot:incident" = {hcl_string(record.get("incident_id", ""))}\n  }}',
                ],
            )
        )
    return "\n".join(parts)


def _unblock_ip(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    removed: list[JsonDict] = record.get("removed") or []
    waf: JsonDict | None = record.get("waf")
    if not removed and not (waf and waf.get("changed")):
        return None
    cidr = record.get("cidr") or params.get("cidr")
    lines = [
        comment_line(
            f"opsbot {action_id}: unblock_ip removed the blocks of {cidr}; remove from your Terraform:"
        )
    ]
    lines += [
        comment_line(
            f"the aws_network_acl_rule in {entry.get('nacl_id')} rule {entry.get('rule_number')} "
            f"({'egress' if entry.get('egress') else 'ingress'})"
        )
        for entry in removed
    ]
    if waf and waf.get("changed"):
        lines.append(comment_line(f"{cidr} from the addresses of aws_wafv2_ip_set {waf.get('name')}"))
    return "\n".join(lines)


def _rollback(action_id: str, params: JsonDict, record: JsonDict) -> str | None:
    undone, of_action = params.get("action_id"), params.get("of_action")
    return "\n".join(
        [
            comment_line(f"opsbot {action_id}: rolled back {undone} ({of_action})"),
            comment_line(f"remove the Terraform opsbot gave for {undone}, if you added it"),
        ]
    )


SNIPPETS: dict[str, SnippetFn] = {
    "scale_asg": _scale_asg,
    "block_ip": _block_ip,
    "unblock_ip": _unblock_ip,
    "isolate_instance": _isolate_instance,
    "allow_egress": _allow_egress,
    "tag_resource": _tag_resource,
    "stop_instance": _stop_instance,
    "terminate_instance": _terminate_instance,
    "snapshot_instance": _snapshot_instance,
    "rollback": _rollback,
}  # restart_service changes no infrastructure, so it has none


def snippet_builder(action: str) -> SnippetFn | None:
    """The snippet function of an action: one above, or a network action's from tools.terraform_network."""
    from tools.terraform_network import NETWORK_SNIPPETS  # terraform_network imports this module

    return SNIPPETS.get(action) or NETWORK_SNIPPETS.get(action)


def terraform_snippet(execution: JsonDict) -> str | None:
    """The HCL that makes an executed (``status == "ok"``) write action permanent; None when there is none."""
    if execution.get("status") != "ok":
        return None
    record = execution.get("record") or {}
    if not isinstance(record, dict) or record.get("dry_run"):
        return None
    build = snippet_builder(str(execution.get("action")))
    if build is None:
        return None
    return build(str(execution.get("action_id", "")), dict(execution.get("params") or {}), record)


def run_snippets(executions: Iterable[JsonDict], rollbacks: Iterable[JsonDict] = ()) -> list[str]:
    """The snippets of a run's executed steps, leaving out the steps the run itself rolled back."""
    undone = {undo.get("action_id") for undo in rollbacks if undo.get("status") == "rolled back"}
    snippets = (terraform_snippet(e) for e in executions if e.get("action_id") not in undone)
    return [snippet for snippet in snippets if snippet]
