"""``opsbot knowledge ingest [PATH]``, ``opsbot knowledge search [--json] QUERY`` and
``opsbot knowledge lessons [--json]``.

``cli.main`` hooks these in with ``add_knowledge_commands(sub)``; each parser sets ``run`` to
``run_knowledge_command``, which is called as ``run(args, settings)`` like the other commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.config import KnowledgeConfig
from knowledge.lessons import lessons, render_lessons
from knowledge.retrieval import RetrievalError
from knowledge.runbooks import DEFAULT_DIR, RunbookError, load_runbooks, parse_runbook

if TYPE_CHECKING:  # chromadb takes seconds to import: only the commands that open the store pay for it
    from knowledge.store import KnowledgeStore

DEFAULT_K = 3


def add_knowledge_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``knowledge ingest``, ``search`` and ``lessons`` to the top-level subparsers."""
    knowledge = subparsers.add_parser("knowledge", help="the runbook and incident store (ChromaDB)")
    sub = knowledge.add_subparsers(dest="knowledge_command", required=True)
    ingest = sub.add_parser("ingest", help="load runbooks into the store; unchanged ones are not rewritten")
    ingest.add_argument(
        "path",
        nargs="?",
        help="a runbook directory (the store then matches it: missing runbooks are removed) "
        "or one runbook file (default: the shipped knowledge/runbooks)",
    )
    ingest.set_defaults(run=run_knowledge_command)
    search = sub.add_parser("search", help="the runbooks and past incidents nearest a query")
    search.add_argument("--json", action="store_true", help="print JSON: ids, titles and scores")
    search.add_argument("-k", type=int, default=DEFAULT_K, help=f"hits per collection (default {DEFAULT_K})")
    search.add_argument("query", nargs="+", help="alert text or a question, as in Slack")
    search.set_defaults(run=run_knowledge_command)
    lessons = sub.add_parser(
        "lessons", help="what remembered incidents and feedback say, by action and alert type"
    )
    lessons.add_argument(
        "--json", action="store_true", help="print JSON: one object per action and alert type"
    )
    lessons.set_defaults(run=run_knowledge_command)
    return knowledge


def run_knowledge_command(args: argparse.Namespace, settings_like: Any) -> int:
    """Run ``knowledge ingest|search|lessons``; 0 on success, 2 (with one line on stderr) when it cannot."""
    try:
        from knowledge.store import KnowledgeStore

        config = KnowledgeConfig.from_settings(settings_like)
        store = KnowledgeStore.open(config)
        if args.knowledge_command == "ingest":
            return ingest(store, config, Path(args.path) if args.path else None)
        if args.knowledge_command == "lessons":
            return show_lessons(store, as_json=args.json)
        return search(store, " ".join(args.query), args.k, as_json=args.json)
    except (
        RetrievalError,
        RunbookError,
        ValueError,
        OSError,
    ) as error:  # KnowledgeStoreError is a RetrievalError
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"opsbot: {message}", file=sys.stderr)
        return 2


def ingest(store: KnowledgeStore, config: KnowledgeConfig, path: Path | None) -> int:
    if path is not None and path.is_file():
        runbooks = [parse_runbook(path.read_text(encoding="utf-8"), str(path))]
        report = store.ingest_runbooks(runbooks, prune=False)
    else:
        report = store.ingest_runbooks(load_runbooks(path or DEFAULT_DIR))
    print(
        f"runbooks: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.removed} removed ({store.location}, embedding {config.embedding})"
    )
    return 0


def search(store: KnowledgeStore, query: str, k: int, *, as_json: bool) -> int:
    results = {
        "runbooks": store.search_runbooks(query, k),
        "incidents": store.search_incidents(query, k),
    }
    if as_json:
        payload: dict[str, Any] = {"query": query}
        for kind, hits in results.items():
            payload[kind] = [{"id": hit["id"], "title": hit["title"], "score": hit["score"]} for hit in hits]
        print(json.dumps(payload, indent=2))
        return 0
    for kind, hits in results.items():
        print(f"{kind}:" if hits else f"{kind}: none")
        for hit in hits:
            print(f"  {hit['score']:.3f}  {hit['id']}  {hit['title']}")
    return 0


def show_lessons(store: KnowledgeStore, *, as_json: bool) -> int:
    found = lessons(store)
    if as_json:
        print(json.dumps({"lessons": [lesson.model_dump(mode="json") for lesson in found]}, indent=2))
        return 0
    print(render_lessons(found))
    return 0
