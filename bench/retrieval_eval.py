"""Retrieval quality and speed of the knowledge store, for both embeddings (MiniLM int8 and hashing).

For each embedding: ingest the shipped runbooks into a temporary Chroma store, run every labelled
query of knowledge/eval_queries.yaml, and print recall@1, recall@3, query latency p50/p99 and ingest
throughput; then insert 10,000 synthetic incidents (deterministic, built from the runbooks' alert
types and actions with made-up resource ids) in batches, and print query latency at that size.
Nothing is asserted; figures depend on the machine.

    .venv/bin/python bench/retrieval_eval.py [--quick] [--incidents 10000] [--show-misses]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from knowledge.embedding import EmbeddingKind, make_embedding
from knowledge.runbooks import EvalQuery, Runbook, load_eval_queries, load_runbooks
from knowledge.store import KnowledgeStore

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
ACCOUNTS = ("111122223333", "444455556666", "777788889999")
OUTCOMES = ("executed", "rolled back", "rejected by approver", "vetoed by audit", "logged only")
SERVICES = ("checkout", "payments", "search", "auth", "reporting", "ingest", "web", "api")


@dataclass(frozen=True)
class Figures:
    embedding: str
    recall_at_1: float
    recall_at_3: float
    query_p50_ms: float
    query_p99_ms: float
    ingest_docs_per_s: float
    incidents: int
    insert_docs_per_s: float
    incident_p50_ms: float
    incident_p99_ms: float


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


def synthetic_incidents(
    runbooks: Sequence[Runbook], count: int, seed: int = 7
) -> list[tuple[str, str, dict[str, Any]]]:
    """``count`` incidents shaped like what the remember node stores, the same on every run."""
    rng = random.Random(seed)
    incidents: list[tuple[str, str, dict[str, Any]]] = []
    for number in range(count):
        runbook = runbooks[number % len(runbooks)]
        alert_type = rng.choice(runbook.alert_types)
        instance = f"i-0{rng.getrandbits(64):016x}"
        address = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        service = rng.choice(SERVICES)
        region = rng.choice(REGIONS)
        outcome = rng.choice(OUTCOMES)
        actions = runbook.actions or ["investigate"]
        document = (
            f"{alert_type} on {instance} ({service}, {region}, account {rng.choice(ACCOUNTS)}); "
            f"remote address {address}. {runbook.title}. "
            f"Plan: {', '.join(actions)}. Outcome: {outcome}."
        )
        metadata = {
            "title": f"{alert_type} on {instance}",
            "alert_type": alert_type,
            "resource": instance,
            "service": service,
            "region": region,
            "actions": actions,
            "outcome": outcome,
            "runbook": runbook.id,
            "severity": runbook.severity,
        }
        incidents.append((f"inc-{number:06d}", document, metadata))
    return incidents


def evaluate(
    kind: EmbeddingKind,
    runbooks: Sequence[Runbook],
    queries: Sequence[EvalQuery],
    incident_count: int,
    show_misses: bool,
) -> Figures:
    embedding = make_embedding(kind)
    _, load_ms = timed(lambda: embedding(["warm up"]))
    with (
        tempfile.TemporaryDirectory(prefix=f"opsbot-retrieval-{kind}-") as workdir,
        KnowledgeStore.open_local(Path(workdir), embedding) as store,
    ):
        return measure(kind, store, runbooks, queries, incident_count, load_ms, show_misses)


def measure(
    kind: EmbeddingKind,
    store: KnowledgeStore,
    runbooks: Sequence[Runbook],
    queries: Sequence[EvalQuery],
    incident_count: int,
    load_ms: float,
    show_misses: bool,
) -> Figures:
    report, ingest_ms = timed(lambda: store.ingest_runbooks(runbooks))
    print(f"[{kind}] model ready in {load_ms:.0f} ms; ingested {report.added} runbooks in {ingest_ms:.0f} ms")
    top1 = top3 = 0
    latencies: list[float] = []
    for query in queries:
        hits, elapsed = timed(partial(store.search_runbooks, query.query, 3))
        latencies.append(elapsed)
        ids = [hit["id"] for hit in hits]
        top1 += bool(ids) and ids[0] == query.expected
        top3 += query.expected in ids
        if show_misses and (not ids or ids[0] != query.expected):
            print(f"[{kind}]   miss: {query.query!r} expected {query.expected}, got {ids}")
    recall1 = top1 / len(queries)
    recall3 = top3 / len(queries)
    print(
        f"[{kind}] runbooks: recall@1={recall1:.3f} recall@3={recall3:.3f} over {len(queries)} queries, "
        f"query p50={percentile(latencies, 0.5):.1f} ms p99={percentile(latencies, 0.99):.1f} ms"
    )
    incidents = synthetic_incidents(runbooks, incident_count)
    _, insert_ms = timed(lambda: store.remember_incidents(incidents))
    insert_rate = incident_count / (insert_ms / 1000) if insert_ms else 0.0
    print(f"[{kind}] inserted {store.count_incidents()} incidents in {insert_ms / 1000:.1f} s")
    incident_latencies: list[float] = []
    repeats = max(1, 200 // max(1, len(queries)))
    for _ in range(repeats):
        for query in queries:
            _, elapsed = timed(partial(store.search_incidents, query.query, 3))
            incident_latencies.append(elapsed)
    print(
        f"[{kind}] incidents: query p50={percentile(incident_latencies, 0.5):.1f} ms "
        f"p99={percentile(incident_latencies, 0.99):.1f} ms over {len(incident_latencies)} queries"
    )
    return Figures(
        embedding=kind,
        recall_at_1=recall1,
        recall_at_3=recall3,
        query_p50_ms=percentile(latencies, 0.5),
        query_p99_ms=percentile(latencies, 0.99),
        ingest_docs_per_s=len(runbooks) / (ingest_ms / 1000),
        incidents=incident_count,
        insert_docs_per_s=insert_rate,
        incident_p50_ms=percentile(incident_latencies, 0.5),
        incident_p99_ms=percentile(incident_latencies, 0.99),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 incidents instead of 10,000")
    parser.add_argument("--incidents", type=int, default=None, help="synthetic incidents to insert")
    parser.add_argument("--embedding", choices=["minilm", "hashing"], action="append", help="default: both")
    parser.add_argument("--show-misses", action="store_true", help="print each query whose top hit is wrong")
    args = parser.parse_args()
    incident_count = args.incidents if args.incidents is not None else (1_000 if args.quick else 10_000)
    runbooks = load_runbooks()
    queries = load_eval_queries()
    if not runbooks or not queries:
        print("retrieval_eval: no runbooks or no labelled queries to evaluate", file=sys.stderr)
        return 1
    print(f"{len(runbooks)} runbooks, {len(queries)} labelled queries, {incident_count} synthetic incidents")
    results = [
        evaluate(kind, runbooks, queries, incident_count, args.show_misses)
        for kind in (args.embedding or ["minilm", "hashing"])
    ]
    print()
    for figures in results:
        print(
            f"{figures.embedding}: recall@1={figures.recall_at_1:.3f} recall@3={figures.recall_at_3:.3f} "
            f"query p50={figures.query_p50_ms:.1f} ms p99={figures.query_p99_ms:.1f} ms "
            f"ingest={figures.ingest_docs_per_s:.0f} runbooks/s "
            f"insert={figures.insert_docs_per_s:.0f} incidents/s "
            f"@{figures.incidents} incidents p50={figures.incident_p50_ms:.1f} ms "
            f"p99={figures.incident_p99_ms:.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
