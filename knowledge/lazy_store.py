"""The knowledge store, opened the first time a run needs it, with the runbooks ingested then.

Opening Chroma and loading the embedding model take seconds; control intents, `opsbot audit` and the
HTTP server's start-up never pay for them. Ingestion is idempotent, so every process can do it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.retrieval import Hit
from knowledge.runbooks import DEFAULT_DIR, load_runbooks

if TYPE_CHECKING:
    from knowledge.store import KnowledgeConfig, KnowledgeStore, StoredIncident

log = logging.getLogger("opsbot.knowledge")


class LazyKnowledgeStore:
    def __init__(self, config: KnowledgeConfig, runbooks_dir: Path | None = None) -> None:
        self.config = config
        self.runbooks_dir = runbooks_dir or DEFAULT_DIR
        self._store: KnowledgeStore | None = None
        self._lock = threading.Lock()

    def store(self) -> KnowledgeStore:
        with self._lock:
            if self._store is None:
                from knowledge.store import KnowledgeStore

                store = KnowledgeStore.open(self.config)
                report = store.ingest_runbooks(load_runbooks(self.runbooks_dir))
                if report.added or report.updated or report.removed:
                    log.info(
                        "runbooks: %d added, %d updated, %d removed",
                        report.added,
                        report.updated,
                        report.removed,
                    )
                self._store = store
            return self._store

    def search_runbooks(self, query: str, k: int) -> list[Hit]:
        return self.store().search_runbooks(query, k)

    def search_incidents(self, query: str, k: int, where: Any = None) -> list[Hit]:
        return self.store().search_incidents(query, k, where)

    def remember_incident(self, incident_id: str, document: str, metadata: Mapping[str, Any]) -> None:
        self.store().remember_incident(incident_id, document, metadata)

    def add_feedback(self, incident_id: str, feedback: Mapping[str, Any]) -> StoredIncident:
        return self.store().add_feedback(incident_id, feedback)

    def get_incident(self, incident_id: str) -> StoredIncident | None:
        return self.store().get_incident(incident_id)
