"""Terraform hand-off: each executed write action gives the thread the HCL that keeps IaC in step."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from network_support import (
    CORE_NETWORK_ID,
    LIVE_DOCUMENT,
    document_with,
    document_without,
    expect_live_base,
    expect_put_and_execute,
    stubbed_networkmanager,
)
from pipeline_support import (
    ONCALL,
    SECURITY,
    FakeClock,
    Recorder,
    crypto_event,
    desired,
    make_estate,
    make_pipeline,
)
from pydantic import BaseModel

from cli.estate import AMI
from graph.render import summary
from tools.base import AwsClients, ExecContext
from tools.cloudwan import SegmentArgs, create_segment, delete_segment, new_segment
from tools.failover import RegionalFailoverArgs, regional_failover
from tools.routes import UpdateRouteArgs, update_route
from tools.terraform import hcl_string, resource_name, run_snippets, terraform_snippet
from tools.terraform_network import INSTANCE_ENI_KEY
from tools.vendor_access import (
    GrantVendorAccessArgs,
    RevokeVendorAccessArgs,
    grant_vendor_access,
    revoke_vendor_access,
)

SECTION = "Terraform to keep your IaC in step:"

# Record shapes copied from real runs of each action on moto.
SCALE = {
    "index": 0,
    "action": "scale_asg",
    "params": {"asg_name": "web-asg", "desired_capacity": 3, "region": "us-east-1"},
    "action_id": "act-b73e63a836",
    "status": "ok",
    "record": {
        "asg_name": "web-asg",
        "prior_desired_capacity": 2,
        "desired_capacity": 3,
        "min_size": 1,
        "max_size": 10,
        "changed": True,
    },
}
ISOLATE = {
    "action": "isolate_instance",
    "params": {"instance_id": "i-9892630188e7d3d2c", "region": "us-east-1"},
    "action_id": "act-ce9f982160",
    "status": "ok",
    "record": {
        "instance_id": "i-9892630188e7d3d2c",
        "quarantine_group_name": "opsbot-quarantine",
        "tag": {"key": "opsbot:isolated", "value": "t1"},
        "prior_tag_value": None,
        "interfaces": [
            {
                "eni_id": "eni-c958766153c082ee3",
                "vpc_id": "vpc-3fbb9af8d5161528b",
                "original_groups": ["sg-f18611d725f6981a9"],
                "quarantine_group_id": "sg-2f9b13707509bcd66",
            }
        ],
        "created_groups": ["sg-2f9b13707509bcd66"],
    },
}
BLOCK = {
    "action": "block_ip",
    "params": {"cidr": "198.51.100.7/32", "region": "us-east-1"},
    "action_id": "act-678e00b8be",
    "status": "ok",
    "record": {
        "cidr": "198.51.100.7/32",
        "vpc_id": None,
        "already_blocked": [],
        "entries": [
            {"nacl_id": "acl-23ae2875316869df0", "vpc_id": "vpc-e1", "rule_number": 1, "egress": False},
            {"nacl_id": "acl-23ae2875316869df0", "vpc_id": "vpc-e1", "rule_number": 1, "egress": True},
        ],
        "waf": {"name": "opsbot-blocklist", "id": "a1b2c3", "scope": "REGIONAL", "changed": True},
    },
}
SNAPSHOT = {
    "action": "snapshot_instance",
    "params": {"instance_id": "i-9892630188e7d3d2c", "region": "us-east-1"},
    "action_id": "act-45cb1bb898",
    "status": "ok",
    "record": {
        "instance_id": "i-9892630188e7d3d2c",
        "incident_id": "t1",
        "snapshots": [
            {
                "volume_id": "vol-0a1a73adef5616a3e",
                "device": "/dev/xvda",
                "snapshot_id": "snap-f040c718124b21212",
            }
        ],
    },
}
EGRESS = {
    "action": "allow_egress",
    "params": {
        "group_id": "sg-0123456789abcdef0",
        "cidr": "203.0.113.10/32",
        "port": 443,
        "region": "us-east-1",
    },
    "action_id": "act-0000000001",
    "status": "ok",
    "record": {
        "group_id": "sg-0123456789abcdef0",
        "cidr": "203.0.113.10/32",
        "port": 443,
        "already_existed": False,
        "changed": True,
    },
}
TAG = {
    "action": "tag_resource",
    "params": {"resource_id": "i-0123456789abcdef0", "key": "owner", "value": 'team "a" ${x}'},
    "action_id": "act-0000000002",
    "status": "ok",
    "record": {
        "resource_id": "i-0123456789abcdef0",
        "key": "owner",
        "value": 'team "a" ${x}',
        "existed": False,
        "prior_value": None,
        "changed": True,
    },
}
STOP = {
    "action": "stop_instance",
    "params": {"instance_id": "i-0123456789abcdef0", "region": "us-east-1"},
    "action_id": "act-0000000003",
    "status": "ok",
    "record": {
        "instance_id": "i-0123456789abcdef0",
        "prior_state": "running",
        "changed": True,
        "state_after_call": "stopping",
    },
}
TERMINATE = {
    "action": "terminate_instance",
    "params": {"instance_id": "i-0123456789abcdef0", "region": "us-east-1"},
    "action_id": "act-0000000004",
    "status": "ok",
    "record": {
        "instance_id": "i-0123456789abcdef0",
        "prior_state": "running",
        "instance_type": "t3.medium",
        "tags": {"Name": "miner-1"},
        "volumes": ["vol-0a1a73adef5616a3e"],
        "changed": True,
        "state_after_call": "shutting-down",
    },
}
RESTART = {
    "action": "restart_service",
    "params": {"instance_id": "i-0123456789abcdef0", "service": "nginx", "region": "us-east-1"},
    "action_id": "act-0000000005",
    "status": "ok",
    "record": {
        "instance_id": "i-0123456789abcdef0",
        "service": "nginx",
        "command_id": "c-1",
        "status": "Success",
    },
}
ROLLBACK = {
    "action": "rollback",
    "params": {"action_id": "act-ce9f982160", "of_action": "isolate_instance", "of_params": {}},
    "action_id": "act-0000000006",
    "status": "ok",
    "record": {"restored_interfaces": ["eni-c958766153c082ee3"], "tag_restored_to": None},
}
# Network action records (issue 6), copied from runs on moto (EC2, Route 53) or the Stubber (Cloud WAN).
GRANT = {
    "action": "grant_vendor_access",
    "params": {
        "vendor": "acme",
        "cidr": "203.0.113.0/24",
        "port": 5432,
        "security_group_id": "sg-6fce50d5c579a6376",
        "hours": 4,
        "region": "us-east-1",
    },
    "action_id": "act-0000000012",
    "status": "ok",
    "record": {
        "security_group_id": "sg-6fce50d5c579a6376",
        "vendor": "acme",
        "cidr": "203.0.113.0/24",
        "port": 5432,
        "hours": 4,
        "description": "opsbot vendor acme until 2026-11-22T08:44:15Z",
        "expires_at": 1795337055.0,
        "expires_at_iso": "2026-11-22T08:44:15Z",
        "rule_ids": ["sgr-1bc3472357a4f6728"],
        "changed": True,
    },
}
REVOKE = {
    "action": "revoke_vendor_access",
    "params": {k: v for k, v in GRANT["params"].items() if k != "hours"},
    "action_id": "act-0000000013",
    "status": "ok",
    "record": {
        "security_group_id": "sg-6fce50d5c579a6376",
        "vendor": "acme",
        "cidr": "203.0.113.0/24",
        "port": 5432,
        "descriptions": ["opsbot vendor acme until 2026-11-22T08:44:15Z"],
        "revoked_rule_ids": ["sgr-1bc3472357a4f6728"],
        "changed": True,
        "detail": "",
    },
}
ROUTE = {
    "action": "update_route",
    "params": {
        "route_table_id": "rtb-2b93349e3714c0ab8",
        "destination_cidr": "0.0.0.0/0",
        "target": "eni-2b8725346b1911a47",
        "region": "us-east-1",
    },
    "action_id": "act-0000000014",
    "status": "ok",
    "record": {
        "route_table_id": "rtb-2b93349e3714c0ab8",
        "destination_cidr": "0.0.0.0/0",
        "target": "eni-2b8725346b1911a47",
        "previous": {"kind": "NetworkInterfaceId", "id": "eni-d25663b125334d6f5"},
        "target_health": "eni-2b8725346b1911a47 is on i-6c6c6226f1fd3a3ff is running, status checks ok/ok",
        "operation": "replace_route",
        "changed": True,
    },
}
SEGMENT_PARAMS = {"core_network_id": "core-network-0a1b2c3d4e5f60718", "region": "us-west-2"}
CREATE_SEGMENT = {
    "action": "create_segment",
    "params": {**SEGMENT_PARAMS, "segment": "payments"},
    "action_id": "act-0000000015",
    "status": "ok",
    "record": {
        "core_network_id": "core-network-0a1b2c3d4e5f60718",
        "segment": "payments",
        "changed": True,
        "previous_version": 7,
        "policy_version": 8,
    },
}
DELETE_SEGMENT = {
    "action": "delete_segment",
    "params": {**SEGMENT_PARAMS, "segment": "sandbox"},
    "action_id": "act-0000000016",
    "status": "ok",
    "record": {
        "core_network_id": "core-network-0a1b2c3d4e5f60718",
        "segment": "sandbox",
        "changed": True,
        "previous_version": 7,
        "policy_version": 8,
        "removed_segment": {
            "name": "sandbox",
            "require-attachment-acceptance": False,
            "deny-filter": ["prod"],
        },
        "removed_index": 3,
    },
}
FAILOVER = {
    "action": "regional_failover",
    "params": {
        "from_region": "us-east-1",
        "to_region": "us-west-2",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "record_name": "api.example.com",
        "region": "us-east-1",
    },
    "action_id": "act-0000000017",
    "status": "ok",
    "record": {
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "record_name": "api.example.com",
        "from_region": "us-east-1",
        "to_region": "us-west-2",
        "prior_weights": [
            {"type": "A", "set_identifier": "us-east-1", "weight": 100},
            {"type": "A", "set_identifier": "us-west-2", "weight": 0},
        ],
        "changed": True,
        "change_id": "/change/C2682N5HXP0BZ4",
        "new_weights": [
            {"type": "A", "set_identifier": "us-east-1", "weight": 0},
            {"type": "A", "set_identifier": "us-west-2", "weight": 100},
        ],
    },
}
FIREWALL = {
    "action": "allow_egress_domain",
    "params": {"domain": "salesforce.com", "rule_group": "prod-api", "region": "us-east-1"},
    "action_id": "act-0000000011",
    "status": "ok",
    "record": {
        "rule_group": "prod-api",
        "domain": "salesforce.com",
        "already_present": False,
        "changed": True,
    },
}
NETWORK_WRITES = [FIREWALL, GRANT, REVOKE, ROUTE, CREATE_SEGMENT, DELETE_SEGMENT, FAILOVER]
WRITES = [SCALE, ISOLATE, BLOCK, SNAPSHOT, EGRESS, TAG, STOP, TERMINATE, ROLLBACK, *NETWORK_WRITES]


@pytest.fixture
def pipeline(tmp_path: Path, aws_endpoint: str):
    return make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())


def posted(pipeline) -> str:
    return str(pipeline.ctx.notifier.posts[-1][1])


def test_crypto_isolation_summary_carries_the_quarantine_group_and_eni(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-tf-crypto", {"event": crypto_event(estate.miner_instance)})
    assert run.state["outcome"] == "executed"
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    instance = ec2.describe_instances(InstanceIds=[estate.miner_instance])["Reservations"][0]["Instances"][0]
    eni = instance["NetworkInterfaces"][0]
    quarantine = eni["Groups"][0]["GroupId"]
    text = posted(pipeline)
    section = text.split(SECTION, 1)[1]
    assert 'resource "aws_security_group"' in section
    assert f'id = "{quarantine}"' in section
    assert f'network_interface_id = "{eni["NetworkInterfaceId"]}"' in section
    assert 'resource "aws_ebs_snapshot"' in section
    isolate = next(e for e in run.state["executions"] if e["action"] == "isolate_instance")
    assert f"# opsbot {isolate['action_id']}" in section
    assert text.index("Outcome: executed") < text.index(SECTION)


def test_scale_summary_sets_desired_capacity(pipeline) -> None:
    estate = make_estate(pipeline)
    run = pipeline.start("t-tf-scale", {"text": f"scale {estate.asg_name} to 3", "requester": ONCALL})
    assert run.state["outcome"] == "executed"
    assert desired(pipeline, estate.asg_name) == 3
    section = posted(pipeline).split(SECTION, 1)[1]
    assert '# in resource "aws_autoscaling_group" "web_asg" (name = "web-asg")' in section
    assert "desired_capacity = 3" in section


def test_block_ip_summary_has_deny_acl_rules(pipeline) -> None:
    make_estate(pipeline)
    pipeline.start("t-tf-block", {"text": "block 198.51.100.7", "requester": ONCALL})
    vote = pipeline.vote("t-tf-block", SECURITY, approve=True)
    assert vote.run is not None
    assert vote.run.state["outcome"] == "executed"
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    acls = ec2.describe_network_acls()["NetworkAcls"]
    denied = [
        (acl["NetworkAclId"], entry["RuleNumber"])
        for acl in acls
        for entry in acl["Entries"]
        if entry.get("CidrBlock") == "198.51.100.7/32" and entry["RuleAction"] == "deny"
    ]
    assert denied
    section = posted(pipeline).split(SECTION, 1)[1]
    assert section.count('resource "aws_network_acl_rule"') == len(denied)
    assert 'cidr_block     = "198.51.100.7/32"' in section
    assert 'rule_action    = "deny"' in section
    for acl_id, _number in denied:
        assert f'network_acl_id = "{acl_id}"' in section


def test_dry_run_and_refused_runs_get_no_section(
    tmp_path: Path, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBOT_DRY_RUN", "true")
    pipeline = make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())
    estate = make_estate(pipeline)
    run = pipeline.start("t-tf-dry", {"event": crypto_event(estate.miner_instance)})
    assert run.state["outcome"] == "dry_run"
    assert SECTION not in posted(pipeline)


def test_scale_snippet() -> None:
    assert terraform_snippet(SCALE) == (
        "# opsbot act-b73e63a836: scale_asg set the desired capacity of web-asg to 3\n"
        '# in resource "aws_autoscaling_group" "web_asg" (name = "web-asg"):\n'
        "desired_capacity = 3"
    )


def test_isolate_snippet_imports_the_group_and_attaches_it_per_eni() -> None:
    text = terraform_snippet(ISOLATE) or ""
    assert "to = aws_security_group.quarantine_vpc_3fbb9af8d5161528b" in text
    assert 'id = "sg-2f9b13707509bcd66"' in text
    assert 'vpc_id      = "vpc-3fbb9af8d5161528b"' in text
    assert "ingress {" not in text
    assert "egress {" not in text
    assert 'resource "aws_network_interface_sg_attachment" "quarantine_eni_c958766153c082ee3"' in text
    assert "security_group_id    = aws_security_group.quarantine_vpc_3fbb9af8d5161528b.id" in text
    assert "remove sg-f18611d725f6981a9 from eni-c958766153c082ee3" in text


def test_block_snippet_has_both_directions_and_the_waf_set() -> None:
    text = terraform_snippet(BLOCK) or ""
    assert "egress         = false" in text
    assert "egress         = true" in text
    assert 'protocol       = "-1"' in text
    assert 'id = "acl-23ae2875316869df0:1:-1:true"' in text
    assert text.count("rule_number    = 1") == 2
    assert '# in resource "aws_wafv2_ip_set" "opsbot_blocklist"' in text
    assert 'addresses = ["198.51.100.7/32"]' in text
    unchanged_waf = {
        **BLOCK,
        "record": {**BLOCK["record"], "waf": {**BLOCK["record"]["waf"], "changed": False}},
    }
    assert "aws_wafv2_ip_set" not in (terraform_snippet(unchanged_waf) or "")


def test_other_action_snippets() -> None:
    egress = terraform_snippet(EGRESS) or ""
    assert (
        'resource "aws_vpc_security_group_egress_rule" "sg_0123456789abcdef0_to_203_0_113_10_32_tcp_443"'
        in egress
    )
    assert 'cidr_ipv4         = "203.0.113.10/32"' in egress
    assert "from_port         = 443" in egress
    tag = terraform_snippet(TAG) or ""
    assert '"owner" = "team \\"a\\" $${x}"' in tag
    stop = terraform_snippet(STOP) or ""
    assert 'resource "aws_ec2_instance_state" "i_0123456789abcdef0"' in stop
    assert 'state       = "stopped"' in stop
    terminate = terraform_snippet(TERMINATE) or ""
    assert "terraform state rm" in terminate
    assert "miner-1" in terminate
    assert all(line.startswith("#") for line in terminate.splitlines())
    snapshot = terraform_snippet(SNAPSHOT) or ""
    assert "usually kept out of IaC" in snapshot
    assert 'resource "aws_ebs_snapshot" "snap_f040c718124b21212"' in snapshot
    assert 'volume_id = "vol-0a1a73adef5616a3e"' in snapshot
    rollback = terraform_snippet(ROLLBACK) or ""
    assert "remove the Terraform opsbot gave for act-ce9f982160" in rollback
    assert terraform_snippet(RESTART) is None


def test_every_snippet_names_its_action_id() -> None:
    for execution in WRITES:
        text = terraform_snippet(execution)
        assert text is not None, execution["action"]
        assert text.startswith(f"# opsbot {execution['action_id']}:")


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_snippets_are_valid_hcl() -> None:
    for execution in WRITES:
        text = terraform_snippet(execution) or ""
        checked = subprocess.run(["terraform", "fmt", "-"], input=text, capture_output=True, text=True)
        assert checked.returncode == 0, (execution["action"], checked.stderr)


def test_names_are_sanitised() -> None:
    assert resource_name("Web ASG/prod:1") == "web_asg_prod_1"
    assert resource_name("1-blue") == "r_1_blue"
    assert resource_name("") == "r"
    weird = {**SCALE, "record": {**SCALE["record"], "asg_name": 'web"asg\n# evil'}}
    text = terraform_snippet(weird) or ""
    assert '"web_asg_evil"' in text
    assert len(text.splitlines()) == 3
    assert hcl_string("a%{b}\\") == '"a%%{b}\\\\"'


@pytest.mark.parametrize(
    "change",
    [
        {"status": "failed", "error": "AWS said no"},
        {"status": "skipped"},
        {"status": "refused"},
        {"status": "dry_run", "record": {"dry_run": True, **SCALE["record"]}},
        {"record": {**SCALE["record"], "changed": False}},
    ],
)
def test_nothing_for_steps_that_changed_nothing(change: dict[str, Any]) -> None:
    assert terraform_snippet({**SCALE, **change}) is None


def test_steps_the_run_rolled_back_are_left_out() -> None:
    undone = [{"action_id": SNAPSHOT["action_id"], "status": "rolled back"}]
    snippets = run_snippets([SNAPSHOT, {**ISOLATE, "status": "failed"}], undone)
    assert snippets == []
    kept = run_snippets([SNAPSHOT], [{"action_id": SNAPSHOT["action_id"], "status": "rollback failed"}])
    assert len(kept) == 1


def test_summary_appends_the_section_only_when_there_is_a_snippet() -> None:
    state = {"intent": {"action": "scale_asg", "text": "scale web-asg to 3"}, "executions": [SCALE]}
    before, section = summary(state).split(f"\n{SECTION}\n")
    assert before.splitlines() == [
        "*scale_asg* — scale web-asg to 3",
        "Executed scale_asg act-b73e63a836: ok",
        "Outcome: executed",
    ]
    assert section == f"```\n{terraform_snippet(SCALE)}\n```"
    assert summary({**state, "executions": [RESTART]}).splitlines()[-1] == "Outcome: executed"


# --- network actions (issue 6) -------------------------------------------------------------------------
# Records below come from real runs of each tool: on moto for EC2 and Route 53, through botocore's Stubber
# for Network Manager, and as the Network Firewall tool's own Stubber test records it.

NET_CTX = ExecContext(incident_id="slack-C0OPS-1700000000.000100")
HOSTILE = 'x"\n}\nresource "aws_iam_user" "pwn" {\n  name = "${file("/etc/passwd")}%{ if true }'


def executed(action: str, args: BaseModel, record: dict[str, Any], index: int = 11) -> dict[str, Any]:
    """An execution as the executor keeps it: the validated params, the tool's record, status ok."""
    return {
        "action": action,
        "params": args.model_dump(mode="json"),
        "action_id": f"act-{index:010d}",
        "status": "ok",
        "record": record,
    }


