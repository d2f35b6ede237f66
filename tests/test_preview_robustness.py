"""Whatever a person types or an integration posts, preview answers with the contract, never a crash."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pytest
from conftest import FIXTURES, load_fixture
from pipeline_support import make_pipeline

WORDS = [
    "isolate",
    "quarantine",
    "block",
    "unblock",
    "scale",
    "restart",
    "snapshot",
    "tag",
    "stop",
    "terminate",
    "allow",
    "egress",
    "roll",
    "back",
    "undo",
    "pause",
    "resume",
    "status",
    "help",
    "investigate",
    "to",
    "on",
    "from",
    "in",
    "by",
    "i-0123456789abcdef0",
    "i-xyz",
    "203.0.113.45",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "web-asg",
    "sg-0123456789abcdef0",
    "act-1a2b3c4d",
    "us-east-1",
    "mars-north-9",
    "-3",
    "6",
    "99999999999",
    "nginx",
    "nginx;rm",
    "<@U0LAN0Z89>",
    "`x`",
    ":fire:",
    "ünïcødé",
    "🔥",
    "'",
    '"',
    "\\",
    "\n",
    "",
    "pls",
    "asap",
]
VALUES = [None, 0, -1, 1.5, "", "x" * 300, [], {}, [1, "a"], {"a": {"b": None}}, True]
DECISIONS = {"auto", "approval", "reject", "log_only", "none"}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, moto_server: str):
    return make_pipeline(Path(tmp_path_factory.mktemp("preview")), moto_server)


def assert_contract(result: dict) -> None:
    assert set(result) == {"intent", "decision", "approvers", "plan", "audit", "reasons"}
    assert result["decision"] in DECISIONS
    assert isinstance(result["intent"]["action"], str)
    if result["decision"] == "reject":
        assert result["reasons"]


def test_random_requests_always_get_the_contract(pipeline) -> None:
    rng = random.Random(20261121)
    for _ in range(300):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 9)))
        assert_contract(pipeline.preview({"text": text, "requester": "U0FUZZ"}))


def test_mangled_events_always_get_the_contract(pipeline) -> None:
    rng = random.Random(7)
    names = sorted(p.name for p in (FIXTURES / "aws").glob("*.json"))
    for _ in range(200):
        event = copy.deepcopy(load_fixture(f"aws/{rng.choice(names)}"))
        target = event.get("detail", event) if isinstance(event.get("detail"), dict) else event
        key = rng.choice(sorted(target))
        target[key] = rng.choice(VALUES)
        result = pipeline.preview({"event": event})
        assert_contract(result)
