"""Runbooks as data: the shipped set, its eval queries, and the loader's checks."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import load_fixture
from pydantic import ValidationError

from graph.parsing.events import intent_from_event
from knowledge.runbooks import (
    DEFAULT_DIR,
    Runbook,
    RunbookError,
    load_eval_queries,
    load_runbooks,
    parse_runbook,
)
from tools.registry import REGISTRY

GOOD = """---
id: rb-test-disk
title: Test disk runbook
alert_types: ["disk_used_percent", "cloudwatch"]
actions: [snapshot_instance]
severity: medium
keywords: [disk, df]
---
# Test disk runbook

1. Run `df -h`.
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shipped() -> list[Runbook]:
    return load_runbooks()


# --- the shipped runbooks ---------------------------------------------------------------------------


def test_shipped_runbooks_load_sorted_and_unique(shipped: list[Runbook]) -> None:
    ids = [runbook.id for runbook in shipped]
    assert len(shipped) >= 14
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert len(shipped) == len(list(DEFAULT_DIR.glob("*.md")))
    assert all(runbook.path.startswith("knowledge/runbooks/") for runbook in shipped)


def test_every_named_action_is_registered(shipped: list[Runbook]) -> None:
    for runbook in shipped:
        assert set(runbook.actions) <= set(REGISTRY), runbook.id
    named = {action for runbook in shipped for action in runbook.actions}
    assert {"isolate_instance", "snapshot_instance", "block_ip", "scale_asg", "restart_service"} <= named


def test_runbooks_are_steps_a_person_can_follow(shipped: list[Runbook]) -> None:
    for runbook in shipped:
        body = runbook.body
        numbered = re.findall(r"^\d+\. ", body, flags=re.MULTILINE)
        assert len(numbered) >= 5, f"{runbook.id} has {len(numbered)} numbered steps"
        assert "```bash" in body, f"{runbook.id} has no CLI commands"
        for section in ("## Before you act", "## Check afterwards", "## Roll back", "## Escalate"):
            assert section in body, f"{runbook.id} has no '{section}'"


REQUIRED_ALERT_TYPES = {
    "rb-guardduty-crypto-mining": [
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "CryptoCurrency:EC2/BitcoinTool.B",
    ],
    "rb-ssh-rdp-brute-force": [
        "UnauthorizedAccess:EC2/SSHBruteForce",
        "UnauthorizedAccess:EC2/RDPBruteForce",
    ],
    "rb-port-probe-recon": ["Recon:EC2/PortProbeUnprotectedPort"],
    "rb-iam-credentials-compromised": ["Recon:IAMUser/MaliciousIPCaller.Custom"],
    "rb-asg-cpu-saturation": ["CPUUtilization"],
    "rb-alb-5xx-spike": ["HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"],
    "rb-alb-unhealthy-targets": ["UnHealthyHostCount"],
    "rb-disk-full": ["disk_used_percent", "CWAgent"],
    "rb-memory-pressure-oom": ["mem_used_percent"],
    "rb-instance-retirement": [
        "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED",
        "AWS_EC2_INSTANCE_STORE_DRIVE_PERFORMANCE_DEGRADED",
    ],
    "rb-asg-launch-failures": ["EC2 Instance Launch Unsuccessful"],
    "rb-s3-public-bucket": ["S3.2", "S3.8", "Policy:S3/BucketPublicAccessGranted"],
    "rb-cloudtrail-logging-gap": ["CloudTrail.2"],
    "rb-service-down-restart": [],
}


