"""Retrieval contract for the retrieve node.

``ChromaRetriever`` serves runbooks and similar past incidents from the knowledge store;
``NoKnowledge`` is the explicit, honest answer when no store is configured: nothing retrieved.

This module stays free of chromadb (about 2.5 s to import) so the graph and the CLI load fast; the
store is passed in already open.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, TypedDict

logger = logging.getLogger(__name__)


class Hit(TypedDict):
    id: str
    title: str
    score: float
    metadata: dict[str, Any]


class RetrievalError(RuntimeError):
    """The knowledge behind a retriever could not be searched; the message says why in one sentence."""


class Retriever(Protocol):
    def runbooks(self, query: str, k: int) -> list[Hit]: ...

    def incidents(self, query: str, k: int) -> list[Hit]: ...


class NoKnowledge:
    """No knowledge base configured: retrieval returns nothing, and the plan relies on rules alone."""

    def runbooks(self, query: str, k: int) -> list[Hit]:
        return []

    def incidents(self, query: str, k: int) -> list[Hit]:
        return []


class SearchableKnowledge(Protocol):
    """What ChromaRetriever needs of ``knowledge.store.KnowledgeStore``."""

    def search_runbooks(self, query: str, k: int) -> list[Hit]: ...

    def search_incidents(self, query: str, k: int, where: Any = None) -> list[Hit]: ...


# Cosine similarity below which a hit is not worth citing or following (both embeddings put unrelated
# runbooks around 0.1-0.28 and the right one above 0.45 on knowledge/eval_queries.yaml).
RELEVANT_AT_LEAST = 0.3


class ChromaRetriever:
    """Runbooks and past incidents from the knowledge store, best first, scores in [-1, 1].

    A store that cannot be searched (a Chroma server down, a missing model) must not stop an incident
    being handled: the failure is logged and retrieval returns nothing, as with ``NoKnowledge``.
    ``min_score`` drops hits too weak to cite.
    """

    def __init__(self, store: SearchableKnowledge, *, min_score: float = 0.0) -> None:
        self.store = store
        self.min_score = min_score

    def runbooks(self, query: str, k: int) -> list[Hit]:
        try:
            hits = self.store.search_runbooks(query, k)
        except RetrievalError as error:
            logger.warning("runbook retrieval skipped: %s", error)
            return []
        return [hit for hit in hits if hit["score"] >= self.min_score]

    def incidents(self, query: str, k: int) -> list[Hit]:
        try:
            hits = self.store.search_incidents(query, k)
        except RetrievalError as error:
            logger.warning("incident retrieval skipped: %s", error)
            return []
        return [hit for hit in hits if hit["score"] >= self.min_score]
