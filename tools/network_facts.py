"""Read-only network facts from EC2: security groups, a subnet's network ACL, a VPC's route tables,
each read once per question."""

from __future__ import annotations

from typing import Any

from tools.base import AwsClients, JsonDict
from tools.context import aws_errors


class NetworkReader:
    """Describe calls for one troubleshooting question, each made at most once."""

    def __init__(self, clients: AwsClients, region: str) -> None:
        self._ec2: Any = clients.client("ec2", region)
        self._groups: dict[str, JsonDict] = {}
        self._acls: dict[str, JsonDict | None] = {}
        self._tables: dict[str, list[JsonDict]] = {}

    def groups(self, group_ids: tuple[str, ...]) -> list[JsonDict]:
        missing = [group_id for group_id in group_ids if group_id not in self._groups]
        if missing:
            with aws_errors(f"describe security groups {', '.join(missing)}"):
                found = self._ec2.describe_security_groups(GroupIds=missing)["SecurityGroups"]
            self._groups.update({str(group["GroupId"]): group for group in found})
        return [self._groups[group_id] for group_id in group_ids if group_id in self._groups]

    def acl(self, subnet_id: str) -> JsonDict | None:
        if subnet_id not in self._acls:
            with aws_errors(f"describe the network ACL of {subnet_id}"):
                found = self._ec2.describe_network_acls(
                    Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
                )["NetworkAcls"]
            self._acls[subnet_id] = found[0] if found else None
        return self._acls[subnet_id]

    def route_tables(self, vpc_id: str) -> list[JsonDict]:
        if vpc_id not in self._tables:
            with aws_errors(f"describe the route tables of {vpc_id}"):
                pages = self._ec2.get_paginator("describe_route_tables").paginate(
                    Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
                )
                self._tables[vpc_id] = [table for page in pages for table in page["RouteTables"]]
        return self._tables[vpc_id]