def code_lines(text: str) -> list[str]:
    """The lines of a snippet that are HCL, not comments."""
    return [line for line in text.splitlines() if not line.lstrip().startswith("#")]


@pytest.fixture
def aws(aws_endpoint: str, clients: AwsClients) -> AwsClients:
    """The session's clients on a freshly reset moto."""
    return clients


def vendor_group(aws: AwsClients) -> str:
    ec2 = aws.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_security_group(GroupName="db", Description="database", VpcId=vpc)["GroupId"])


def vendor_params(group_id: str) -> dict[str, Any]:
    return {"vendor": "acme", "cidr": "203.0.113.0/24", "port": 5432, "security_group_id": group_id}


def test_allow_egress_domain_adds_the_domain_to_the_rule_groups_targets() -> None:
    text = terraform_snippet(FIREWALL) or ""
    assert text.splitlines()[0] == (
        "# opsbot act-0000000011: allow_egress_domain allowed salesforce.com in rule group prod-api"
    )
    assert '# in resource "aws_networkfirewall_rule_group" "prod_api" (name = "prod-api"' in text
    assert code_lines(text) == [
        "rule_group {",
        "  rules_source {",
        "    rules_source_list {",
        '      targets = ["salesforce.com"] # keep the targets already listed',
        "    }",
        "  }",
        "}",
    ]
    already = {**FIREWALL, "record": {**FIREWALL["record"], "already_present": True, "changed": False}}
    assert terraform_snippet(already) is None


