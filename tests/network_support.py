"""Helpers for the network-action tests: a run that starts from a given intent, and Cloud WAN stubs.

``start_with_intent`` writes the intent into a new run as if the parse node had produced it, then lets
the real graph go on (retrieve, plan, audit, decide, approve, execute, verify): the request-text parsing
of these actions is tested elsewhere. Network Manager is not implemented by moto, so its client is a
real ``boto3.client("networkmanager", region_name="us-west-2")`` under ``botocore.stub.Stubber``, served
through ``AwsClients.use``: every request is checked against botocore's service model.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber
from pipeline_support import FakeClock, Recorder, make_pipeline

from graph.models import Intent
from graph.state import fresh_run
from runtime.pipeline import Pipeline, RunResult
from tools.base import AwsClients

CORE_NETWORK_ID = "core-network-0a1b2c3d4e5f60718"

# A core network policy in the shape of AWS's documented examples (Cloud WAN "Core network policy
# examples"): two edge locations, a shared-services segment shared with every segment, a production
# segment that attachments join by tag, and a legacy segment nothing refers to any more.
LIVE_DOCUMENT: dict[str, Any] = {
    "version": "2021.12",
    "core-network-configuration": {
        "vpn-ecmp-support": False,
        "asn-ranges": ["64512-64555"],
        "edge-locations": [
            {"location": "us-east-1", "asn": 64512},
            {"location": "eu-central-1", "asn": 64513},
        ],
    },
    "segments": [
        {
            "name": "shared",
            "description": "Segment for shared services",
            "require-attachment-acceptance": False,
        },
        {"name": "prod", "require-attachment-acceptance": True, "isolate-attachments": False},
        {"name": "legacy", "description": "old hub", "require-attachment-acceptance": False},
        {"name": "sandbox", "require-attachment-acceptance": False, "deny-filter": ["prod"]},
    ],
    "segment-actions": [
        {"action": "share", "mode": "attachment-route", "segment": "shared", "share-with": "*"}
    ],
    "attachment-policies": [
        {
            "rule-number": 100,
            "condition-logic": "or",
            "conditions": [{"type": "tag-value", "operator": "equals", "key": "segment", "value": "prod"}],
            "action": {"association-method": "constant", "segment": "prod"},
        }
    ],
}


class JsonOf:
    """Equal to a JSON string that parses to ``expected``: the Stubber compares documents, not spacing."""

    def __init__(self, expected: Any) -> None:
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and json.loads(other) == self.expected

    def __repr__(self) -> str:
        return f"JsonOf({self.expected!r})"


def stubbed_networkmanager(clients: AwsClients) -> Stubber:
    """A Stubber on a real Network Manager client, served by ``clients`` for us-west-2 (its home)."""
    client = boto3.client("networkmanager", region_name="us-west-2")
    clients.use("networkmanager", "us-west-2", client)
    return Stubber(client)


def policy_response(
    version: int, document: dict[str, Any], state: str, alias: str = "LIVE"
) -> dict[str, Any]:
    return {
        "CoreNetworkPolicy": {
            "CoreNetworkId": CORE_NETWORK_ID,
            "PolicyVersionId": version,
            "Alias": alias,
            "ChangeSetState": state,
            "CreatedAt": datetime(2025, 1, 6, 9, 30, tzinfo=UTC),
            "PolicyDocument": json.dumps(document),
        }
    }


def expect_live_base(stubber: Stubber, version: int, document: dict[str, Any]) -> None:
    """The tool reads LIVE, then LATEST (the same version: nothing else is pending)."""
    for alias in ("LIVE", "LATEST"):
        stubber.add_response(
            "get_core_network_policy",
            policy_response(version, document, "EXECUTION_SUCCEEDED", alias),
            {"CoreNetworkId": CORE_NETWORK_ID, "Alias": alias},
        )


def expect_put_and_execute(
    stubber: Stubber, base_version: int, new_document: dict[str, Any], token: Any = ANY
) -> None:
    """put (on top of ``base_version``) → PENDING_GENERATION, one poll → READY_TO_EXECUTE, execute."""
    new_version = base_version + 1
    stubber.add_response(
        "put_core_network_policy",
        policy_response(new_version, new_document, "PENDING_GENERATION", "LATEST"),
        {
            "CoreNetworkId": CORE_NETWORK_ID,
            "PolicyDocument": JsonOf(new_document),
            "Description": ANY,
            "LatestVersionId": base_version,
            "ClientToken": token,
        },
    )
    stubber.add_response(
        "get_core_network_policy",
        policy_response(new_version, new_document, "READY_TO_EXECUTE", "LATEST"),
        {"CoreNetworkId": CORE_NETWORK_ID, "PolicyVersionId": new_version},
    )
    stubber.add_response(
        "execute_core_network_change_set",
        {},
        {"CoreNetworkId": CORE_NETWORK_ID, "PolicyVersionId": new_version},
    )


def document_with(segment: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    document = copy.deepcopy(LIVE_DOCUMENT)
    segments = document["segments"]
    segments.insert(len(segments) if index is None else index, segment)
    return document


def document_without(name: str) -> dict[str, Any]:
    document = copy.deepcopy(LIVE_DOCUMENT)
    document["segments"] = [s for s in document["segments"] if s["name"] != name]
    return document


def start_with_intent(pipeline: Pipeline, thread_id: str, intent: Intent) -> RunResult:
    """A new run on ``thread_id`` whose parse step read ``intent``; the rest of the graph runs for real."""
    config: Any = {"configurable": {"thread_id": thread_id}}
    run = fresh_run(thread_id, uuid.uuid4().hex[:12], {"text": intent.text, "requester": intent.requester})
    reading = intent.model_dump(mode="json")
    run.update({"intent": reading, "rules_intent": reading})
    pipeline.graph.update_state(config, run, as_node="parse")
    state = pipeline.graph.invoke(None, config, context=pipeline.ctx)
    return pipeline._finish(thread_id, dict(state))


def network_pipeline(data_dir: Path, endpoint: str, clients: AwsClients) -> Pipeline:
    """A real pipeline on moto's server that shares the session's AWS clients (EC2's model loads once)."""
    pipeline = make_pipeline(data_dir, endpoint, clock=FakeClock(), notifier=Recorder())
    pipeline.ctx = replace(pipeline.ctx, clients=clients)
    return pipeline
