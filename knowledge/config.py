"""Where the knowledge store lives and how it embeds. Importing this never imports chromadb."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

EmbeddingKind = Literal["minilm", "hashing"]


class KnowledgeConfig(BaseModel):
    """Where the store lives and how it embeds; built from Settings by the wiring."""

    model_config = ConfigDict(frozen=True)

    path: Path | None = None
    host: str | None = None
    port: int = 8000
    embedding: EmbeddingKind = "minilm"
    model_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> KnowledgeConfig:
        """From Settings: ``knowledge_dir`` (default ``data_dir/knowledge``), ``chroma_host``,
        ``chroma_port``, ``embedding`` and ``embedding_model_dir``; the ones Settings lacks take defaults.
        """
        data_dir = Path(getattr(settings, "data_dir", Path(".opsbot")))
        knowledge_dir = getattr(settings, "knowledge_dir", None)
        return cls(
            path=Path(knowledge_dir) if knowledge_dir else data_dir / "knowledge",
            host=getattr(settings, "chroma_host", None) or None,
            port=int(getattr(settings, "chroma_port", None) or 8000),
            embedding=getattr(settings, "embedding", None) or "minilm",
            model_dir=getattr(settings, "embedding_model_dir", None) or None,
        )
