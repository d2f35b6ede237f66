"""What each Claude model family accepts in a Messages request, so one request shape works on all.

Issue 5 asks for temperature 0, but the API no longer takes it: API version 2026-10-21, which the
installed SDK (anthropic 2.x) sends, removed ``temperature``, ``top_p`` and ``top_k`` (a 400 even at the
default), and the SDK dropped the parameters. Models from Claude Opus 4.7 and Sonnet 5 on reject a
non-default temperature on any API version. The one place temperature 0 still applies is Bedrock's
legacy InvokeModel integration (Claude Opus 4.6 and earlier), whose models need the older body version
``anthropic_version: bedrock-2023-05-31``; opsbot sends both there.

Claude Sonnet 5.5, Opus 5.5, Haiku 5.5 and Fable 5.x also refuse a forced ``tool_choice`` (``any`` /
``tool``) and ``thinking: {"type": "disabled"}``. The client relaxes a forced tool choice to ``auto``
(the caller validates the reply either way) and asks for the least thinking a model allows. Unknown
models get the conservative traits: they are the newest ones.

Sources: platform.claude.com, "Versions" and "Migrating to API version 2026-10-21", "Claude on Amazon
Bedrock (legacy)", and the Sonnet 5, Sonnet 5.5, Opus 5 and Opus 5.5 model pages and migration guides.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from graph.llm.model_ids import match_family

BEDROCK_LEGACY_VERSION = "bedrock-2023-05-31"


@dataclass(frozen=True)
class ModelTraits:
    bedrock_legacy: bool  # on Bedrock: needs anthropic_version bedrock-2023-05-31, and takes temperature 0
    forced_tool_choice: bool  # accepts tool_choice {"type": "any"} / {"type": "tool", ...}
    thinking: dict[str, Any] | None  # the least thinking to ask for; None sends no thinking field


_LEGACY = ModelTraits(bedrock_legacy=True, forced_tool_choice=True, thinking=None)
_CURRENT = ModelTraits(bedrock_legacy=False, forced_tool_choice=True, thinking=None)
_THINKING_CAN_BE_OFF = ModelTraits(
    bedrock_legacy=False, forced_tool_choice=True, thinking={"type": "disabled"}
)
_THINKS_BETWEEN_TOOLS = ModelTraits(
    bedrock_legacy=False, forced_tool_choice=False, thinking={"type": "between_tools"}
)
_ALWAYS_THINKS = ModelTraits(bedrock_legacy=False, forced_tool_choice=False, thinking=None)

UNKNOWN_MODEL_TRAITS = _ALWAYS_THINKS

_FAMILIES: MappingProxyType[str, ModelTraits] = MappingProxyType(
    {
        "claude-3": _LEGACY,
        "claude-haiku-4-5": _LEGACY,
        "claude-sonnet-4": _LEGACY,
        "claude-sonnet-4-5": _LEGACY,
        "claude-sonnet-4-6": _LEGACY,
        "claude-opus-4": _LEGACY,
        "claude-opus-4-1": _LEGACY,
        "claude-opus-4-5": _LEGACY,
        "claude-opus-4-6": _LEGACY,
        "claude-opus-4-7": _CURRENT,
        "claude-opus-4-8": _CURRENT,
        "claude-sonnet-5": _THINKING_CAN_BE_OFF,
        "claude-opus-5": _THINKING_CAN_BE_OFF,
        "claude-sonnet-5-5": _THINKS_BETWEEN_TOOLS,
        "claude-opus-5-5": _ALWAYS_THINKS,
        "claude-haiku-5-5": _ALWAYS_THINKS,
        "claude-fable-5": _ALWAYS_THINKS,
        "claude-mythos-5": _ALWAYS_THINKS,
    }
)


def traits_for(model_id: str) -> ModelTraits:
    family = match_family(model_id, _FAMILIES)
    return UNKNOWN_MODEL_TRAITS if family is None else _FAMILIES[family]
