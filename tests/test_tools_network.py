"""Network actions against moto's HTTP server: NACL entries, WAFv2 IP sets and egress rules read back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from tests.conftest import load_fixture
from tools.base import AwsClients, ExecContext, ToolError
from tools.egress import allow_egress
from tools.nacl_blocking import block_ip, unblock_ip

REGION = "us-east-1"
CTX = ExecContext(incident_id="inc-7")
DRY = ExecContext(incident_id="inc-7", dry_run=True)


def attacker_ip() -> str:
    """The remote IP of a real GuardDuty SSH brute-force sample finding."""
    finding = load_fixture("aws/guardduty_ssh_bruteforce_sample.json")
    return str(
        finding["detail"]["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"]
    )


@dataclass
class Estate:
    ec2: Any
    waf: Any
    clients: AwsClients
    vpc_id: str
    acl_id: str

    def entries(self, acl_id: str | None = None) -> list[dict[str, Any]]:
        acl = self.ec2.describe_network_acls(NetworkAclIds=[acl_id or self.acl_id])["NetworkAcls"][0]
        return sorted(acl["Entries"], key=lambda e: (e["Egress"], e["RuleNumber"]))

    def denies(self, cidr: str, acl_id: str | None = None) -> list[tuple[int, bool]]:
        return [
            (e["RuleNumber"], e["Egress"])
            for e in self.entries(acl_id)
            if e.get("CidrBlock") == cidr and e["RuleAction"] == "deny"
        ]

    def add_entry(
        self, number: int, egress: bool, cidr: str, action: str = "allow", acl_id: str | None = None
    ) -> None:
        self.ec2.create_network_acl_entry(
            NetworkAclId=acl_id or self.acl_id,
            RuleNumber=number,
            Protocol="-1",
            RuleAction=action,
            Egress=egress,
            CidrBlock=cidr,
        )

    def all_acl_ids(self) -> list[str]:
        return sorted(acl["NetworkAclId"] for acl in self.ec2.describe_network_acls()["NetworkAcls"])


@pytest.fixture
def estate(aws_endpoint: str, clients: AwsClients) -> Estate:
    ec2 = boto3.client("ec2", endpoint_url=aws_endpoint, region_name=REGION)
    waf = boto3.client("wafv2", endpoint_url=aws_endpoint, region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.30.1.0/24")
    acl_id = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"][0][
        "NetworkAclId"
    ]
    return Estate(ec2, waf, clients, vpc_id, acl_id)


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(record)))


# --- argument validation ----------------------------------------------------------------------


def test_bare_ip_becomes_a_slash_32() -> None:
    assert block_ip.parse_args({"cidr": " 198.51.100.7 "}).cidr == "198.51.100.7/32"
    assert unblock_ip.parse_args({"cidr": "198.51.100.0/24"}).cidr == "198.51.100.0/24"


@pytest.mark.parametrize(
    "cidr", ["198.51.100.7/24", "not-an-ip", "2001:db8::/64", "0.0.0.0/0", "10.0.0.0/7", "1.2.3.4; curl x"]
)
def test_block_ip_rejects_bad_or_too_broad_cidrs(cidr: str) -> None:
    with pytest.raises(ValidationError):
        block_ip.parse_args({"cidr": cidr})


def test_vpc_id_is_validated() -> None:
    with pytest.raises(ValidationError, match="not a VPC id"):
        block_ip.parse_args({"cidr": "198.51.100.7", "vpc_id": "default"})


# --- block_ip ---------------------------------------------------------------------------------


def test_block_ip_uses_lowest_free_rule_numbers_and_rollback_removes_exactly_those(estate: Estate) -> None:
    ip = attacker_ip()
    cidr = f"{ip}/32"
    for egress in (False, True):
        estate.add_entry(1, egress, "192.0.2.0/24", action="deny")
        estate.add_entry(2, egress, "203.0.113.0/24", action="deny")
    before = estate.entries()
    args = block_ip.parse_args({"cidr": ip, "vpc_id": estate.vpc_id})

    record = as_json(block_ip.run(estate.clients, args, CTX))

    assert estate.denies(cidr) == [(3, False), (3, True)]
    protocols = {e["Protocol"] for e in estate.entries() if e.get("CidrBlock") == cidr}
    assert protocols == {"-1"}
    assert sorted((e["rule_number"], e["egress"]) for e in record["entries"]) == [(3, False), (3, True)]
    assert block_ip.verify(estate.clients, args, record).ok

    assert block_ip.rollback is not None
    block_ip.rollback(estate.clients, args, record, CTX)

    assert estate.entries() == before
    assert not block_ip.verify(estate.clients, args, record).ok


def test_block_ip_without_vpc_covers_every_acl_in_the_region(estate: Estate) -> None:
    other_vpc = estate.ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    extra_acl = estate.ec2.create_network_acl(VpcId=other_vpc)["NetworkAcl"]["NetworkAclId"]
    args = block_ip.parse_args({"cidr": "198.51.100.9"})

    record = block_ip.run(estate.clients, args, CTX)

    acl_ids = estate.all_acl_ids()
    assert extra_acl in acl_ids
    assert len(acl_ids) >= 3  # moto's default VPC, ours, and the second VPC's two ACLs
    for acl_id in acl_ids:
        assert estate.denies("198.51.100.9/32", acl_id) == [(1, False), (1, True)]
    assert len(record["entries"]) == 2 * len(acl_ids)
    assert block_ip.verify(estate.clients, args, record).ok
    assert block_ip.rollback is not None
    block_ip.rollback(estate.clients, args, record, CTX)
    assert all(estate.denies("198.51.100.9/32", acl_id) == [] for acl_id in acl_ids)


def test_block_ip_is_idempotent_and_a_second_rollback_leaves_the_first_block(estate: Estate) -> None:
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})
    first = block_ip.run(estate.clients, args, CTX)

    second = as_json(block_ip.run(estate.clients, args, CTX))

    assert second["entries"] == []
    assert sorted((e["rule_number"], e["egress"]) for e in second["already_blocked"]) == [
        (1, False),
        (1, True),
    ]
    assert estate.denies("198.51.100.9/32") == [(1, False), (1, True)]
    assert block_ip.verify(estate.clients, args, second).ok
    assert block_ip.rollback is not None
    block_ip.rollback(estate.clients, args, second, CTX)
    assert estate.denies("198.51.100.9/32") == [(1, False), (1, True)]
    block_ip.rollback(estate.clients, args, first, CTX)
    assert estate.denies("198.51.100.9/32") == []


def test_block_ip_rollback_never_deletes_a_rule_someone_else_put_at_that_number(estate: Estate) -> None:
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})
    record = block_ip.run(estate.clients, args, CTX)
    estate.ec2.delete_network_acl_entry(NetworkAclId=estate.acl_id, RuleNumber=1, Egress=False)
    estate.add_entry(1, False, "192.0.2.0/24", action="allow")

    assert block_ip.rollback is not None
    result = block_ip.rollback(estate.clients, args, record, CTX)

    assert [(e["rule_number"], e["egress"]) for e in result["removed"]] == [(1, True)]
    assert any(e["RuleNumber"] == 1 and e.get("CidrBlock") == "192.0.2.0/24" for e in estate.entries())


def test_block_ip_verify_fails_when_an_earlier_allow_rule_shadows_the_deny(estate: Estate) -> None:
    estate.add_entry(1, False, "0.0.0.0/0", action="allow")
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})

    record = block_ip.run(estate.clients, args, CTX)

    assert (2, False) in estate.denies("198.51.100.9/32")
    result = block_ip.verify(estate.clients, args, record)
    assert not result.ok
    assert "ALLOW" in result.detail


def test_block_ip_adds_to_and_rollback_removes_from_the_waf_ip_set(estate: Estate) -> None:
    summary = estate.waf.create_ip_set(
        Name="opsbot-blocked", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=["192.0.2.1/32"]
    )["Summary"]
    waf = {"name": "opsbot-blocked", "id": summary["Id"], "scope": "REGIONAL"}
    ctx = ExecContext(incident_id="inc-7", waf_ip_set=waf)
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})

    def addresses() -> list[str]:
        got = estate.waf.get_ip_set(Name="opsbot-blocked", Scope="REGIONAL", Id=summary["Id"])
        return sorted(got["IPSet"]["Addresses"])

    record = as_json(block_ip.run(estate.clients, args, ctx))

    assert addresses() == ["192.0.2.1/32", "198.51.100.9/32"]
    assert record["waf"]["changed"] is True
    assert block_ip.verify(estate.clients, args, record).ok
    assert block_ip.rollback is not None
    block_ip.rollback(estate.clients, args, record, ctx)
    assert addresses() == ["192.0.2.1/32"]
    assert estate.denies("198.51.100.9/32") == []


def test_block_ip_dry_run_changes_nothing(estate: Estate) -> None:
    summary = estate.waf.create_ip_set(
        Name="blocked", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[]
    )["Summary"]
    ctx = ExecContext(
        incident_id="inc-7",
        dry_run=True,
        waf_ip_set={"name": "blocked", "id": summary["Id"], "scope": "REGIONAL"},
    )
    estate.add_entry(1, False, "192.0.2.0/24", action="deny")
    before = estate.entries()
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})

    record = block_ip.run(estate.clients, args, ctx)

    assert record["dry_run"] is True
    assert sorted((e["rule_number"], e["egress"]) for e in record["would_add"]) == [(1, True), (2, False)]
    assert record["waf"]["would_change"] is True
    assert estate.entries() == before
    assert (
        estate.waf.get_ip_set(Name="blocked", Scope="REGIONAL", Id=summary["Id"])["IPSet"]["Addresses"] == []
    )


def test_block_ip_in_an_unknown_vpc_is_a_tool_error(estate: Estate) -> None:
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": "vpc-0123456789abcdef0"})
    with pytest.raises(ToolError, match=r"^VPC vpc-0123456789abcdef0 was not found in us-east-1\.$"):
        block_ip.run(estate.clients, args, CTX)


# --- unblock_ip -------------------------------------------------------------------------------


def test_unblock_removes_every_deny_and_rollback_puts_them_back_at_the_same_numbers(estate: Estate) -> None:
    cidr = "198.51.100.9/32"
    estate.add_entry(5, False, cidr, action="deny")
    estate.add_entry(7, True, cidr, action="deny")
    estate.add_entry(6, False, "192.0.2.0/24", action="deny")
    summary = estate.waf.create_ip_set(
        Name="blocked", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[cidr, "192.0.2.1/32"]
    )["Summary"]
    ctx = ExecContext(
        incident_id="inc-7", waf_ip_set={"name": "blocked", "id": summary["Id"], "scope": "REGIONAL"}
    )
    args = unblock_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})

    def waf_addresses() -> list[str]:
        return sorted(
            estate.waf.get_ip_set(Name="blocked", Scope="REGIONAL", Id=summary["Id"])["IPSet"]["Addresses"]
        )

    record = as_json(unblock_ip.run(estate.clients, args, ctx))

    assert estate.denies(cidr) == []
    assert estate.denies("192.0.2.0/24") == [(6, False)]
    assert waf_addresses() == ["192.0.2.1/32"]
    assert unblock_ip.verify(estate.clients, args, record).ok

    assert unblock_ip.rollback is not None
    unblock_ip.rollback(estate.clients, args, record, ctx)

    assert estate.denies(cidr) == [(5, False), (7, True)]
    assert waf_addresses() == ["192.0.2.1/32", cidr]
    assert not unblock_ip.verify(estate.clients, args, record).ok


def test_unblock_dry_run_changes_nothing(estate: Estate) -> None:
    estate.add_entry(5, False, "198.51.100.9/32", action="deny")
    record = unblock_ip.run(estate.clients, unblock_ip.parse_args({"cidr": "198.51.100.9"}), DRY)
    assert record["dry_run"] is True
    assert [e["rule_number"] for e in record["would_remove"]] == [5]
    assert estate.denies("198.51.100.9/32") == [(5, False)]


# --- allow_egress -----------------------------------------------------------------------------


def _egress(estate: Estate, group_id: str) -> list[dict[str, Any]]:
    return list(
        estate.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissionsEgress"]
    )


def _allows(estate: Estate, group_id: str, cidr: str, port: int) -> bool:
    return any(
        perm["IpProtocol"] == "tcp"
        and perm.get("FromPort") == port
        and any(r["CidrIp"] == cidr for r in perm["IpRanges"])
        for perm in _egress(estate, group_id)
    )


def test_allow_egress_adds_the_rule_and_rollback_revokes_it(estate: Estate) -> None:
    group = estate.ec2.create_security_group(GroupName="app", Description="app", VpcId=estate.vpc_id)[
        "GroupId"
    ]
    before = _egress(estate, group)
    args = allow_egress.parse_args({"group_id": group, "cidr": "203.0.113.10", "port": 5432})

    record = as_json(allow_egress.run(estate.clients, args, CTX))

    assert record["already_existed"] is False
    assert _allows(estate, group, "203.0.113.10/32", 5432)
    assert allow_egress.verify(estate.clients, args, record).ok
    assert allow_egress.rollback is not None
    allow_egress.rollback(estate.clients, args, record, CTX)
    assert _egress(estate, group) == before
    assert not allow_egress.verify(estate.clients, args, record).ok


def test_allow_egress_that_already_existed_is_kept_on_rollback(estate: Estate) -> None:
    group = estate.ec2.create_security_group(GroupName="app", Description="app", VpcId=estate.vpc_id)[
        "GroupId"
    ]
    estate.ec2.authorize_security_group_egress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}
        ],
    )
    args = allow_egress.parse_args({"group_id": group, "cidr": "203.0.113.0/24", "port": 443})

    record = allow_egress.run(estate.clients, args, CTX)

    assert record["already_existed"] is True
    assert allow_egress.rollback is not None
    allow_egress.rollback(estate.clients, args, record, CTX)
    assert _allows(estate, group, "203.0.113.0/24", 443)


def test_allow_egress_dry_run_and_unknown_group(estate: Estate) -> None:
    group = estate.ec2.create_security_group(GroupName="app", Description="app", VpcId=estate.vpc_id)[
        "GroupId"
    ]
    args = allow_egress.parse_args({"group_id": group, "cidr": "203.0.113.10", "port": 22})
    assert allow_egress.run(estate.clients, args, DRY)["dry_run"] is True
    assert not _allows(estate, group, "203.0.113.10/32", 22)
    missing = allow_egress.parse_args(
        {"group_id": "sg-0123456789abcdef0", "cidr": "203.0.113.10", "port": 22}
    )
    with pytest.raises(ToolError, match="was not found"):
        allow_egress.run(estate.clients, missing, CTX)


@pytest.mark.parametrize(
    "raw",
    [
        {"group_id": "sg-123", "cidr": "203.0.113.10", "port": 22},
        {"group_id": "sg-0123456789abcdef0", "cidr": "203.0.113.10", "port": 0},
        {"group_id": "sg-0123456789abcdef0", "cidr": "203.0.113.10", "port": 70000},
        {"group_id": "sg-0123456789abcdef0", "cidr": "example.com", "port": 22},
    ],
)
def test_allow_egress_validates_its_arguments(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        allow_egress.parse_args(raw)


def test_block_ip_undoes_its_acl_entries_when_the_waf_update_fails(estate: Estate) -> None:
    before = estate.entries()
    ctx = ExecContext(
        incident_id="inc-7",
        waf_ip_set={"name": "gone", "id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", "scope": "REGIONAL"},
    )
    args = block_ip.parse_args({"cidr": "198.51.100.9", "vpc_id": estate.vpc_id})

    with pytest.raises(ToolError, match=r"^Blocking 198\.51\.100\.9/32 failed and was undone: .*\.$"):
        block_ip.run(estate.clients, args, ctx)

    assert estate.entries() == before
