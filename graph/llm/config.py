"""LLM settings from the environment, and the one line startup prints about them.

Provider choice: ``OPSBOT_LLM_PROVIDER=auto`` (the default) uses the Anthropic API when
``ANTHROPIC_API_KEY`` is set and otherwise runs on rules alone; Claude on Amazon Bedrock is used only
when chosen explicitly with ``OPSBOT_LLM_PROVIDER=bedrock`` (credentials: the standard AWS chain).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Provider = Literal["anthropic", "bedrock"]
Purpose = Literal["orchestrator", "auditor"]

DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-5-5"
# A cross-region inference profile: recent Claude models are not invocable on demand by bare model id.
DEFAULT_BEDROCK_MODEL = "global.anthropic.claude-sonnet-5-5"

RULES_ONLY_HINT = "set ANTHROPIC_API_KEY or OPSBOT_LLM_PROVIDER=bedrock"


class LlmSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="", env_file=None, extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    provider_choice: Literal["auto", "anthropic", "bedrock", "none"] = Field(
        default="auto", alias="OPSBOT_LLM_PROVIDER"
    )
    anthropic_api_key: SecretStr | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL")
    llm_model: str | None = Field(default=None, alias="OPSBOT_LLM_MODEL")
    llm_audit_model: str | None = Field(default=None, alias="OPSBOT_LLM_AUDIT_MODEL")
    bedrock_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPSBOT_BEDROCK_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    )
    bedrock_endpoint_url: str | None = Field(default=None, alias="OPSBOT_BEDROCK_ENDPOINT_URL")
    timeout_seconds: PositiveFloat = Field(default=20.0, alias="OPSBOT_LLM_TIMEOUT_SECONDS")
    deadline_seconds: PositiveFloat = Field(default=45.0, alias="OPSBOT_LLM_DEADLINE_SECONDS")
    max_retries: int = Field(default=2, ge=0, le=10, alias="OPSBOT_LLM_MAX_RETRIES")
    daily_token_budget: PositiveInt | None = Field(default=None, alias="OPSBOT_LLM_DAILY_TOKEN_BUDGET")
    daily_cost_budget_usd: PositiveFloat | None = Field(
        default=None, alias="OPSBOT_LLM_DAILY_COST_BUDGET_USD"
    )

    @property
    def provider(self) -> Provider | None:
        """The provider in use, or None when opsbot runs on rules alone."""
        if self.provider_choice == "bedrock":
            return "bedrock" if self.bedrock_region else None
        if self.provider_choice in ("anthropic", "auto") and self.anthropic_api_key is not None:
            return "anthropic"
        return None

    @property
    def off_reason(self) -> str | None:
        """Why the LLM is off, for the startup line; None when a provider is in use."""
        if self.provider is not None:
            return None
        if self.provider_choice == "none":
            return "OPSBOT_LLM_PROVIDER=none"
        if self.provider_choice == "anthropic":
            return "OPSBOT_LLM_PROVIDER=anthropic but ANTHROPIC_API_KEY is not set"
        if self.provider_choice == "bedrock":
            return "OPSBOT_LLM_PROVIDER=bedrock but no region: set OPSBOT_BEDROCK_REGION or AWS_REGION"
        return RULES_ONLY_HINT

    @property
    def orchestrator_model(self) -> str:
        if self.llm_model:
            return self.llm_model
        return DEFAULT_BEDROCK_MODEL if self.provider_choice == "bedrock" else DEFAULT_ANTHROPIC_MODEL

    @property
    def auditor_model(self) -> str:
        return self.llm_audit_model or self.orchestrator_model

    def model_for(self, purpose: Purpose) -> str:
        return self.orchestrator_model if purpose == "orchestrator" else self.auditor_model


def describe(settings: LlmSettings) -> str:
    """The one startup line: which provider and models answer, or why the rule parser runs alone."""
    provider = settings.provider
    if provider is None:
        return f"LLM: off — rules only ({settings.off_reason})"
    where = ""
    if provider == "anthropic" and settings.anthropic_base_url:
        where = f" via {_without_userinfo(settings.anthropic_base_url)}"
    elif provider == "bedrock":
        where = f" in {settings.bedrock_region}"
        if settings.bedrock_endpoint_url:
            where += f" via {_without_userinfo(settings.bedrock_endpoint_url)}"
    line = f"LLM: {provider} {settings.orchestrator_model}{where} (audit: {settings.auditor_model})"
    budgets = _budget_text(settings)
    return f"{line}; daily budget {budgets}" if budgets else line


def _budget_text(settings: LlmSettings) -> str:
    parts = []
    if settings.daily_token_budget is not None:
        parts.append(f"{settings.daily_token_budget:,} tokens")
    if settings.daily_cost_budget_usd is not None:
        parts.append(f"${settings.daily_cost_budget_usd:,.2f}")
    return " / ".join(parts)


def _without_userinfo(url: str) -> str:
    """A URL safe to print: any user:password@ part is dropped."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
