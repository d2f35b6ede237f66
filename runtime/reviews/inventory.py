"""Read-only listings the reviews are built from, one paginated boto3 call each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tools.base import AwsClients, JsonDict


def paged(client: Any, operation: str, key: str, **params: Any) -> Iterator[JsonDict]:
    """Every item under ``key`` across all pages of ``operation``."""
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def security_groups(clients: AwsClients, region: str) -> list[JsonDict]:
    return list(paged(clients.client("ec2", region), "describe_security_groups", "SecurityGroups"))


def volumes(clients: AwsClients, region: str, **params: Any) -> list[JsonDict]:
    return list(paged(clients.client("ec2", region), "describe_volumes", "Volumes", **params))


def running_instances(clients: AwsClients, region: str) -> list[JsonDict]:
    filters = [{"Name": "instance-state-name", "Values": ["running"]}]
    reservations = paged(clients.client("ec2", region), "describe_instances", "Reservations", Filters=filters)
    return [instance for reservation in reservations for instance in reservation.get("Instances", [])]


def auto_scaling_groups(clients: AwsClients, region: str) -> list[JsonDict]:
    client = clients.client("autoscaling", region)
    return list(paged(client, "describe_auto_scaling_groups", "AutoScalingGroups"))


def account_id(clients: AwsClients, region: str) -> str:
    return str(clients.client("sts", region).get_caller_identity()["Account"])


def own_snapshots(clients: AwsClients, region: str, owner: str) -> list[JsonDict]:
    """Snapshots this account owns (``self``, and the owner-id filter for stores that ignore ``self``)."""
    filters = [{"Name": "owner-id", "Values": [owner]}]
    client = clients.client("ec2", region)
    return list(paged(client, "describe_snapshots", "Snapshots", OwnerIds=["self"], Filters=filters))


def tag_value(resource: JsonDict, key: str) -> str:
    for tag in resource.get("Tags", []) or []:
        if tag.get("Key") == key:
            return str(tag.get("Value", ""))
    return ""
