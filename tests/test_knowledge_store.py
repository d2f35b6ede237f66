"""The knowledge store on a real chromadb PersistentClient in tmp_path, with both embeddings."""

from __future__ import annotations

import argparse
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from chromadb.api.types import Documents, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function
from pydantic import ValidationError

from knowledge.cli import add_knowledge_commands
from knowledge.embedding import (
    MINILM_SHA256,
    HashingEmbedding,
    MiniLmEmbedding,
    ModelError,
    default_model_file,
    default_tokenizer_file,
    hashed_feature,
)
from knowledge.retrieval import ChromaRetriever
from knowledge.runbooks import load_runbooks
from knowledge.store import (
    EmbeddingMismatch,
    KnowledgeStore,
    KnowledgeStoreError,
    UnknownIncident,
    flatten_metadata,
)
from tests.conftest import load_fixture


@register_embedding_function
class CountingEmbedding(HashingEmbedding):
    """The hashing embedding, counting every text Chroma asks it to embed (that is, every write)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    @staticmethod
    def name() -> str:
        return "test_counting_hashing"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> CountingEmbedding:
        return CountingEmbedding()

    def __call__(self, input: Documents) -> Embeddings:
        self.embedded.extend(input)
        return super().__call__(input)


RUNBOOK = """---
id: {id}
title: {title}
alert_types: [{alert}]
actions: [{action}]
severity: high
keywords: [{keywords}]
---
{body}
"""

RUNBOOKS = {
    "crypto.md": {
        "id": "rb-crypto",
        "title": "Crypto-mining on an EC2 instance",
        "alert": "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "action": "isolate_instance",
        "keywords": "bitcoin, miner",
        "body": "1. Snapshot the instance.\n2. Isolate it in the quarantine security group.",
    },
    "cpu.md": {
        "id": "rb-cpu",
        "title": "CPU saturation on an Auto Scaling group",
        "alert": "CPUUtilization",
        "action": "scale_asg",
        "keywords": "high cpu, scale out",
        "body": "1. Check the load.\n2. Raise the desired capacity within MaxSize.",
    },
    "ssh.md": {
        "id": "rb-ssh",
        "title": "SSH brute force against an instance",
        "alert": "UnauthorizedAccess:EC2/SSHBruteForce",
        "action": "block_ip",
        "keywords": "ssh, password guessing",
        "body": "1. Block the source address in the NACL.\n2. Check the instance's auth logs.",
    },
}


def write_runbooks(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for filename, fields in RUNBOOKS.items():
        (directory / filename).write_text(RUNBOOK.format(**fields))
    return directory


def snapshot(store: KnowledgeStore) -> dict[str, Any]:
    got = store.runbooks.get(include=["embeddings", "documents", "metadatas"])
    return {
        "ids": got["ids"],
        "documents": got["documents"],
        "metadatas": got["metadatas"],
        "embeddings": [np.asarray(vector).tolist() for vector in got["embeddings"]],
    }


@pytest.fixture(scope="module")
def minilm() -> MiniLmEmbedding:
    return MiniLmEmbedding()


def finding_text(name: str) -> str:
    detail = load_fixture(f"aws/{name}.json")["detail"]
    return f"{detail['type']}: {detail['title']} {detail['description']}"


def alarm_text() -> str:
    detail = load_fixture("aws/cloudwatch_alarm_state_change_metric.json")["detail"]
    metric = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
    return f"CloudWatch alarm {detail['alarmName']}: {metric['name']} {detail['state']['reason']}"


# ingestion


def test_second_ingest_of_unchanged_runbooks_writes_nothing(tmp_path: Path) -> None:
    runbooks = load_runbooks(write_runbooks(tmp_path / "runbooks"))
    embedding = CountingEmbedding()
    store = KnowledgeStore.open_local(tmp_path / "store", embedding)

    first = store.ingest_runbooks(runbooks)
    assert (first.added, first.updated, first.unchanged, first.removed) == (3, 0, 0, 0)
    assert len(embedding.embedded) == 3
    before = snapshot(store)

    embedding.embedded.clear()
    reopened = KnowledgeStore.open_local(tmp_path / "store", embedding)
    second = reopened.ingest_runbooks(load_runbooks(tmp_path / "runbooks"))

    assert (second.added, second.updated, second.unchanged, second.removed) == (0, 0, 3, 0)
    assert embedding.embedded == []
    assert snapshot(reopened) == before
    assert len(before["ids"]) == 3
    assert {meta["content_hash"] for meta in before["metadatas"]} == {
        runbook.content_hash for runbook in runbooks
    }


def test_changed_runbook_is_updated_and_missing_one_removed(tmp_path: Path) -> None:
    directory = write_runbooks(tmp_path / "runbooks")
    embedding = CountingEmbedding()
    store = KnowledgeStore.open_local(tmp_path / "store", embedding)
    store.ingest_runbooks(load_runbooks(directory))

    (directory / "ssh.md").unlink()
    cpu = RUNBOOKS["cpu.md"] | {"body": "1. Look for a runaway process burning CPU before scaling."}
    (directory / "cpu.md").write_text(RUNBOOK.format(**cpu))
    embedding.embedded.clear()
    report = store.ingest_runbooks(load_runbooks(directory))

    assert (report.added, report.updated, report.unchanged, report.removed) == (0, 1, 1, 1)
    assert len(embedding.embedded) == 1
    assert "runaway process" in embedding.embedded[0]
    assert sorted(store.runbooks.get()["ids"]) == ["rb-cpu", "rb-crypto"]
    assert store.search_runbooks("a runaway process is burning CPU", 1)[0]["id"] == "rb-cpu"


def test_runbook_hits_carry_title_score_and_metadata(tmp_path: Path) -> None:
    store = KnowledgeStore.open_local(tmp_path / "store", HashingEmbedding())
    store.ingest_runbooks(load_runbooks(write_runbooks(tmp_path / "runbooks")))

    hits = store.search_runbooks("SSH brute force from 198.51.100.0", 10)

    assert [hit["id"] for hit in hits][:1] == ["rb-ssh"]
    assert len(hits) == 3
    assert hits[0]["title"] == "SSH brute force against an instance"
    assert hits[0]["metadata"]["actions"] == "block_ip"
    assert hits[0]["metadata"]["severity"] == "high"
    assert 0 < hits[0]["score"] <= 1
    assert hits[0]["score"] == round(hits[0]["score"], 3)
    assert hits[0]["score"] > hits[1]["score"] >= hits[2]["score"]
    assert store.search_runbooks("   ", 3) == []
    assert store.search_runbooks("ssh", 0) == []


def test_store_opened_with_another_embedding_fails_clearly(tmp_path: Path) -> None:
    KnowledgeStore.open_local(tmp_path / "store", HashingEmbedding())

    with pytest.raises(EmbeddingMismatch, match="built with the embedding opsbot_hashing_v1_1024"):
        KnowledgeStore.open_local(tmp_path / "store", MiniLmEmbedding())


# MiniLM embedding


def test_minilm_refuses_a_tampered_model(tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shutil.copy(default_tokenizer_file(), model_dir / "tokenizer.json")
    data = bytearray(default_model_file().read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model_dir / "model.onnx").write_bytes(bytes(data))

    with pytest.raises(ModelError, match=f"not the pinned {MINILM_SHA256}"):
        MiniLmEmbedding(model_dir)(["an EC2 instance is mining bitcoin"])


def test_minilm_names_a_missing_model_file(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{}")

    with pytest.raises(ModelError, match=r"model\.onnx, which does not exist"):
        MiniLmEmbedding(tmp_path)(["text"])


def test_store_with_a_broken_model_reports_it_and_retriever_degrades(tmp_path: Path) -> None:
    store = KnowledgeStore.open_local(tmp_path / "store", MiniLmEmbedding(tmp_path / "no-model"))

    with pytest.raises(KnowledgeStoreError, match="does not exist"):
        store.remember_incident("inc-1", "CPU alarm on web", {})
    assert ChromaRetriever(store).incidents("CPU alarm on web", 3) == []


def test_dynamic_padding_gives_the_vectors_of_padding_to_256(minilm: MiniLmEmbedding) -> None:
    texts = [
        "high CPU",
        finding_text("guardduty_crypto_bitcoin_dns"),
        finding_text("guardduty_ssh_bruteforce_sample") * 3,
    ]
    dynamic = np.array(minilm(texts))
    fixed = np.array(MiniLmEmbedding(pad_to=256)(texts))

    assert dynamic.shape == (3, 384)
    assert np.allclose(np.linalg.norm(dynamic, axis=1), 1.0, atol=1e-5)
    assert np.abs(dynamic - fixed).max() < 1e-4


def test_minilm_puts_related_sentences_closer_than_unrelated(minilm: MiniLmEmbedding) -> None:
    cpu, busy, bucket = np.array(
        minilm(
            [
                "EC2 instance CPU utilization is very high",
                "the web servers are overloaded and running hot",
                "an S3 bucket policy grants public read access",
            ]
        )
    )

    assert float(cpu @ busy) > float(cpu @ bucket) + 0.2


def test_minilm_batches_keep_input_order(minilm: MiniLmEmbedding) -> None:
    texts = [f"alarm number {index} " * (index % 7 + 1) for index in range(40)]

    batched = np.array(minilm(texts))
    one_by_one = np.array([minilm([text])[0] for text in texts[:5]])

    assert batched.shape == (40, 384)
    assert np.abs(batched[:5] - one_by_one).max() < 1e-4


def test_minilm_is_safe_to_share_between_threads(minilm: MiniLmEmbedding) -> None:
    texts = [[f"instance i-0{index:04d} has high CPU", "bitcoin domain queried"] for index in range(8)]
    serial = [np.array(minilm(batch)) for batch in texts]

    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = [np.array(result) for result in pool.map(minilm, texts)]

    assert all(np.abs(a - b).max() < 1e-5 for a, b in zip(serial, parallel, strict=True))
    assert MiniLmEmbedding().model() is minilm.model()  # one session per process


# hashing embedding


def test_hashing_embedding_is_deterministic_across_processes() -> None:
    embedding = HashingEmbedding()
    first, again, other = embedding(["SSH brute force on i-99999999", "SSH brute force on i-99999999", "CPU"])

    assert np.array_equal(first, again)
    assert first.shape == (1024,)
    assert abs(float(np.linalg.norm(first)) - 1.0) < 1e-6
    assert float(first @ other) < 0.5
    # blake2b, not Python's salted hash(): pinned values hold in every process
    assert hashed_feature("w:ssh") == 80
    assert hashed_feature("c:<bru") == 241
    assert np.linalg.norm(embedding([""])[0]) == pytest.approx(1.0)


# incidents


@pytest.mark.parametrize("kind", ["minilm", "hashing"])
def test_remembered_incident_is_found_for_a_similar_new_alert(
    tmp_path: Path, kind: str, minilm: MiniLmEmbedding
) -> None:
    store = KnowledgeStore.open_local(tmp_path / "store", minilm if kind == "minilm" else HashingEmbedding())
    store.remember_incident(
        "inc-crypto",
        finding_text("guardduty_crypto_bitcoin_dns") + " Snapshotted and isolated.",
        {"actions": ["snapshot_instance", "isolate_instance"], "outcome": "executed"},
    )
    store.remember_incident(
        "inc-ssh",
        finding_text("guardduty_ssh_bruteforce_sample") + " Source blocked.",
        {"outcome": "executed"},
    )
    store.remember_incident("inc-cpu", alarm_text() + " Scaled the group out.", {"outcome": "executed"})

    crypto = store.search_incidents(
        "GuardDuty: EC2 instance i-0f3e2d1c0b9a87654 is querying a Bitcoin mining pool domain", 3
    )
    cpu = store.search_incidents("CPUUtilization alarm: average CPU on the web servers above 90 percent", 3)

    assert crypto[0]["id"] == "inc-crypto"
    assert crypto[0]["score"] > crypto[1]["score"]
    assert crypto[0]["metadata"]["actions"] == "snapshot_instance,isolate_instance"
    assert cpu[0]["id"] == "inc-cpu"
    only_blocked = store.search_incidents("bitcoin", 3, where={"outcome": "blocked"})
    assert only_blocked == []
    assert store.count_incidents() == 3


def test_feedback_is_stored_and_read_back(tmp_path: Path) -> None:
    store = KnowledgeStore.open_local(tmp_path / "store", HashingEmbedding())
    store.remember_incident("inc-1", "CPU alarm on web, scaled out", {"outcome": "executed", "stale": "x"})

    store.add_feedback("inc-1", {"vote": "up", "user": "U1", "text": "right call"})
    store.add_feedback("inc-1", {"vote": "up"})
    store.add_feedback("inc-1", {"vote": "down", "user": "U2", "text": "scale in afterwards"})
    store.remember_incident("inc-1", "CPU alarm on web, scaled out, then back in", {"outcome": "executed"})

    incident = KnowledgeStore.open_local(tmp_path / "store", HashingEmbedding()).get_incident("inc-1")
    assert incident is not None
    assert incident.document.endswith("then back in")
    assert incident.metadata.pop("remembered_at").startswith("20")
    assert incident.metadata == {
        "outcome": "executed",
        "thumbs_up": 2,
        "thumbs_down": 1,
        "feedback": "U1: right call\nU2: scale in afterwards",
    }
    with pytest.raises(UnknownIncident, match="inc-404"):
        store.add_feedback("inc-404", {"vote": "up"})
    with pytest.raises(ValidationError):
        store.add_feedback("inc-1", {"vote": "sideways"})
    with pytest.raises(ValidationError, match="needs a vote"):
        store.add_feedback("inc-1", {"user": "U3", "text": "  "})
    assert store.get_incident("inc-404") is None


def test_metadata_is_flattened_to_scalars() -> None:
    flat = flatten_metadata(
        {"actions": ["a", "b"], "none": None, "params": {"asg": "web", "n": 3}, "n": 2, "ok": True, "f": 0.5}
    )

    assert flat == {
        "actions": "a,b",
        "params": json.dumps({"asg": "web", "n": 3}),
        "n": 2,
        "ok": True,
        "f": 0.5,
    }


def test_retriever_serves_runbooks_and_incidents(tmp_path: Path) -> None:
    store = KnowledgeStore.open_local(tmp_path / "store", HashingEmbedding())
    store.ingest_runbooks(load_runbooks(write_runbooks(tmp_path / "runbooks")))
    store.remember_incident("inc-1", finding_text("guardduty_ssh_bruteforce_sample"), {"outcome": "executed"})

    retriever = ChromaRetriever(store)

    assert retriever.runbooks("SSH brute force against i-0abc", 2)[0]["id"] == "rb-ssh"
    assert [hit["id"] for hit in retriever.incidents("ssh brute force", 3)] == ["inc-1"]
    assert ChromaRetriever(store, min_score=0.99).runbooks("ssh brute force", 3) == []


# CLI


def test_cli_ingests_then_searches_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = argparse.ArgumentParser(prog="opsbot")
    add_knowledge_commands(top.add_subparsers(dest="command", required=True))
    settings = SimpleNamespace(data_dir=tmp_path, embedding="hashing")
    runbooks = write_runbooks(tmp_path / "runbooks")

    ingest = top.parse_args(["knowledge", "ingest", str(runbooks)])
    assert ingest.run(ingest, settings) == 0
    assert "3 added, 0 updated, 0 unchanged, 0 removed" in capsys.readouterr().out
    search = top.parse_args(["knowledge", "search", "--json", "-k", "2", "bitcoin", "miner"])
    assert search.run(search, settings) == 0

    payload = json.loads(capsys.readouterr().out)
    assert payload["query"] == "bitcoin miner"
    assert payload["incidents"] == []
    assert [hit["id"] for hit in payload["runbooks"]][:1] == ["rb-crypto"]
    assert len(payload["runbooks"]) == 2
    assert set(payload["runbooks"][0]) == {"id", "title", "score"}
    missing = top.parse_args(["knowledge", "ingest", str(tmp_path / "nowhere")])
    assert missing.run(missing, settings) == 2
    assert "does not exist" in capsys.readouterr().err
