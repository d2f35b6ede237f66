"""The knowledge store: runbooks and past incidents in ChromaDB, searched by meaning.

Two collections, ``runbooks`` and ``incidents``, both in cosine space. Each records the name of the
embedding that built it (in its metadata, and in Chroma's own configuration): opening a store with a
different embedding fails with ``EmbeddingMismatch`` rather than silently mixing vector spaces or
starting an empty per-embedding collection beside the old incidents.

Embedded store (``open_local``, one process) or a Chroma server (``open_remote``, several replicas).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import chromadb
import httpx
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.api.types import Documents, EmbeddingFunction, Metadata, Where
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import ChromaError
from pydantic import BaseModel, ConfigDict, model_validator

from knowledge.config import KnowledgeConfig as KnowledgeConfig
from knowledge.embedding import ModelError, make_embedding
from knowledge.retrieval import Hit, RetrievalError
from knowledge.runbooks import Runbook

RUNBOOKS = "runbooks"
INCIDENTS = "incidents"
#: How much of a runbook's document (title, alert types, actions, keywords, then the body) is embedded
#: and stored. MiniLM reads only its first 256 tokens (about 1,000 characters) anyway.
RUNBOOK_DOCUMENT_CHARS = 2000
FEEDBACK_KEYS = ("thumbs_up", "thumbs_down", "feedback")
FEEDBACK_SEPARATOR = "\n"

Scalar = str | int | float | bool


class KnowledgeStoreError(RetrievalError):
    """The knowledge store cannot be opened or used; the message says why in one sentence."""


class EmbeddingMismatch(KnowledgeStoreError):
    """The store was built with another embedding; its vectors cannot be compared with ours."""


class UnknownIncident(KnowledgeStoreError):
    """No remembered incident has that id."""


class IngestReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


class StoredIncident(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    document: str
    metadata: dict[str, Scalar]


class Feedback(BaseModel):
    """One person's verdict on how an incident was handled: a thumb, a comment, or both."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vote: Literal["up", "down"] | None = None
    text: str = ""
    user: str = ""

    @model_validator(mode="after")
    def _says_something(self) -> Feedback:
        if self.vote is None and not self.text.strip():
            raise ValueError("feedback needs a vote (up or down) or a text")
        return self


