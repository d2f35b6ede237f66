"""Security group rules that open an administration port to the whole internet.

A rule counts when its source is 0.0.0.0/0 or ::/0 and it allows all traffic (protocol -1) or TCP on a
port range that includes one of ``ADMIN_PORTS``. The list: CIS AWS Foundations Benchmark 5.2/5.3 name
22 (SSH) and 3389 (RDP); the rest are the other remote-administration services that should never face
the internet (Telnet, VNC, WinRM, the Docker Engine API, the Kubernetes API server and the kubelet).
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.base import JsonDict

ADMIN_PORTS: dict[int, str] = {
    22: "SSH",
    23: "Telnet",
    3389: "RDP",
    5900: "VNC",
    5985: "WinRM",
    5986: "WinRM over HTTPS",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    6443: "Kubernetes API",
    10250: "kubelet",
}
OPEN_IPV4 = "0.0.0.0/0"
OPEN_IPV6 = "::/0"
ALL_TRAFFIC = "-1"
TCP = ("tcp", "6")


@dataclass(frozen=True)
class OpenRule:
    group_id: str
    group_name: str
    vpc_id: str
    exposed: str  # "all traffic" or "tcp 22 (SSH)"
    ports: tuple[int, ...]
    source: str


def exposed_ports(permission: JsonDict) -> tuple[int, ...] | None:
    """The admin ports a permission opens; None when it opens none."""
    protocol = str(permission.get("IpProtocol", ""))
    if protocol == ALL_TRAFFIC:
        return tuple(sorted(ADMIN_PORTS))
    if protocol not in TCP:
        return None
    low, high = int(permission.get("FromPort", 0)), int(permission.get("ToPort", 65535))
    ports = tuple(port for port in sorted(ADMIN_PORTS) if low <= port <= high)
    return ports or None


def describe_exposure(permission: JsonDict, ports: tuple[int, ...]) -> str:
    if str(permission.get("IpProtocol")) == ALL_TRAFFIC:
        return "all traffic"
    low, high = int(permission.get("FromPort", 0)), int(permission.get("ToPort", 65535))
    if low == high:
        return f"tcp {low} ({ADMIN_PORTS[low]})"
    named = ", ".join(f"{port} ({ADMIN_PORTS[port]})" for port in ports)
    return f"tcp {low}-{high}: {named}"


def open_sources(permission: JsonDict) -> list[str]:
    sources = [r["CidrIp"] for r in permission.get("IpRanges", []) if r.get("CidrIp") == OPEN_IPV4]
    sources += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", []) if r.get("CidrIpv6") == OPEN_IPV6]
    return sources


def open_admin_rules(group: JsonDict) -> list[OpenRule]:
    """One entry per (permission, open source) of ``group`` that exposes an admin port."""
    found: list[OpenRule] = []
    for permission in group.get("IpPermissions", []):
        ports = exposed_ports(permission)
        if ports is None:
            continue
        for source in open_sources(permission):
            found.append(
                OpenRule(
                    group_id=str(group["GroupId"]),
                    group_name=str(group.get("GroupName", "")),
                    vpc_id=str(group.get("VpcId", "")),
                    exposed=describe_exposure(permission, ports),
                    ports=ports,
                    source=source,
                )
            )
    return found