def test_grant_snippet_imports_the_rule_ec2_made_with_its_expiry(aws: AwsClients) -> None:
    group = vendor_group(aws)
    args = GrantVendorAccessArgs.model_validate({**vendor_params(group), "hours": 4})
    record = grant_vendor_access.run(aws, args, NET_CTX)
    ec2 = aws.client("ec2", "us-east-1")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group]}])
    [rule] = [r for r in rules["SecurityGroupRules"] if not r["IsEgress"]]

    text = terraform_snippet(executed("grant_vendor_access", args, record)) or ""

    name = f"vendor_acme_{group.replace('-', '_')}_203_0_113_0_24_tcp_5432"
    assert f"to = aws_vpc_security_group_ingress_rule.{name}" in text
    assert f'id = "{rule["SecurityGroupRuleId"]}"' in text
    assert f'resource "aws_vpc_security_group_ingress_rule" "{name}" {{' in text
    assert f'  description       = "{rule["Description"]}"' in text
    assert rule["Description"] == f"opsbot vendor acme until {record['expires_at_iso']}"
    assert f'  security_group_id = "{group}"' in text
    assert '  cidr_ipv4         = "203.0.113.0/24"' in text
    assert '  ip_protocol       = "tcp"' in text
    assert "  from_port         = 5432\n  to_port           = 5432" in text
    assert f"# opsbot revokes it at {record['expires_at_iso']}: if you keep this block, delete it" in text


