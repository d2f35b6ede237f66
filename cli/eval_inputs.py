"""What a case feeds the pipeline: the sandbox estate it starts on, its ``{placeholder}`` ids filled in,
and its event (inline or a fixture) with the case's ``event_patch`` applied."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from cli.estate import REGION, Estate, build_estate
from cli.eval_cases import FIXTURES_DIR, PLACEHOLDER_RE, CaseError, EstatePart, EvalCase
from tools.base import AwsClients


def estate_placeholders(estate: Estate) -> dict[str, str]:
    values = {
        "vpc_id": estate.vpc_id,
        "subnet_id": estate.subnet_id,
        "web_group_id": estate.web_group_id,
        "db_group_id": estate.db_group_id,
        "miner_instance": estate.miner_instance,
        "db_instance": estate.db_instance,
        "asg_name": estate.asg_name,
    }
    values |= {f"web_instances[{n}]": instance for n, instance in enumerate(estate.web_instances)}
    return values


def substitute(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every ``{placeholder}`` in its strings (and nested lists and dicts) filled in."""
    if isinstance(value, str):

        def fill(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                raise CaseError(f"placeholder {match.group(0)} has no value: the case builds no estate")
            return names[match.group(1)]

        return PLACEHOLDER_RE.sub(fill, value)
    if isinstance(value, list):
        return [substitute(item, names) for item in value]
    if isinstance(value, dict):
        return {key: substitute(item, names) for key, item in value.items()}
    return value


def apply_patch(event: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` with each dotted path set (list items by index: ``metrics.0.id``)."""
    patched = copy.deepcopy(event)
    for dotted, value in patch.items():
        parts = dotted.split(".")
        node: Any = patched
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            here = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise CaseError(
                        f"event_patch '{dotted}': '{here}' is not an item of a {len(node)}-item list"
                    )
                if last:
                    node[int(part)] = copy.deepcopy(value)
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = copy.deepcopy(value)
                elif part not in node:
                    raise CaseError(f"event_patch '{dotted}': the event has no '{here}'")
                else:
                    node = node[part]
            else:
                raise CaseError(f"event_patch '{dotted}': '{here}' goes inside a {type(node).__name__}")
    return patched


def run_input_of(case: EvalCase, names: dict[str, str]) -> dict[str, Any]:
    """What ``Pipeline.start`` gets: the text or the (patched) event, with placeholders filled in."""
    given = case.input
    run_input: dict[str, Any] = {"requester": case.requested_by}
    if given.text is not None:
        run_input["text"] = substitute(given.text, names)
        return run_input
    if given.event_fixture is not None:
        event = json.loads((FIXTURES_DIR / given.event_fixture).read_text())
    else:
        event = given.event or {}
    run_input["event"] = apply_patch(substitute(event, names), substitute(given.event_patch, names))
    return run_input


def prepare_estate(clients: AwsClients, parts: bool | list[EstatePart]) -> Estate | None:
    """The sandbox estate; a list keeps only those parts: the others are terminated or deleted first,
    as if they had gone away before the request (their ids still fill placeholders)."""
    if parts is False:
        return None
    estate = build_estate(clients)
    if parts is True:
        return estate
    gone: list[str] = []
    if "web" not in parts:
        gone += estate.web_instances
    if "miner" not in parts:
        gone.append(estate.miner_instance)
    if "db" not in parts:
        gone.append(estate.db_instance)
    if gone:
        clients.client("ec2", REGION).terminate_instances(InstanceIds=gone)
    if "asg" not in parts:
        autoscaling = clients.client("autoscaling", REGION)
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=estate.asg_name, ForceDelete=True)
    return estate
