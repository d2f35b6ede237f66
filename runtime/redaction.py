"""Secrets never leave opsbot: redaction for the audit log, logs and chat messages.

Values under secret-named keys are replaced; token-shaped strings (Slack, AWS access key ids,
Anthropic keys) are masked wherever they appear, keeping their recognisable prefix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel

REDACTED = "[redacted]"
_MAX_DEPTH = 32

# A key whose name contains one of these (case-insensitive, "-" read as "_") has its value redacted.
_SECRET_KEY_PARTS = (
    "token",
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "authorization",
    "signing",
    "private_key",
    "session_token",
    "credential",
)

# Secrets recognised by their shape wherever they appear in a string; the recognisable prefix is kept.
_SECRET_PATTERNS = (
    re.compile(r"(xox[abpors]-)[A-Za-z0-9-]+"),  # Slack bot, user, app-level and legacy tokens
    re.compile(r"(xapp-)[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),  # AWS access key ids
    re.compile(r"(sk-ant-)[A-Za-z0-9_-]+"),  # Anthropic API keys
)


def _is_secret_key(key: str) -> bool:
    normalised = key.lower().replace("-", "_")
    return any(part in normalised for part in _SECRET_KEY_PARTS)


def mask_secrets(text: str) -> str:
    """Mask token-shaped secrets (Slack, AWS access key ids, Anthropic keys) inside a string."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: f"{match.group(1)}{REDACTED}", text)
    return text


def redact(value: Any, depth: int = 0) -> Any:
    """A JSON-native copy of value with secret-named keys redacted and token-shaped strings masked."""
    if depth > _MAX_DEPTH:
        return "[too deep]"
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="json"), depth + 1)
    if isinstance(value, Mapping):
        return {
            mask_secrets(str(key)): REDACTED if _is_secret_key(str(key)) else redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, str):
        return mask_secrets(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [redact(item, depth + 1) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((redact(item, depth + 1) for item in value), key=repr)
    if isinstance(value, Enum):
        return redact(value.value, depth + 1)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return mask_secrets(str(value))