def test_revoke_snippet_names_the_resource_of_the_grant(aws: AwsClients) -> None:
    group = vendor_group(aws)
    grant = GrantVendorAccessArgs.model_validate({**vendor_params(group), "hours": 2})
    granted = grant_vendor_access.run(aws, grant, NET_CTX)
    revoke = RevokeVendorAccessArgs.model_validate(vendor_params(group))
    record = revoke_vendor_access.run(aws, revoke, NET_CTX)
    left = aws.client("ec2", "us-east-1").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group]}]
    )
    assert [r for r in left["SecurityGroupRules"] if not r["IsEgress"]] == []

    text = terraform_snippet(executed("revoke_vendor_access", revoke, record)) or ""

    grant_text = terraform_snippet(executed("grant_vendor_access", grant, granted)) or ""
    grant_resource = next(line for line in grant_text.splitlines() if line.startswith("resource "))
    assert grant_resource.removesuffix(" {") in text
    assert f"(rule {granted['rule_ids'][0]})" in text
    assert f"# its description was: {granted['description']}" in text
    assert code_lines(text) == []
    again = revoke_vendor_access.run(aws, revoke, NET_CTX)
    assert terraform_snippet(executed("revoke_vendor_access", revoke, again)) is None


@pytest.fixture
def routed(aws: AwsClients) -> dict[str, str]:
    """A VPC whose default route goes through appliance 0's interface; appliance 1 and an IGW beside it."""
    ec2 = aws.client("ec2", "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    instances = ec2.run_instances(ImageId=AMI, MinCount=2, MaxCount=2, SubnetId=subnet)["Instances"]
    enis = [instance["NetworkInterfaces"][0]["NetworkInterfaceId"] for instance in instances]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NetworkInterfaceId=enis[0])
    return {"table": table, "igw": igw, "eni0": enis[0], "eni1": enis[1], "i1": instances[1]["InstanceId"]}


