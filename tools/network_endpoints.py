"""The two ends of a connection: an instance, a network interface or an address, as EC2 describes it."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, ConfigDict

from tools.base import INSTANCE_ID_RE, AwsClients, JsonDict, ToolError
from tools.context import aws_errors, get_instance, instance_state
from tools.network_rules import IpAddress

ENI_ID_RE_PREFIX = "eni-"


class Endpoint(BaseModel):
    """One end of a connection. ``eni_id`` is empty when the address belongs to nothing opsbot can see
    (outside the account, or not in use)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str  # as the request named it
    ip: str
    instance_id: str = ""
    state: str = ""  # the instance's state, when it is an instance
    eni_id: str = ""
    subnet_id: str = ""
    vpc_id: str = ""
    group_ids: tuple[str, ...] = ()

    @property
    def in_aws(self) -> bool:
        return bool(self.eni_id)

    @property
    def address(self) -> IpAddress:
        return ipaddress.ip_address(self.ip)

    def label(self) -> str:
        name = self.instance_id or self.eni_id
        return f"{name} ({self.ip})" if name else self.ip


def _from_eni(ref: str, eni: JsonDict, instance_id: str = "", state: str = "") -> Endpoint:
    return Endpoint(
        ref=ref,
        ip=str(eni.get("PrivateIpAddress", "")),
        instance_id=instance_id or str(eni.get("Attachment", {}).get("InstanceId") or ""),
        state=state,
        eni_id=str(eni["NetworkInterfaceId"]),
        subnet_id=str(eni.get("SubnetId", "")),
        vpc_id=str(eni.get("VpcId", "")),
        group_ids=tuple(str(group["GroupId"]) for group in eni.get("Groups", [])),
    )


def _instance_endpoint(clients: AwsClients, ref: str, instance_id: str, region: str) -> Endpoint:
    instance = get_instance(clients, instance_id, region)
    interfaces = sorted(
        instance.get("NetworkInterfaces", []), key=lambda eni: eni.get("Attachment", {}).get("DeviceIndex", 0)
    )
    state = instance_state(instance)
    if not interfaces:
        return Endpoint(
            ref=ref, ip=str(instance.get("PrivateIpAddress", "")), instance_id=instance_id, state=state
        )
    return _from_eni(ref, interfaces[0], instance_id, state)


def _interfaces(clients: AwsClients, region: str, doing: str, **query: object) -> list[JsonDict]:
    ec2 = clients.client("ec2", region)
    with aws_errors(doing):
        return list(ec2.describe_network_interfaces(**query).get("NetworkInterfaces", []))


def resolve_endpoint(clients: AwsClients, ref: str, region: str) -> Endpoint:
    """``ref`` (an instance id, a network interface id or an IP address) as EC2 knows it.

    An address no interface uses comes back with no ``eni_id``: it is outside what opsbot can see.
    """
    ref = ref.strip()
    if INSTANCE_ID_RE.match(ref):
        return _instance_endpoint(clients, ref, ref, region)
    if ref.startswith(ENI_ID_RE_PREFIX):
        found = _interfaces(
            clients,
            region,
            f"describe network interface {ref}",
            Filters=[{"Name": "network-interface-id", "Values": [ref]}],
        )
        if not found:
            raise ToolError(f"Network interface {ref} was not found in {region}.")
        return _from_eni(ref, found[0])
    try:
        address = ipaddress.ip_address(ref)
    except ValueError:
        raise ToolError(f"'{ref}' is not an instance id, a network interface id or an IP address.") from None
    found = _interfaces(
        clients,
        region,
        f"find the network interface with address {address}",
        Filters=[{"Name": "addresses.private-ip-address", "Values": [str(address)]}],
    )
    if not found:
        return Endpoint(ref=ref, ip=str(address))
    attached = str(found[0].get("Attachment", {}).get("InstanceId") or "")
    state = instance_state(get_instance(clients, attached, region)) if attached else ""
    return _from_eni(ref, found[0], attached, state).model_copy(update={"ip": str(address)})
