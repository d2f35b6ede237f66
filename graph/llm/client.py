"""One Messages API call with a bounded wait: our own retries, a per-attempt timeout and a deadline.

The SDK's own retries are off (``max_retries=0``): this loop retries 429, 5xx and 529 (overloaded) and
connection failures with exponential backoff and jitter, waits what ``retry-after`` asks when the
server says, and never waits past the call's deadline. Whatever fails, the caller gets
``LlmUnavailable(reason)`` and falls back to rules; a run never hangs on the LLM.

The request is the same on every provider: the system blocks as given (mark stable ones with
``cached_text_block``), and the least thinking the model allows. Temperature 0 is sent only where the
API still takes it (Bedrock's legacy models); ``graph.llm.model_traits`` says why. The reply carries
the tool calls, the text, token usage, the estimated cost and the latency.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from graph.llm.budget import MAX_CALLS_PER_INCIDENT, IncidentUsage, LlmBudget, reserve_call
from graph.llm.config import Provider, Purpose
from graph.llm.costs import LlmPriceTable, LlmUsage, cost_of
from graph.llm.model_traits import BEDROCK_LEGACY_VERSION, traits_for
from graph.llm.retry import OVERLOADED_STATUS, backoff_seconds, is_retryable_status, retry_after_seconds
from runtime.metrics import record_llm_tokens
from runtime.redaction import mask_secrets

log = logging.getLogger(__name__)

EPHEMERAL = {"type": "ephemeral"}
MAX_CACHE_BREAKPOINTS = 4  # the Messages API refuses a request with more cache_control blocks

FailureKind = Literal[
    "budget",
    "call_limit",
    "timeout",
    "deadline",
    "rate_limited",
    "overloaded",
    "server_error",
    "connection",
    "refused",
    "error",
]
if TYPE_CHECKING:  # the SDK takes seconds to import; rules-only processes never need it
    import anthropic

    SdkClient = anthropic.Anthropic | anthropic.AnthropicBedrock


DEFAULT_BACKOFF_BASE_SECONDS = 0.5


class LlmUnavailable(Exception):
    """The LLM gave no usable answer in time; ``reason`` is one sentence for the thread and the audit."""

    def __init__(self, reason: str, kind: FailureKind, attempts: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind: FailureKind = kind
        self.attempts = attempts


class ToolCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    input: dict[str, Any]


class LlmReply(BaseModel):
    model_config = ConfigDict(frozen=True)

    purpose: Purpose
    provider: Provider
    model: str
    tool_calls: list[ToolCall]
    text: str
    stop_reason: str | None
    usage: LlmUsage
    cost_usd: float
    latency_ms: int
    attempts: int
    request_id: str | None
    adjustments: list[str]  # request settings changed to suit the model (a forced tool_choice)
    content: list[dict[str, Any]]  # the raw content blocks, to send back in a follow-up turn

    def audit_record(self) -> dict[str, Any]:
        """What the audit log keeps of a call: no prompt, no reply text, no key named "token"."""
        return {
            "purpose": self.purpose,
            "provider": self.provider,
            "model": self.model,
            "tools_called": [call.name for call in self.tool_calls],
            "stop_reason": self.stop_reason,
            "usage": self.usage.model_dump(),
            "cost_usd": self.cost_usd,
            "latency_ms": self.latency_ms,
            "attempts": self.attempts,
            "request_id": self.request_id,
            "adjustments": list(self.adjustments),
        }


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def cached_text_block(text: str) -> dict[str, Any]:
    """A text block marked for prompt caching (5 minutes): the system prompt, runbooks, tool context."""
    return {"type": "text", "text": text, "cache_control": dict(EPHEMERAL)}


class LlmClient:
    """Calls Claude through the Anthropic API or Bedrock; thread-safe (the SDK client is)."""

    def __init__(
        self,
        sdk: SdkClient,
        *,
        provider: Provider,
        models: Mapping[Purpose, str],
        timeout_seconds: float,
        deadline_seconds: float,
        max_retries: int,
        budget: LlmBudget | None = None,
        prices: LlmPriceTable | None = None,
        backoff_base_seconds: float = DEFAULT_BACKOFF_BASE_SECONDS,
        backoff_cap_seconds: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._sdk = sdk
        self.provider: Provider = provider
        self._models = dict(models)
        self._timeout = timeout_seconds
        self._deadline = deadline_seconds
        self._max_retries = max_retries
        self._budget = budget
        self._prices = prices
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._sleep = sleep
        self._monotonic = monotonic
        self._jitter = jitter

    def model_for(self, purpose: Purpose) -> str:
        return self._models[purpose]

    def close(self) -> None:
        self._sdk.close()

    def call(
        self,
        purpose: Purpose,
        system: Sequence[Mapping[str, Any]],
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Mapping[str, Any] | None = None,
        max_output: int = 1024,
        *,
        incident: IncidentUsage | None = None,
    ) -> LlmReply:
        """One Messages call; raises ``LlmUnavailable`` (never anything else from the transport)."""
        if max_output <= 0:
            raise ValueError(f"max_output must be a positive number of tokens, got {max_output}")
        _check_cache_breakpoints(system, messages, tools)
        if self._budget is not None and (reason := self._budget.check()) is not None:
            raise LlmUnavailable(reason, "budget")
        if incident is not None and not reserve_call(incident):
            raise LlmUnavailable(
                f"LLM call limit of {MAX_CALLS_PER_INCIDENT} per incident reached; using rules", "call_limit"
            )
        model = self.model_for(purpose)
        request, adjustments = self._request(model, system, messages, tools, tool_choice, max_output)
        try:
            raw, attempts, started = self._send(request)
        except LlmUnavailable as failure:
            if incident is not None:
                incident.add_failure()
            log.warning("LLM %s call to %s failed: %s", purpose, model, failure.reason)
            raise
        try:
            reply = self._reply(purpose, model, raw, attempts, started, adjustments)
        except Exception as error:  # an answer that is not a Messages API response is no answer
            if incident is not None:
                incident.add_failure()
            log.warning("LLM %s answer from %s could not be read", purpose, model, exc_info=True)
            raise LlmUnavailable(
                f"LLM answer could not be read: {type(error).__name__}", "error", attempts
            ) from None
        if self._budget is not None:
            self._budget.record(reply.usage, reply.cost_usd)
        if incident is not None:
            incident.add(reply.usage, reply.cost_usd)
        record_llm_tokens(
            reply.usage.input, reply.usage.output, reply.usage.cache_read, reply.usage.cache_write
        )
        log.info(
            "LLM %s call: %s %s, %d ms, %d attempt(s), usage %s, $%.6f",
            purpose,
            self.provider,
            reply.model,
            reply.latency_ms,
            attempts,
            reply.usage.model_dump(),
            reply.cost_usd,
        )
        return reply

    def _request(
        self,
        model: str,
        system: Sequence[Mapping[str, Any]],
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: Mapping[str, Any] | None,
        max_output: int,
    ) -> tuple[dict[str, Any], list[str]]:
        traits = traits_for(model)
        adjustments: list[str] = []
        request: dict[str, Any] = {
            "model": model,
            "max_tokens": max_output,
            "system": [dict(block) for block in system],
            "messages": [dict(message) for message in messages],
        }
        if self.provider == "bedrock" and traits.bedrock_legacy:
            # The SDK's default body version (2026-10-21) is not served for these models on Bedrock; the
            # legacy version is, and there temperature 0 is still accepted. The SDK keeps both as given.
            request["extra_body"] = {"anthropic_version": BEDROCK_LEGACY_VERSION, "temperature": 0.0}
        if traits.thinking is not None:
            request["thinking"] = dict(traits.thinking)
        if tools:
            request["tools"] = [dict(tool) for tool in tools]
        if tool_choice is not None:
            choice = dict(tool_choice)
            if choice.get("type") in ("any", "tool") and not traits.forced_tool_choice:
                choice = {key: value for key, value in choice.items() if key == "disable_parallel_tool_use"}
                choice["type"] = "auto"
                adjustments.append(f"tool_choice relaxed to auto: {model} refuses forced tool use")
            request["tool_choice"] = choice
        return request, adjustments

    def _send(self, request: dict[str, Any]) -> tuple[Any, int, float]:
        """The raw response, the number of attempts and when the call started (monotonic)."""
        import anthropic

        started = self._monotonic()
        last = "no attempt was made"
        for attempt in range(self._max_retries + 1):
            left = self._time_left(started)
            if left <= 0:
                raise LlmUnavailable(self._deadline_reason(last), "deadline", attempt)
            timeout = min(self._timeout, left)
            try:
                raw = self._sdk.messages.with_raw_response.create(**request, timeout=timeout)
                return raw, attempt + 1, started
            except anthropic.APITimeoutError:
                last = f"no answer within {timeout:.3g} s"
                kind: FailureKind = "timeout"
                wait = 0.0
                retry = self._time_left(started) >= self._timeout
            except anthropic.APIStatusError as error:
                last, kind = _describe_status(error)
                if not is_retryable_status(error.status_code):
                    raise LlmUnavailable(f"LLM refused the request: {last}", "refused", attempt + 1) from None
                wait = self._wait_before_retry(attempt, error)
                retry = self._time_left(started) > wait
            except anthropic.APIConnectionError as error:
                last, kind = f"cannot connect ({mask_secrets(str(error))})", "connection"
                wait = self._wait_before_retry(attempt, None)
                retry = self._time_left(started) > wait
            except Exception as error:  # any transport failure means "use rules"
                log.warning("LLM transport error", exc_info=True)
                reason = f"LLM call failed: {type(error).__name__}: {mask_secrets(str(error))}"
                raise LlmUnavailable(reason, "error", attempt + 1) from None
            if attempt == self._max_retries:
                break
            if not retry:
                raise LlmUnavailable(self._deadline_reason(last), "deadline", attempt + 1)
            log.info("LLM call attempt %d failed (%s); retrying in %.2f s", attempt + 1, last, wait)
            self._sleep(wait)
        attempts = self._max_retries + 1
        raise LlmUnavailable(f"LLM unavailable after {attempts} attempt(s): {last}", kind, attempts)

    def _time_left(self, started: float) -> float:
        return self._deadline - (self._monotonic() - started)

    def _deadline_reason(self, last: str) -> str:
        return f"LLM unavailable: no usable answer within the {self._deadline:g} s deadline ({last})"

    def _wait_before_retry(self, attempt: int, error: anthropic.APIStatusError | None) -> float:
        if error is not None:
            asked = retry_after_seconds(error.response.headers)
            if asked is not None:
                return asked
        return backoff_seconds(attempt, self._backoff_base, self._backoff_cap, self._jitter)

    def _reply(
        self, purpose: Purpose, model: str, raw: Any, attempts: int, started: float, adjustments: list[str]
    ) -> LlmReply:
        message: anthropic.types.Message = raw.parse()
        usage = LlmUsage(
            input=message.usage.input_tokens,
            output=message.usage.output_tokens,
            cache_read=message.usage.cache_read_input_tokens or 0,
            cache_write=message.usage.cache_creation_input_tokens or 0,
        )
        answered_by = str(message.model or model)
        texts = [block.text for block in message.content if block.type == "text"]
        calls = [
            ToolCall(id=block.id, name=block.name, input=dict(block.input))
            for block in message.content
            if block.type == "tool_use"
        ]
        return LlmReply(
            purpose=purpose,
            provider=self.provider,
            model=answered_by,
            tool_calls=calls,
            text="\n".join(texts),
            stop_reason=message.stop_reason,
            usage=usage,
            cost_usd=cost_of(answered_by, usage, self._prices),
            latency_ms=round((self._monotonic() - started) * 1000),
            attempts=attempts,
            request_id=raw.headers.get("request-id") or raw.headers.get("x-amzn-requestid"),
            adjustments=adjustments,
            content=[block.model_dump(mode="json", exclude_none=True) for block in message.content],
        )


def _describe_status(error: anthropic.APIStatusError) -> tuple[str, FailureKind]:
    """``HTTP 529 overloaded_error: Overloaded`` and its kind, from either provider's error shape."""
    status = error.status_code
    headers = error.response.headers
    error_type = error.type or (headers.get("x-amzn-errortype") or "").split(":")[0] or None
    message = error.api_message
    if message is None and isinstance(error.body, dict):
        message = error.body.get("message") or error.body.get("Message")
    text = f"HTTP {status}" + (f" {error_type}" if error_type else "") + (f": {message}" if message else "")
    if status == 429:
        kind: FailureKind = "rate_limited"
    elif status == OVERLOADED_STATUS or error_type == "overloaded_error":
        kind = "overloaded"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "refused"
    return mask_secrets(text), kind


def _check_cache_breakpoints(
    system: Sequence[Mapping[str, Any]],
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None,
) -> None:
    blocks: list[Mapping[str, Any]] = [*system, *(tools or [])]
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            blocks.extend(block for block in content if isinstance(block, Mapping))
    marked = sum(1 for block in blocks if block.get("cache_control"))
    if marked > MAX_CACHE_BREAKPOINTS:
        raise ValueError(
            f"{marked} blocks are marked cache_control; the Messages API allows {MAX_CACHE_BREAKPOINTS}"
        )
