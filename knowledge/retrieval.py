"""Retrieval contract for the retrieve node.

The ChromaDB-backed retriever (runbooks and past incidents) arrives with the knowledge issue;
until then ``NoKnowledge`` is the explicit, honest answer: nothing retrieved.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict


class Hit(TypedDict):
    id: str
    title: str
    score: float
    metadata: dict[str, Any]


class Retriever(Protocol):
    def runbooks(self, query: str, k: int) -> list[Hit]: ...

    def incidents(self, query: str, k: int) -> list[Hit]: ...


class NoKnowledge:
    """No knowledge base configured: retrieval returns nothing, and the plan relies on rules alone."""

    def runbooks(self, query: str, k: int) -> list[Hit]:
        return []

    def incidents(self, query: str, k: int) -> list[Hit]:
        return []
