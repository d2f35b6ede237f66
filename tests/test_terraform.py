"""Terraform hand-off: each executed write action gives the thread the HCL that keeps IaC in step."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
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

from graph.render import summary
from tools.terraform import hcl_string, resource_name, run_snippets, terraform_snippet

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
WRITES = [SCALE, ISOLATE, BLOCK, SNAPSHOT, EGRESS, TAG, STOP, TERMINATE, ROLLBACK]


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