def route_now(aws: AwsClients, table: str, destination: str) -> dict[str, Any]:
    routes = aws.client("ec2", "us-east-1").describe_route_tables(RouteTableIds=[table])["RouteTables"][0]
    return next(r for r in routes["Routes"] if r.get("DestinationCidrBlock") == destination)


def run_route(aws: AwsClients, table: str, destination: str, target: str) -> str:
    args = UpdateRouteArgs(route_table_id=table, destination_cidr=destination, target=target)
    return terraform_snippet(executed("update_route", args, update_route.run(aws, args, NET_CTX))) or ""


def test_update_route_snippet_points_the_route_where_ec2_now_sends_it(
    aws: AwsClients, routed: dict[str, str]
) -> None:
    table = routed["table"]
    name = f"{table.replace('-', '_')}_0_0_0_0_0"

    text = run_route(aws, table, "0.0.0.0/0", routed["eni1"])

    assert route_now(aws, table, "0.0.0.0/0")["NetworkInterfaceId"] == routed["eni1"]
    assert f"to {routed['eni1']} (it went to {routed['eni0']})" in text.splitlines()[0]
    assert f"to = aws_route.{name}" in text
    assert f'id = "{table}_0.0.0.0/0"' in text
    assert code_lines(text)[-5:] == [
        f'resource "aws_route" "{name}" {{',
        f'  route_table_id         = "{table}"',
        '  destination_cidr_block = "0.0.0.0/0"',
        f'  network_interface_id   = "{routed["eni1"]}"',
        "}",
    ]

    created = run_route(aws, table, "10.99.0.0/16", routed["igw"])
    assert route_now(aws, table, "10.99.0.0/16")["GatewayId"] == routed["igw"]
    assert "(a new route)" in created.splitlines()[0]
    assert f'  gateway_id             = "{routed["igw"]}"' in created