@contextmanager
def chroma_errors(doing: str) -> Iterator[None]:
    """Turn Chroma's, httpx's and the model's errors into one KnowledgeStoreError that says what failed."""
    try:
        yield
    except KnowledgeStoreError:
        raise
    except ModelError as error:
        raise KnowledgeStoreError(f"cannot {doing}: {error}") from error
    except (ChromaError, ValueError, OSError, httpx.HTTPError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise KnowledgeStoreError(f"cannot {doing}: {reason}") from error


def flatten_metadata(metadata: Mapping[str, Any]) -> dict[str, Scalar]:
    """JSON-native scalars only: lists become comma strings, mappings JSON text, None is dropped."""
    flat: dict[str, Scalar] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if isinstance(value, str | int | float | bool):
            flat[str(key)] = value
        elif isinstance(value, list | tuple | set | frozenset):
            flat[str(key)] = ",".join(str(item) for item in value)
        elif isinstance(value, Mapping):
            flat[str(key)] = json.dumps(value, sort_keys=True, default=str)
        else:
            flat[str(key)] = str(value)
    return flat


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def runbook_document(runbook: Runbook) -> str:
    return runbook.document()[:RUNBOOK_DOCUMENT_CHARS]


def runbook_metadata(runbook: Runbook) -> dict[str, Scalar]:
    return flatten_metadata(
        {
            "title": runbook.title,
            "path": runbook.path,
            "severity": runbook.severity,
            "alert_types": runbook.alert_types,
            "actions": runbook.actions,
            "keywords": runbook.keywords,
            "content_hash": runbook.content_hash,
        }
    )


def incident_title(document: str, metadata: Mapping[str, Any]) -> str:
    title = metadata.get("title")
    if isinstance(title, str) and title:
        return title
    first_line = document.strip().splitlines()[0] if document.strip() else ""
    return first_line[:80]


class KnowledgeStore:
    """Runbooks and incidents in two Chroma collections that share one embedding."""

    def __init__(self, client: ClientAPI, embedding: EmbeddingFunction[Documents], location: str) -> None:
        self.client = client
        self.embedding = embedding
        self.location = location
        try:
            self.runbooks = self._collection(RUNBOOKS)
            self.incidents = self._collection(INCIDENTS)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the client (the SQLite files of an embedded store, the HTTP pool of a remote one)."""
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @classmethod
    def open_local(cls, path: Path, embedding: EmbeddingFunction[Documents]) -> KnowledgeStore:
        """An embedded store in ``path`` (created if missing): one process at a time."""
        with chroma_errors(f"open the knowledge store at {path}"):
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
            )
            return cls(client, embedding, str(path))

    @classmethod
    def open_remote(cls, host: str, port: int, embedding: EmbeddingFunction[Documents]) -> KnowledgeStore:
        """A Chroma server shared by several replicas."""
        with chroma_errors(f"reach the Chroma server at {host}:{port}"):
            client = chromadb.HttpClient(
                host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False)
            )
            return cls(client, embedding, f"{host}:{port}")

    @classmethod
    def open(cls, config: KnowledgeConfig) -> KnowledgeStore:
        embedding = make_embedding(config.embedding, config.model_dir)
        if config.host:
            return cls.open_remote(config.host, config.port, embedding)
        if config.path is None:
            raise KnowledgeStoreError("the knowledge store needs a directory or a Chroma server host")
        return cls.open_local(config.path, embedding)

    def _collection(self, name: str) -> Collection:
        ours = self.embedding.name()
        with chroma_errors(f"open the {name} collection at {self.location}"):
            try:
                collection = self.client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedding": ours},
                    embedding_function=self.embedding,  # type: ignore[arg-type]
                )
            except ValueError as error:
                if "conflict" not in str(error).lower():
                    raise
                raise EmbeddingMismatch(self._mismatch(name, str(error).rsplit(": ", 1)[-1])) from error
        recorded = (collection.metadata or {}).get("embedding")
        if recorded != ours:
            raise EmbeddingMismatch(self._mismatch(name, str(recorded)))
        return collection

    def _mismatch(self, name: str, recorded: str) -> str:
        return (
            f"the {name} collection at {self.location} was built with the embedding {recorded}, "
            f"not {self.embedding.name()}: use that embedding again, or a new knowledge store"
        )

    # runbooks

    def ingest_runbooks(self, runbooks: Sequence[Runbook], *, prune: bool = True) -> IngestReport:
        """Make the runbooks collection match ``runbooks``: no write at all when nothing changed.

        A runbook is re-embedded when its file's content hash or its embedded text changed; with
        ``prune`` (the default), runbooks no longer present are removed.
        """
        wanted = {runbook.id: runbook for runbook in runbooks}
        if len(wanted) != len(runbooks):
            raise KnowledgeStoreError("two runbooks share an id; ingest refuses to pick one")
        with chroma_errors(f"ingest runbooks into {self.location}"):
            stored = self.runbooks.get(include=["metadatas", "documents"])
            current = {
                id_: (meta or {}, doc or "")
                for id_, meta, doc in zip(
                    stored["ids"], stored["metadatas"] or [], stored["documents"] or [], strict=True
                )
            }
            added, updated, unchanged = [], [], []
            for id_, runbook in wanted.items():
                if id_ not in current:
                    added.append(runbook)
                    continue
                meta, doc = current[id_]
                if meta.get("content_hash") == runbook.content_hash and doc == runbook_document(runbook):
                    unchanged.append(runbook)
                else:
                    updated.append(runbook)
            removed = sorted(set(current) - set(wanted)) if prune else []
            writes = added + updated
            if writes:
                batch_size = self._batch_size()
                for start in range(0, len(writes), batch_size):
                    batch = writes[start : start + batch_size]
                    self.runbooks.upsert(
                        ids=[runbook.id for runbook in batch],
                        documents=[runbook_document(runbook) for runbook in batch],
                        metadatas=[runbook_metadata(runbook) for runbook in batch],
                    )
            if removed:
                self.runbooks.delete(ids=removed)
        return IngestReport(
            added=len(added), updated=len(updated), unchanged=len(unchanged), removed=len(removed)
        )

    def search_runbooks(self, query: str, k: int) -> list[Hit]:
        return self._search(self.runbooks, query, k, None)

    def count_runbooks(self) -> int:
        with chroma_errors(f"count runbooks in {self.location}"):
            return self.runbooks.count()

    # incidents

    def remember_incident(self, incident_id: str, document: str, metadata: Mapping[str, Any]) -> None:
        """Store an incident, or replace it: keys it no longer has are dropped, feedback given is kept.

        ``remembered_at`` (UTC, ISO 8601) is added unless ``metadata`` has one.
        """
        if not document.strip():
            raise KnowledgeStoreError(f"incident {incident_id} has no text to remember")
        flat: dict[str, Scalar | None] = {"remembered_at": now_iso(), **flatten_metadata(metadata)}
        existing = self.get_incident(incident_id)
        if existing is not None:
            for key, value in existing.metadata.items():
                if key in FEEDBACK_KEYS:
                    flat[key] = value
                elif key not in flat:
                    flat[key] = None  # Chroma merges metadata on upsert; None deletes the stale key
        with chroma_errors(f"remember incident {incident_id} in {self.location}"):
            self.incidents.upsert(ids=[incident_id], documents=[document], metadatas=[flat])

    def remember_incidents(self, incidents: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Bulk upsert of (id, document, metadata) in Chroma-sized batches, for imports and benchmarks.

        Unlike ``remember_incident`` it does not read first: Chroma merges the new metadata into an
        existing record's, so feedback survives, and so do keys the new metadata no longer has.
        """
        if not incidents:
            return
        with chroma_errors(f"remember incidents in {self.location}"):
            batch_size = self._batch_size()
            for start in range(0, len(incidents), batch_size):
                batch = incidents[start : start + batch_size]
                self.incidents.upsert(
                    ids=[incident_id for incident_id, _, _ in batch],
                    documents=[document for _, document, _ in batch],
                    metadatas=[
                        {"remembered_at": now_iso(), **flatten_metadata(meta)} for _, _, meta in batch
                    ],
                )

    def add_feedback(self, incident_id: str, feedback: Mapping[str, Any]) -> StoredIncident:
        """Count a thumb up or down and append the comment. Last writer wins between replicas."""
        verdict = Feedback.model_validate(dict(feedback))
        incident = self.get_incident(incident_id)
        if incident is None:
            raise UnknownIncident(f"no remembered incident has the id {incident_id}")
        metadata = dict(incident.metadata)
        if verdict.vote is not None:
            key = f"thumbs_{verdict.vote}"
            metadata[key] = int(metadata.get(key, 0)) + 1
        if verdict.text.strip():
            line = f"{verdict.user}: {verdict.text.strip()}" if verdict.user else verdict.text.strip()
            previous = str(metadata.get("feedback", ""))
            metadata["feedback"] = f"{previous}{FEEDBACK_SEPARATOR}{line}" if previous else line
        with chroma_errors(f"record feedback on incident {incident_id}"):
            self.incidents.update(ids=[incident_id], metadatas=[metadata])
        return StoredIncident(id=incident_id, document=incident.document, metadata=metadata)

    def get_incident(self, incident_id: str) -> StoredIncident | None:
        with chroma_errors(f"read incident {incident_id} from {self.location}"):
            found = self.incidents.get(ids=[incident_id], include=["metadatas", "documents"])
        if not found["ids"]:
            return None
        metadata = (found["metadatas"] or [{}])[0] or {}
        document = (found["documents"] or [""])[0] or ""
        return StoredIncident(id=incident_id, document=document, metadata=dict(metadata))  # type: ignore[arg-type]

    def search_incidents(self, query: str, k: int, where: Where | None = None) -> list[Hit]:
        return self._search(self.incidents, query, k, where)

    def count_incidents(self) -> int:
        with chroma_errors(f"count incidents in {self.location}"):
            return self.incidents.count()

    # shared

    def _batch_size(self) -> int:
        return min(1000, self.client.get_max_batch_size())

    def _search(self, collection: Collection, query: str, k: int, where: Where | None) -> list[Hit]:
        if k <= 0 or not query.strip():
            return []
        with chroma_errors(f"search {collection.name} in {self.location}"):
            result = collection.query(
                query_texts=[query],
                n_results=k,
                where=where,
                include=["metadatas", "distances", "documents"],
            )
        ids = result["ids"][0]
        metadatas: list[Metadata] = [m or {} for m in (result["metadatas"] or [[]])[0]]
        distances = (result["distances"] or [[]])[0]
        documents = (result["documents"] or [[]])[0]
        return [
            Hit(
                id=id_,
                title=incident_title(document or "", metadata),
                score=round(1.0 - float(distance), 3),
                metadata=dict(metadata),
            )
            for id_, metadata, distance, document in zip(ids, metadatas, distances, documents, strict=True)
        ]