def test_the_required_situations_are_covered(shipped: list[Runbook]) -> None:
    by_id = {runbook.id: runbook for runbook in shipped}
    for runbook_id, alert_types in REQUIRED_ALERT_TYPES.items():
        assert runbook_id in by_id
        assert set(alert_types) <= set(by_id[runbook_id].alert_types), runbook_id
    assert "scale_asg" in by_id["rb-asg-cpu-saturation"].actions
    assert "restart_service" in by_id["rb-service-down-restart"].actions
    assert by_id["rb-guardduty-crypto-mining"].actions == ["snapshot_instance", "isolate_instance"]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("guardduty_crypto_bitcoin_dns.json", "rb-guardduty-crypto-mining"),
        ("guardduty_ssh_bruteforce_sample.json", "rb-ssh-rdp-brute-force"),
        ("guardduty_ssh_bruteforce_sample_sns_http.json", "rb-ssh-rdp-brute-force"),
        ("guardduty_recon_portprobe_unprotected_port.json", "rb-port-probe-recon"),
        ("guardduty_recon_portprobe_unprotected_port_sns_lambda.json", "rb-port-probe-recon"),
        ("guardduty_iam_recon_malicious_ip_caller_custom_sample.json", "rb-iam-credentials-compromised"),
        ("health_ec2_instance_store_drive_performance_degraded.json", "rb-instance-retirement"),
        ("autoscaling_ec2_instance_launch_unsuccessful.json", "rb-asg-launch-failures"),
        ("securityhub_findings_imported_fsbp_cloudtrail2_failed.json", "rb-cloudtrail-logging-gap"),
        ("securityhub_findings_imported_fsbp_iam4_passed.json", "rb-root-account-credentials"),
        ("cloudwatch_alarm_state_change_metric.json", "rb-asg-cpu-saturation"),
        ("cloudwatch_alarm_state_change_anomaly_detection.json", "rb-asg-cpu-saturation"),
    ],
)
def test_real_alerts_find_their_runbook_and_its_actions(
    shipped: list[Runbook], fixture: str, expected: str
) -> None:
    intent = intent_from_event(load_fixture(f"aws/{fixture}"))
    assert intent.alert is not None
    wanted = intent.alert.finding_type
    matches = [runbook for runbook in shipped if wanted in runbook.alert_types]
    if not matches:
        wanted = intent.alert.metric_name
        matches = [runbook for runbook in shipped if wanted and wanted in runbook.alert_types]
    assert [runbook.id for runbook in matches] == [expected]
    if intent.action in REGISTRY:  # the action opsbot plans for this alert is one its runbook covers
        assert intent.action in matches[0].actions


# --- eval queries -------------------------------------------------------------------------------------


def test_eval_queries_target_every_runbook_at_least_twice(shipped: list[Runbook]) -> None:
    queries = load_eval_queries()
    ids = {runbook.id for runbook in shipped}
    assert len(queries) >= 48
    unknown = {query.expected for query in queries} - ids
    assert not unknown, f"eval queries expect runbooks that do not exist: {sorted(unknown)}"
    counts = Counter(query.expected for query in queries)
    assert all(counts[runbook_id] >= 2 for runbook_id in ids), counts
    texts = [query.query.strip().lower() for query in queries]
    assert len(set(texts)) == len(texts)
    titles = {runbook.title.lower() for runbook in shipped}
    assert not titles & set(texts), "an eval query copies a runbook title"


def test_eval_query_file_errors_name_the_entry(tmp_path: Path) -> None:
    path = write(tmp_path, "queries.yaml", "- query: disk full\n  expected: rb-disk-full\n- query: hello\n")
    with pytest.raises(RunbookError, match=r"queries\.yaml: entry 2: the entry has no 'expected'"):
        load_eval_queries(path)


# --- the model ----------------------------------------------------------------------------------------


def test_parse_reads_front_matter_and_body() -> None:
    runbook = parse_runbook(GOOD, "x/test-disk.md")
    assert runbook.id == "rb-test-disk"
    assert runbook.alert_types == ["disk_used_percent", "cloudwatch"]
    assert runbook.actions == ["snapshot_instance"]
    assert runbook.severity == "medium"
    assert runbook.keywords == ["disk", "df"]
    assert runbook.body == "# Test disk runbook\n\n1. Run `df -h`.\n"
    assert runbook.path == "x/test-disk.md"
    assert runbook.content_hash == hashlib.sha256(GOOD.encode()).hexdigest()


def test_document_holds_title_alert_types_actions_keywords_and_body() -> None:
    document = parse_runbook(GOOD, "x.md").document()
    assert document.splitlines()[0] == "Test disk runbook"
    for part in ("disk_used_percent, cloudwatch", "snapshot_instance", "disk, df", "1. Run `df -h`."):
        assert part in document


def test_runbooks_are_frozen_and_reject_extra_fields() -> None:
    runbook = parse_runbook(GOOD, "x.md")
    with pytest.raises(ValidationError):
        runbook.title = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        Runbook.model_validate({**runbook.model_dump(), "owner": "me"})


def test_keywords_are_optional() -> None:
    text = GOOD.replace("keywords: [disk, df]\n", "")
    assert parse_runbook(text, "x.md").keywords == []