def test_a_route_to_an_instance_asks_for_its_network_interface(
    aws: AwsClients, routed: dict[str, str]
) -> None:
    text = run_route(aws, routed["table"], "0.0.0.0/0", routed["i1"])

    assert route_now(aws, routed["table"], "0.0.0.0/0")["InstanceId"] == routed["i1"]
    assert "instance_id =" not in text
    assert "network_interface_id =" not in text
    assert (
        f"  # {routed['i1']} is an instance, and aws_route has no instance_id since AWS provider 5;" in text
    )
    assert "opsbot did not record its primary network interface: set network_interface_id to it" in text


@pytest.mark.parametrize(
    ("target", "argument"),
    [
        ("eni-0123456789abcdef0", "network_interface_id"),
        ("igw-0123456789abcdef0", "gateway_id"),
        ("nat-0123456789abcdef0", "nat_gateway_id"),
        ("tgw-0123456789abcdef0", "transit_gateway_id"),
        ("vpce-0123456789abcdef0", "vpc_endpoint_id"),
        ("pcx-0123456789abcdef0", "vpc_peering_connection_id"),
    ],
)
def test_the_route_argument_follows_the_target_prefix(target: str, argument: str) -> None:
    text = terraform_snippet({**ROUTE, "record": {**ROUTE["record"], "target": target}}) or ""
    [line] = [line for line in code_lines(text) if line.strip().startswith(argument)]
    assert line.split("=", 1)[1].strip() == f'"{target}"'


