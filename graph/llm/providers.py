"""The two ways to reach Claude: the Anthropic API and Amazon Bedrock, built from ``LlmSettings``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from graph.llm.budget import LlmBudget
from graph.llm.client import DEFAULT_BACKOFF_BASE_SECONDS, LlmClient
from graph.llm.config import LlmSettings
from graph.llm.costs import LlmPriceTable

if TYPE_CHECKING:
    import anthropic

    from graph.llm.client import SdkClient


def anthropic_sdk(settings: LlmSettings) -> anthropic.Anthropic:
    """The Anthropic API client: the key from ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` honoured."""
    if settings.anthropic_api_key is None:
        raise ValueError("ANTHROPIC_API_KEY is not set, so the Anthropic API cannot be used")
    import anthropic  # imported when an LLM is configured: the SDK takes seconds to load

    return anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url or None,
        timeout=settings.timeout_seconds,
        max_retries=0,
    )


def bedrock_sdk(settings: LlmSettings) -> anthropic.AnthropicBedrock:
    """Claude on Bedrock, signed with SigV4 from the standard AWS credential chain.

    ``OPSBOT_BEDROCK_ENDPOINT_URL`` replaces ``https://bedrock-runtime.<region>.amazonaws.com`` (a VPC
    endpoint, or a local fake in tests).
    """
    if not settings.bedrock_region:
        raise ValueError("no AWS region for Bedrock: set OPSBOT_BEDROCK_REGION or AWS_REGION")
    import anthropic

    return anthropic.AnthropicBedrock(
        aws_region=settings.bedrock_region,
        base_url=settings.bedrock_endpoint_url or None,
        timeout=settings.timeout_seconds,
        max_retries=0,
    )


def build_llm_client(
    settings: LlmSettings,
    budget: LlmBudget | None = None,
    prices: LlmPriceTable | None = None,
    backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS,
) -> LlmClient | None:
    """The configured client, or None when opsbot runs on rules alone (``describe`` says why)."""
    provider = settings.provider
    if provider is None:
        return None
    sdk: SdkClient = anthropic_sdk(settings) if provider == "anthropic" else bedrock_sdk(settings)
    return LlmClient(
        sdk,
        provider=provider,
        models={"orchestrator": settings.orchestrator_model, "auditor": settings.auditor_model},
        timeout_seconds=settings.timeout_seconds,
        deadline_seconds=settings.deadline_seconds,
        max_retries=settings.max_retries,
        budget=budget,
        prices=prices,
        backoff_base_seconds=backoff_base_seconds,
    )
