"""The LLM transport: Claude through the Anthropic API or Bedrock, with retries, a deadline and budgets.

Prompts live with their callers (the orchestrator and the audit agent); this package sends them and
reports what came back, what it cost, and, when it cannot answer in time, why (``LlmUnavailable``).
"""

from graph.llm.budget import (
    MAX_CALLS_PER_INCIDENT,
    DailyLlmUsage,
    IncidentUsage,
    LlmBudget,
    reserve_call,
)
from graph.llm.client import (
    LlmClient,
    LlmReply,
    LlmUnavailable,
    ToolCall,
    cached_text_block,
    text_block,
)
from graph.llm.config import LlmSettings, Provider, Purpose, describe
from graph.llm.costs import LlmPriceTable, LlmUsage, cost_of, load_llm_prices
from graph.llm.model_traits import ModelTraits, traits_for
from graph.llm.providers import anthropic_sdk, bedrock_sdk, build_llm_client

__all__ = [
    "MAX_CALLS_PER_INCIDENT",
    "DailyLlmUsage",
    "IncidentUsage",
    "LlmBudget",
    "LlmClient",
    "LlmPriceTable",
    "LlmReply",
    "LlmSettings",
    "LlmUnavailable",
    "LlmUsage",
    "ModelTraits",
    "Provider",
    "Purpose",
    "ToolCall",
    "anthropic_sdk",
    "bedrock_sdk",
    "build_llm_client",
    "cached_text_block",
    "cost_of",
    "describe",
    "load_llm_prices",
    "reserve_call",
    "text_block",
    "traits_for",
]