def test_an_instance_route_uses_its_primary_interface_when_recorded() -> None:
    record = {**ROUTE["record"], "target": "i-0123456789abcdef0", INSTANCE_ENI_KEY: "eni-0fedcba9876543210"}
    text = terraform_snippet({**ROUTE, "record": record}) or ""
    assert '  network_interface_id   = "eni-0fedcba9876543210"' in text
    assert "eni-0fedcba9876543210 is its primary network interface" in text


def test_create_segment_snippet_is_the_segments_block_cloud_wan_got(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    expect_put_and_execute(stubber, 7, document_with(new_segment("payments", NET_CTX)))
    args = SegmentArgs(core_network_id=CORE_NETWORK_ID, segment="payments")
    with stubber:
        record = create_segment.run(clients, args, NET_CTX)
        stubber.assert_no_pending_responses()

    text = terraform_snippet(executed("create_segment", args, record)) or ""

    assert (
        "create_segment added segment payments to core-network-0a1b2c3d4e5f60718 (policy version 8)" in text
    )
    assert (
        '# in data "aws_networkmanager_core_network_policy_document" (the policy_document of resource '
        '"aws_networkmanager_core_network_policy_attachment" "core_network_0a1b2c3d4e5f60718"), add:'
    ) in text
    assert code_lines(text) == [
        "segments {",
        '  name                          = "payments"',
        "  require_attachment_acceptance = true",
        "}",
    ]
    # every setting opsbot gives a new segment is in the block, bar the incident-naming description
    put = new_segment("payments", NET_CTX)
    assert sorted(put) == ["description", "name", "require-attachment-acceptance"]
    assert 'description "created by opsbot (<incident>)"' in text
    unchanged = executed("create_segment", args, {**record, "changed": False})
    assert terraform_snippet(unchanged) is None


def test_delete_segment_snippet_shows_the_removed_block_commented(clients: AwsClients) -> None:
    stubber = stubbed_networkmanager(clients)
    expect_live_base(stubber, 7, LIVE_DOCUMENT)
    expect_put_and_execute(stubber, 7, document_without("legacy"))
    args = SegmentArgs(core_network_id=CORE_NETWORK_ID, segment="legacy")
    with stubber:
        record = delete_segment.run(clients, args, NET_CTX)
        stubber.assert_no_pending_responses()

    text = terraform_snippet(executed("delete_segment", args, record)) or ""

    assert "remove this segments block:" in text
    assert text.splitlines()[2:] == [
        "# segments {",
        '#   name                          = "legacy"',
        '#   description                   = "old hub"',
        "#   require_attachment_acceptance = false",
        "# }",
    ]
    assert code_lines(text) == []


def test_regional_failover_snippet_sets_the_weights_route_53_now_has(aws: AwsClients) -> None:
    route53 = aws.client("route53", "us-east-1")
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="tf")["HostedZone"]["Id"]
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": "api.example.com",
                "Type": kind,
                "SetIdentifier": region,
                "Weight": weight,
                "TTL": 60,
                "ResourceRecords": [{"Value": value}],
            },
        }
        for kind, region, weight, value in [
            ("A", "us-east-1", 100, "192.0.2.10"),
            ("A", "us-west-2", 0, "198.51.100.10"),
            ("AAAA", "us-east-1", 100, "2001:db8::10"),
            ("AAAA", "us-west-2", 0, "2001:db8:1::10"),
        ]
    ]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    zone_id = zone.removeprefix("/hostedzone/")
    args = RegionalFailoverArgs(
        from_region="us-east-1", to_region="us-west-2", hosted_zone_id=zone_id, record_name="api.example.com"
    )

    text = terraform_snippet(executed("regional_failover", args, regional_failover.run(aws, args, NET_CTX)))

    sets = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    now = {(s["Type"], s["SetIdentifier"]): s["Weight"] for s in sets if "Weight" in s}
    assert now == {
        ("A", "us-east-1"): 0,
        ("A", "us-west-2"): 100,
        ("AAAA", "us-east-1"): 0,
        ("AAAA", "us-west-2"): 100,
    }
    blocks = (text or "").split("# in resource ")[1:]
    shown = {}
    for block in blocks:
        kind = block.split('type = "', 1)[1].split('"', 1)[0]
        region = block.split('set_identifier = "', 1)[1].split('"', 1)[0]
        assert f'"aws_route53_record" "api_example_com_{kind.lower()}_{region.replace("-", "_")}"' in block
        assert f'zone_id = "{zone_id}", name = "api.example.com"' in block
        shown[(kind, region)] = int(block.split("weight = ", 1)[1].split("\n", 1)[0])
    assert shown == now
    assert "weighted_routing_policy {\n  weight = 100\n}" in (text or "")


