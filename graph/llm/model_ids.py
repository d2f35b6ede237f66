"""Model ids as the Anthropic API and Bedrock spell them, reduced to one family name.

``claude-sonnet-4-5-20250929``, ``anthropic.claude-sonnet-4-5-20250929-v1:0`` and
``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` all belong to the family ``claude-sonnet-4-5``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_BEDROCK_VERSION = re.compile(r"-v\d+(:\d+)?$")
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")


def base_model_id(model_id: str) -> str:
    """The Anthropic model id without a Bedrock region prefix, provider, version or date suffix."""
    name = model_id.strip().lower()
    if "anthropic." in name:
        name = name.split("anthropic.", 1)[1]
    name = _CONTEXT_SUFFIX.sub("", name)
    name = _BEDROCK_VERSION.sub("", name)
    return _DATE_SUFFIX.sub("", name)


def match_family(model_id: str, families: Iterable[str]) -> str | None:
    """The longest family the model id belongs to: ``claude-sonnet-5-5`` before ``claude-sonnet-5``."""
    base = base_model_id(model_id)
    matches = [family for family in families if base == family or base.startswith(f"{family}-")]
    return max(matches, key=len) if matches else None