# --- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("# Just markdown\n\n1. step\n", "does not start with YAML front matter"),
        ("---\nid: rb-x\ntitle: no closing line\n", "does not start with YAML front matter"),
        (
            GOOD.replace('alert_types: ["disk_used_percent", "cloudwatch"]', "alert_types: [a, b"),
            "not valid YAML",
        ),
        ("---\n- just\n- a list\n---\nbody\n", "not a mapping"),
        (GOOD.replace("severity: medium\n", ""), "front matter has no 'severity'"),
        (GOOD.replace("severity: medium", "severity: urgent"), "'severity' is invalid"),
        (GOOD.replace("id: rb-test-disk", "id: Test Disk"), "not a runbook id"),
        (GOOD.replace("keywords:", "owner: me\nkeywords:"), "unknown key 'owner'"),
        (GOOD.replace("keywords:", "body: sneaky\nkeywords:"), "unknown key 'body'"),
        (GOOD.replace("actions: [snapshot_instance]", "actions: snapshot_instance"), "'actions' is invalid"),
        (GOOD.split("# Test")[0], "has no steps"),
    ],
)
def test_bad_front_matter_or_body_is_a_clear_error(text: str, problem: str) -> None:
    with pytest.raises(RunbookError) as caught:
        parse_runbook(text, "knowledge/runbooks/broken.md")
    message = str(caught.value)
    assert message.startswith("knowledge/runbooks/broken.md: ")
    assert problem in message
    assert "\n" not in message


def test_yaml_error_names_the_line() -> None:
    text = GOOD.replace('alert_types: ["disk_used_percent", "cloudwatch"]', "alert_types: [a, b")
    with pytest.raises(RunbookError, match=r"not valid YAML \(line \d+"):
        parse_runbook(text, "broken.md")


def test_unknown_action_is_named(tmp_path: Path) -> None:
    write(tmp_path, "bad.md", GOOD.replace("[snapshot_instance]", "[snapshot_instance, reboot_everything]"))
    with pytest.raises(RunbookError, match=r"bad\.md: unknown action 'reboot_everything' \(known actions: "):
        load_runbooks(tmp_path)


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD)
    write(tmp_path, "b.md", GOOD.replace("Test disk runbook", "Another"))
    with pytest.raises(RunbookError) as caught:
        load_runbooks(tmp_path)
    assert "b.md: duplicate id 'rb-test-disk', already used by" in str(caught.value)
    assert "a.md" in str(caught.value)


def test_loader_errors_on_missing_directory_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(RunbookError, match="does not exist"):
        load_runbooks(tmp_path / "nowhere")
    (tmp_path / "latin.md").write_bytes(GOOD.replace("df -h", "caf\xe9").encode("latin-1"))
    with pytest.raises(RunbookError, match=r"latin\.md: the file is not UTF-8"):
        load_runbooks(tmp_path)


def test_loader_sorts_by_id_and_ignores_other_files(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD.replace("rb-test-disk", "rb-zulu"))
    write(tmp_path, "b.md", GOOD.replace("rb-test-disk", "rb-alpha"))
    write(tmp_path, "notes.txt", "not a runbook")
    assert [runbook.id for runbook in load_runbooks(tmp_path)] == ["rb-alpha", "rb-zulu"]


# --- content hash -------------------------------------------------------------------------------------


def test_content_hash_is_the_file_hash_and_follows_edits(tmp_path: Path) -> None:
    path = write(tmp_path, "disk.md", GOOD)
    first = load_runbooks(tmp_path)[0]
    assert first.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_runbooks(tmp_path)[0].content_hash == first.content_hash

    write(tmp_path, "disk.md", GOOD + "2. Then run `du -xh /`.\n")
    edited = load_runbooks(tmp_path)[0]
    assert edited.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert edited.content_hash != first.content_hash

    write(tmp_path, "disk.md", GOOD.replace("severity: medium", "severity: high"))
    assert load_runbooks(tmp_path)[0].content_hash not in {first.content_hash, edited.content_hash}


def test_crlf_files_load_and_hash_their_exact_bytes(tmp_path: Path) -> None:
    raw = GOOD.replace("\n", "\r\n").encode()
    (tmp_path / "crlf.md").write_bytes(raw)
    runbook = load_runbooks(tmp_path)[0]
    assert runbook.id == "rb-test-disk"
    assert runbook.severity == "medium"
    assert runbook.content_hash == hashlib.sha256(raw).hexdigest()


def test_runbook_built_in_code_has_a_stable_hash() -> None:
    fields = parse_runbook(GOOD, "x.md").model_dump()
    built = Runbook.model_validate(fields)
    assert built.content_hash == Runbook.model_validate(fields).content_hash
    changed = Runbook.model_validate({**fields, "body": "1. Something else.\n"})
    assert changed.content_hash != built.content_hash