def with_record(execution: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**execution, "record": {**execution["record"], **changes}}


HOSTILE_DESCRIPTION = f"opsbot vendor {HOSTILE} until 2026-11-22T08:44:15Z"
HOSTILE_RUNS = {
    "domain": (with_record(FIREWALL, domain=f"evil.com{HOSTILE}"), [f"evil.com{HOSTILE}"]),
    "grant vendor": (
        with_record(GRANT, vendor=HOSTILE, description=HOSTILE_DESCRIPTION),
        [HOSTILE_DESCRIPTION],
    ),
    "revoke vendor": (with_record(REVOKE, vendor=HOSTILE, descriptions=[HOSTILE_DESCRIPTION]), []),
    "segment": (
        with_record(DELETE_SEGMENT, segment=HOSTILE, removed_segment={"name": HOSTILE, HOSTILE: [HOSTILE]}),
        [HOSTILE],
    ),
    "route target": (with_record(ROUTE, target=f"eni-{HOSTILE}"), [f"eni-{HOSTILE}"]),
    "record name": (with_record(FAILOVER, record_name=HOSTILE), []),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_RUNS))
def test_hostile_names_stay_inside_their_strings_and_comments(case: str) -> None:
    execution, quoted = HOSTILE_RUNS[case]
    benign = terraform_snippet(next(e for e in NETWORK_WRITES if e["action"] == execution["action"])) or ""

    text = terraform_snippet(execution) or ""

    assert len(code_lines(text)) == len(code_lines(benign))  # no line of HCL added or lost
    assert not any(
        line.lstrip().startswith(('resource "aws_iam_user"', "name =")) for line in text.splitlines()
    )
    code = "\n".join(code_lines(text))
    assert re.search(r"(?<![$%])[$%]\{", code) is None  # every ${ and %{ in HCL is escaped as $${ and %%{
    for value in quoted:
        assert hcl_string(value) in text
    for name in re.findall(r'^(?:resource "[a-z0-9_]+" "([^"]*)"|  to = [a-z0-9_]+\.(\S*))', text, re.M):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", "".join(name)), name
    if shutil.which("terraform"):
        checked = subprocess.run(["terraform", "fmt", "-"], input=text, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_network_snippets_are_as_terraform_fmt_writes_them() -> None:
    for execution in NETWORK_WRITES:
        text = (terraform_snippet(execution) or "") + "\n"
        checked = subprocess.run(["terraform", "fmt", "-"], input=text, capture_output=True, text=True)
        assert (checked.returncode, checked.stdout) == (0, text), execution["action"]


def test_a_route_target_of_an_unknown_kind_is_left_to_a_person() -> None:
    text = terraform_snippet(with_record(ROUTE, target="cgw-0123456789abcdef0")) or ""
    assert code_lines(text)[-3:] == [
        '  route_table_id         = "rtb-2b93349e3714c0ab8"',
        '  destination_cidr_block = "0.0.0.0/0"',
        "}",
    ]
    assert "# set the aws_route argument for cgw-0123456789abcdef0, a kind opsbot does not route to" in text
    assert "instance" not in text
