"""The one list helper both parsers share."""

from __future__ import annotations

from collections.abc import Iterable


def distinct(items: Iterable[str]) -> list[str]:
    """The non-empty ``items``, each once, in the order first seen."""
    return list(dict.fromkeys(item for item in items if item))
