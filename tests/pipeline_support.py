"""Helpers for the pipeline tests: a real Pipeline on moto's server, SQLite checkpoints and a store."""

from __future__ import annotations

import copy
import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conftest import load_fixture
from langgraph.checkpoint.sqlite import SqliteSaver

from cli.estate import Estate, build_estate
from runtime.config import Settings
from runtime.pipeline import Pipeline
from runtime.services import build_context

# People in the shipped policy's groups (policies/decision_matrix.yaml), and people in none.
PLATFORM = "U0PLATFORM1"
PLATFORM_2 = "U0PLATFORM2"
SECURITY = "U0SECURITY1"
ONCALL = "U0ONCALL042"  # asks; approves nothing
STRANGER = "U0STRANGER1"


@dataclass
class FakeClock:
    """A clock the test moves by hand, so expiry is tested without sleeping."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    posts: list[tuple[str, str]] = field(default_factory=list)

    def post(self, thread_id: str, text: str) -> None:
        self.posts.append((thread_id, text))


def make_pipeline(
    data_dir: Path,
    endpoint: str,
    clock: FakeClock | None = None,
    redis_url: str | None = None,
    notifier: Recorder | None = None,
) -> Pipeline:
    settings = Settings(OPSBOT_DATA_DIR=data_dir, AWS_ENDPOINT_URL=endpoint, REDIS_URL=redis_url)
    ctx = build_context(settings, notifier)
    if clock is not None:
        ctx = replace(ctx, clock=clock)
    connection = sqlite3.connect(data_dir / "checkpoints.sqlite", check_same_thread=False)
    return Pipeline(ctx, SqliteSaver(connection))


def make_estate(pipeline: Pipeline) -> Estate:
    return build_estate(pipeline.ctx.clients)


def crypto_event(instance_id: str) -> dict[str, Any]:
    event = copy.deepcopy(load_fixture("aws/guardduty_crypto_bitcoin_dns.json"))
    event["detail"]["resource"]["instanceDetails"]["instanceId"] = instance_id
    return dict(event)


def group_ids(pipeline: Pipeline, instance_id: str) -> list[str]:
    ec2 = pipeline.ctx.clients.client("ec2", "us-east-1")
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return sorted(g["GroupId"] for g in instance["SecurityGroups"])


def desired(pipeline: Pipeline, name: str) -> int:
    autoscaling = pipeline.ctx.clients.client("autoscaling", "us-east-1")
    return int(
        autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0][
            "DesiredCapacity"
        ]
    )


def executions(pipeline: Pipeline, thread_id: str) -> list[dict[str, Any]]:
    from runtime.audit_log import entries

    return [e["data"] for e in entries(pipeline.ctx.audit.path, thread_id=thread_id, kind="action")]
