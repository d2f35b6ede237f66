"""The LLM transport against a local fake Messages API: both providers, retries, deadlines, budgets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import anthropic
import pytest
from fake_anthropic import (
    Failure,
    FakeAnthropic,
    fake_anthropic_fixture,  # noqa: F401 - the fake_anthropic fixture
    text_reply,
    tool_use_reply,
    usage_block,
)

from graph.llm import (
    IncidentUsage,
    LlmBudget,
    LlmClient,
    LlmSettings,
    LlmUnavailable,
    LlmUsage,
    anthropic_sdk,
    build_llm_client,
    cached_text_block,
    cost_of,
    describe,
    load_llm_prices,
    text_block,
    traits_for,
)
from policies.schema import PolicyError
from runtime.store import CoordinationStore, RedisStore, SqliteStore

API_KEY = "sk-ant-api03-test-key-0000"
PLAN_TOOL = {
    "name": "submit_plan",
    "description": "The intent and the ordered plan for the request.",
    "input_schema": {
        "type": "object",
        "properties": {"action": {"type": "string"}, "params": {"type": "object"}},
        "required": ["action", "params"],
    },
}
SYSTEM = [
    cached_text_block("You are opsbot. Runbooks follow.\n" + "runbook text " * 50),
    text_block("Be brief."),
]
MESSAGES = [{"role": "user", "content": "isolate i-0abc1234def567890, it is mining bitcoin"}]
PLAN_INPUT = {"action": "isolate_instance", "params": {"instance_id": "i-0abc1234def567890"}}
RULES_ONLY_LINE = "LLM: off — rules only (set ANTHROPIC_API_KEY or OPSBOT_LLM_PROVIDER=bedrock)"
DAY = 1_761_264_000.0  # 2025-10-24 00:00:00 UTC


def settings_for(fake: FakeAnthropic, provider: str = "anthropic", **values: Any) -> LlmSettings:
    if provider == "anthropic":
        values = {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": fake.url, **values}
    else:
        values = {"OPSBOT_LLM_PROVIDER": "bedrock", "OPSBOT_BEDROCK_ENDPOINT_URL": fake.url, **values}
    return LlmSettings(**values)


class ClientMaker(Protocol):
    def __call__(self, settings: LlmSettings, budget: LlmBudget | None = None) -> LlmClient: ...


@pytest.fixture
def client_for() -> Iterator[ClientMaker]:
    """Clients as build_llm_client makes them, with a short backoff so the retry tests stay fast."""
    made: list[LlmClient] = []

    def make(settings: LlmSettings, budget: LlmBudget | None = None) -> LlmClient:
        client = build_llm_client(settings, budget, backoff_base_seconds=0.02)
        assert client is not None
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture(params=["anthropic", "bedrock"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CoordinationStore]:
    backend: CoordinationStore
    if request.param == "redis":
        backend = RedisStore(request.getfixturevalue("redis_url"))
    else:
        backend = SqliteStore(tmp_path / "coordination.sqlite")
    yield backend
    backend.close()


both_stores = pytest.mark.parametrize("store", ["redis", "sqlite"], indirect=True)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- the two providers ---------------------------------------------------------------------------


def test_anthropic_call_sends_key_to_base_url_with_cached_system_and_no_sampling_parameters(
    fake_anthropic: FakeAnthropic,
    client_for: ClientMaker,
) -> None:
    usage = usage_block(input=1200, output=300, cache_read=4000, cache_write=2000)
    fake_anthropic.script(tool_use_reply("submit_plan", PLAN_INPUT, model="claude-sonnet-4-6", usage=usage))
    client = client_for(settings_for(fake_anthropic, OPSBOT_LLM_MODEL="claude-sonnet-4-6"))

    reply = client.call(
        "orchestrator", SYSTEM, MESSAGES, [PLAN_TOOL], {"type": "tool", "name": "submit_plan"}, max_output=800
    )

    [sent] = fake_anthropic.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["authorization"] == f"Bearer {API_KEY}"  # anthropic 2.x: Bearer, not x-api-key
    assert sent.headers["anthropic-version"] == "2026-10-21"
    body = sent.json
    assert body["model"] == "claude-sonnet-4-6"
    assert not {"temperature", "top_p", "top_k"} & body.keys()  # API 2026-10-21 answers 400 to them
    assert body["max_tokens"] == 800
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in body["system"][1]
    assert body["tools"] == [PLAN_TOOL]
    assert body["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert "thinking" not in body
    assert "stream" not in body or body["stream"] is False

    [call] = reply.tool_calls
    assert (call.name, call.input) == ("submit_plan", PLAN_INPUT)
    assert call.id.startswith("toolu_")
    assert reply.stop_reason == "tool_use"
    assert (reply.provider, reply.model, reply.attempts) == ("anthropic", "claude-sonnet-4-6", 1)
    assert reply.usage == LlmUsage(input=1200, output=300, cache_read=4000, cache_write=2000)
    # Sonnet 4.6: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million tokens.
    assert reply.cost_usd == pytest.approx((1200 * 3 + 300 * 15 + 4000 * 0.30 + 2000 * 3.75) / 1e6)
    assert str(reply.request_id).startswith("req_fake_")
    assert reply.adjustments == []
    assert reply.latency_ms >= 0


def test_default_model_gets_a_request_it_accepts(
    fake_anthropic: FakeAnthropic, client_for: ClientMaker
) -> None:
    """claude-sonnet-5-5 answers 400 to a forced tool choice and to disabled thinking."""
    fake_anthropic.script(tool_use_reply("submit_plan", PLAN_INPUT, thinking="The user names one instance."))
    settings = settings_for(fake_anthropic)
    assert settings.orchestrator_model == "claude-sonnet-5-5"

    reply = client_for(settings).call(
        "orchestrator", SYSTEM, MESSAGES, [PLAN_TOOL], {"type": "tool", "name": "submit_plan"}
    )

    body = fake_anthropic.requests[0].json
    assert "temperature" not in body
    assert body["tool_choice"] == {"type": "auto"}
    assert body["thinking"] == {"type": "between_tools"}
    assert [call.name for call in reply.tool_calls] == ["submit_plan"]
    assert reply.text == ""
    assert [block["type"] for block in reply.content] == ["thinking", "tool_use"]
    assert reply.adjustments == ["tool_choice relaxed to auto: claude-sonnet-5-5 refuses forced tool use"]


def test_bedrock_call_is_sigv4_signed_to_the_model_invoke_path(
    fake_anthropic: FakeAnthropic, client_for: ClientMaker
) -> None:
    usage = usage_block(input=1000, output=200, cache_read=3000, cache_write=0)
    fake_anthropic.script(text_reply("isolate_instance", usage=usage))
    settings = settings_for(fake_anthropic, "bedrock")
    assert settings.provider == "bedrock"

    reply = client_for(settings).call("auditor", SYSTEM, MESSAGES, max_output=64)

    [sent] = fake_anthropic.requests
    assert sent.path == "/model/global.anthropic.claude-sonnet-5-5/invoke"
    assert sent.model == "global.anthropic.claude-sonnet-5-5"
    authorization = sent.headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/bedrock/aws4_request" in authorization
    assert "SignedHeaders=" in authorization
    assert "Signature=" in authorization
    assert sent.headers["x-amz-date"]
    assert "x-api-key" not in sent.headers
    assert sent.json["anthropic_version"] == "2026-10-21"
    assert "temperature" not in sent.json
    assert "model" not in sent.json
    assert sent.json["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert (reply.provider, reply.text, reply.tool_calls) == ("bedrock", "isolate_instance", [])
    # Sonnet 5.5: $2 in, $10 out, $0.10 cache read per million tokens.
    assert reply.cost_usd == pytest.approx((1000 * 2 + 200 * 10 + 3000 * 0.10) / 1e6)
    assert reply.request_id is not None


def test_bedrock_legacy_model_gets_the_legacy_body_version_and_temperature_zero(
    fake_anthropic: FakeAnthropic,
    client_for: ClientMaker,
) -> None:
    model = "us.anthropic.claude-sonnet-4-6"
    fake_anthropic.script(tool_use_reply("submit_plan", PLAN_INPUT, model="claude-sonnet-4-6"))
    settings = settings_for(fake_anthropic, "bedrock", OPSBOT_LLM_MODEL=model)

    reply = client_for(settings).call(
        "orchestrator", SYSTEM, MESSAGES, [PLAN_TOOL], {"type": "tool", "name": "submit_plan"}
    )

    [sent] = fake_anthropic.requests
    assert sent.path == f"/model/{model}/invoke"
    assert sent.json["anthropic_version"] == "bedrock-2023-05-31"
    assert sent.json["temperature"] == 0
    assert sent.json["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert reply.tool_calls[0].input == PLAN_INPUT


def test_the_fake_refuses_sampling_parameters_like_the_api(fake_anthropic: FakeAnthropic) -> None:
    """Guards the guard: a client that sent temperature on API 2026-10-21 would fail these tests."""
    fake_anthropic.script(text_reply("not reached"))
    sdk = anthropic_sdk(settings_for(fake_anthropic))

    with pytest.raises(anthropic.BadRequestError, match="temperature: Extra inputs are not permitted"):
        sdk.messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=MESSAGES, extra_body={"temperature": 0}
        )
    assert fake_anthropic.pending == 1
    sdk.close()


# --- retries, timeouts and the deadline ----------------------------------------------------------


def test_rate_limited_call_waits_for_retry_after_then_succeeds(
    fake_anthropic: FakeAnthropic, client_for: ClientMaker
) -> None:
    fake_anthropic.script(Failure(429, retry_after=1), text_reply("ok"))
    client = client_for(settings_for(fake_anthropic))

    reply = client.call("orchestrator", SYSTEM, MESSAGES)

    first, second = fake_anthropic.requests
    assert second.at - first.at >= 0.95
    assert second.json == first.json
    assert (reply.text, reply.attempts) == ("ok", 2)
    assert reply.latency_ms >= 950


def test_transient_failures_are_retried_on_both_providers(
    fake_anthropic: FakeAnthropic, provider: str, client_for: ClientMaker
) -> None:
    throttled = Failure(429)
    unavailable = Failure(529 if provider == "anthropic" else 503)
    fake_anthropic.script(throttled, unavailable, tool_use_reply("submit_plan", PLAN_INPUT))
    client = client_for(settings_for(fake_anthropic, provider))

    reply = client.call("orchestrator", SYSTEM, MESSAGES, [PLAN_TOOL])

    assert len(fake_anthropic.requests) == 3
    assert reply.attempts == 3
    assert reply.tool_calls[0].input == PLAN_INPUT


def test_overloaded_then_success(fake_anthropic: FakeAnthropic, client_for: ClientMaker) -> None:
    fake_anthropic.script(Failure(529), text_reply("ok"))

    reply = client_for(settings_for(fake_anthropic)).call("orchestrator", SYSTEM, MESSAGES)

    assert [request.path for request in fake_anthropic.requests] == ["/v1/messages"] * 2
    assert reply.attempts == 2


def test_server_errors_every_time_give_up_after_the_retries(
    fake_anthropic: FakeAnthropic, provider: str, client_for: ClientMaker
) -> None:
    fake_anthropic.script(Failure(500), Failure(500), Failure(500), text_reply("too late"))
    client = client_for(settings_for(fake_anthropic, provider, OPSBOT_LLM_MAX_RETRIES="2"))
    incident = IncidentUsage()

    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as failure:
        client.call("orchestrator", SYSTEM, MESSAGES, incident=incident)

    assert time.monotonic() - started < 2
    assert len(fake_anthropic.requests) == 3
    assert fake_anthropic.pending == 1
    assert (failure.value.kind, failure.value.attempts) == ("server_error", 3)
    assert "after 3 attempt(s)" in failure.value.reason
    assert "HTTP 500" in failure.value.reason
    assert (incident.calls, incident.failures, incident.cost_usd) == (1, 1, 0.0)


def test_retry_after_beyond_the_deadline_gives_up_at_once(
    fake_anthropic: FakeAnthropic, client_for: ClientMaker
) -> None:
    fake_anthropic.script(Failure(429, retry_after=30), text_reply("never sent"))
    client = client_for(settings_for(fake_anthropic, OPSBOT_LLM_DEADLINE_SECONDS="5"))

    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as failure:
        client.call("orchestrator", SYSTEM, MESSAGES)

    assert time.monotonic() - started < 1
    assert len(fake_anthropic.requests) == 1
    assert failure.value.kind == "deadline"
    assert "5 s deadline" in failure.value.reason
    assert "rate_limit_error" in failure.value.reason


def test_slow_answers_time_out_within_the_deadline(
    fake_anthropic: FakeAnthropic, provider: str, client_for: ClientMaker
) -> None:
    fake_anthropic.script(text_reply("slow"), text_reply("slow"), text_reply("slow"), delay=5)
    settings = settings_for(
        fake_anthropic, provider, OPSBOT_LLM_TIMEOUT_SECONDS="0.3", OPSBOT_LLM_DEADLINE_SECONDS="0.8"
    )

    started = time.monotonic()
    with pytest.raises(LlmUnavailable) as failure:
        client_for(settings).call("orchestrator", SYSTEM, MESSAGES)

    assert time.monotonic() - started < 1.5
    assert failure.value.kind in ("timeout", "deadline")
    assert 1 <= len(fake_anthropic.requests) <= 3


def test_a_refused_request_is_not_retried(fake_anthropic: FakeAnthropic, client_for: ClientMaker) -> None:
    fake_anthropic.script(Failure(400), text_reply("never sent"))

    with pytest.raises(LlmUnavailable) as failure:
        client_for(settings_for(fake_anthropic)).call("orchestrator", SYSTEM, MESSAGES)

    assert len(fake_anthropic.requests) == 1
    assert failure.value.kind == "refused"
    assert failure.value.reason.startswith("LLM refused the request: HTTP 400 invalid_request_error")


def test_an_answer_that_is_not_a_message_is_unavailable(
    fake_anthropic: FakeAnthropic, client_for: ClientMaker
) -> None:
    fake_anthropic.script({"type": "message", "content": [{"type": "tool_use", "name": "submit_plan"}]})
    incident = IncidentUsage()

    with pytest.raises(LlmUnavailable) as failure:
        client_for(settings_for(fake_anthropic)).call("orchestrator", SYSTEM, MESSAGES, incident=incident)

    assert failure.value.kind == "error"
    assert failure.value.reason.startswith("LLM answer could not be read")
    assert (incident.calls, incident.failures) == (1, 1)


def test_too_many_cache_breakpoints_fail_before_any_request(
    fake_anthropic: FakeAnthropic, client_for: ClientMaker
) -> None:
    system = [cached_text_block(f"runbook {n}") for n in range(5)]

    with pytest.raises(ValueError, match="5 blocks are marked cache_control"):
        client_for(settings_for(fake_anthropic)).call("orchestrator", system, MESSAGES)

    assert fake_anthropic.requests == []


# --- budgets ---------------------------------------------------------------------------------------


@both_stores
def test_daily_token_budget_runs_out_and_resets_at_midnight_utc(store: CoordinationStore) -> None:
    clock = Clock(DAY + 3600)
    budget = LlmBudget(store, daily_tokens=1000, daily_cost_usd=None, clock=clock)

    assert budget.check() is None
    assert budget.record(LlmUsage(input=400, output=100), 0.002)
    assert budget.check() is None
    assert budget.record(LlmUsage(input=300, cache_read=200), 0.001)
    assert budget.check() == "LLM daily budget of 1,000 tokens used up; using rules until 00:00 UTC"
    today = budget.today()
    assert (today.day, today.calls, today.total, today.cost_usd) == ("2025-10-24", 2, 1000, 0.003)

    clock.now = DAY + 86_400 + 1
    assert budget.check() is None
    assert budget.today().calls == 0


@both_stores
def test_daily_cost_budget_counts_every_replica(store: CoordinationStore) -> None:
    clock = Clock(DAY + 60)
    replica_a = LlmBudget(store, daily_tokens=None, daily_cost_usd=0.01, clock=clock)
    replica_b = LlmBudget(store, daily_tokens=None, daily_cost_usd=0.01, clock=clock)

    replica_a.record(LlmUsage(input=10, output=10), 0.004)
    replica_b.record(LlmUsage(input=10, output=10), 0.004)
    assert replica_a.check() is None
    replica_b.record(LlmUsage(input=10, output=10), 0.004)

    assert replica_a.check() == "LLM daily budget of $0.01 used up; using rules until 00:00 UTC"
    assert replica_a.today().cost_usd == pytest.approx(0.012)


@both_stores
def test_usage_of_days_before_yesterday_is_dropped(store: CoordinationStore) -> None:
    clock = Clock(DAY)
    budget = LlmBudget(store, daily_tokens=10, daily_cost_usd=None, clock=clock)
    budget.record(LlmUsage(input=5), 0.0)
    clock.now = DAY + 86_400
    budget.record(LlmUsage(input=5), 0.0)
    assert store.keys("llm:usage:") == ["llm:usage:2025-10-24", "llm:usage:2025-10-25"]

    clock.now = DAY + 2 * 86_400
    budget.record(LlmUsage(input=5), 0.0)

    assert store.keys("llm:usage:") == ["llm:usage:2025-10-25", "llm:usage:2025-10-26"]


@both_stores
def test_client_records_usage_and_stops_when_the_budget_is_spent(
    fake_anthropic: FakeAnthropic, store: CoordinationStore, client_for: ClientMaker
) -> None:
    fake_anthropic.script(text_reply("first", usage=usage_block(input=700, output=300)), text_reply("unused"))
    budget = LlmBudget(store, daily_tokens=1000, daily_cost_usd=None, clock=Clock(DAY + 5))
    client = client_for(settings_for(fake_anthropic), budget=budget)

    client.call("orchestrator", SYSTEM, MESSAGES)
    with pytest.raises(LlmUnavailable) as failure:
        client.call("orchestrator", SYSTEM, MESSAGES)

    assert failure.value.kind == "budget"
    assert failure.value.reason == "LLM daily budget of 1,000 tokens used up; using rules until 00:00 UTC"
    assert len(fake_anthropic.requests) == 1
    assert (budget.today().calls, budget.today().total) == (1, 1000)


def test_at_most_two_calls_per_incident(fake_anthropic: FakeAnthropic, client_for: ClientMaker) -> None:
    fake_anthropic.script(
        tool_use_reply("submit_plan", PLAN_INPUT, usage=usage_block(input=100, output=50, cache_write=900)),
        text_reply("pass", usage=usage_block(input=100, output=10, cache_read=900)),
        text_reply("unused"),
    )
    client = client_for(settings_for(fake_anthropic))
    incident = IncidentUsage()

    first = client.call("orchestrator", SYSTEM, MESSAGES, incident=incident)
    second = client.call("auditor", SYSTEM, MESSAGES, incident=incident)
    with pytest.raises(LlmUnavailable) as failure:
        client.call("orchestrator", SYSTEM, MESSAGES, incident=incident)

    assert failure.value.kind == "call_limit"
    assert len(fake_anthropic.requests) == 2
    record = incident.model_dump(mode="json")
    assert record == {
        "calls": 2,
        "failures": 0,
        "input": 200,
        "output": 60,
        "cache_read": 900,
        "cache_write": 900,
        "cost_usd": pytest.approx(first.cost_usd + second.cost_usd),
    }
    assert not any("token" in key for key in [*record, *first.audit_record(), *first.audit_record()["usage"]])
    assert IncidentUsage.model_validate(record) == incident


# --- prices and model traits -----------------------------------------------------------------------


def test_cost_of_matches_model_families_across_providers() -> None:
    usage = LlmUsage(input=1_000_000, output=1_000_000, cache_read=1_000_000, cache_write=1_000_000)

    assert cost_of("claude-sonnet-5-5", usage) == pytest.approx(2 + 10 + 0.10 + 2.50)
    assert cost_of("global.anthropic.claude-sonnet-5-5", usage) == cost_of("claude-sonnet-5-5", usage)
    assert cost_of("claude-sonnet-5", usage) == pytest.approx(2 + 10 + 0.20 + 2.50)
    assert cost_of("anthropic.claude-sonnet-4-5-20250929-v1:0", usage) == pytest.approx(3 + 15 + 0.30 + 3.75)
    assert cost_of("claude-haiku-4-5-20251001", LlmUsage(input=2_000_000)) == pytest.approx(2.0)
    assert cost_of("claude-opus-4-1", LlmUsage(output=1000)) == pytest.approx(0.075)
    assert cost_of("some-future-model", usage) == pytest.approx(10 + 50 + 1.00 + 12.50)
    assert cost_of("claude-sonnet-5-5", LlmUsage()) == 0.0


def test_price_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    broken = tmp_path / "llm_prices.yaml"
    broken.write_text(
        "source: x\nas_of: today\ncurrency: USD\nfamilies:\n  claude-x: {input: 1}\nunlisted: {}\n"
    )

    with pytest.raises(PolicyError, match=r"llm_prices\.yaml: families\.claude-x\.output"):
        load_llm_prices(broken)
    assert load_llm_prices().family_of("us.anthropic.claude-opus-4-6-v1") == "claude-opus-4-6"


def test_model_traits_follow_the_api_contract_of_each_family() -> None:
    assert traits_for("anthropic.claude-opus-4-6-v1").bedrock_legacy
    assert traits_for("anthropic.claude-haiku-4-5-20251001-v1:0").forced_tool_choice
    assert not traits_for("global.anthropic.claude-opus-4-7").bedrock_legacy
    assert traits_for("claude-sonnet-5").thinking == {"type": "disabled"}
    assert not traits_for("us.anthropic.claude-sonnet-5-5").forced_tool_choice
    unknown = traits_for("claude-next-9")
    assert (unknown.bedrock_legacy, unknown.forced_tool_choice, unknown.thinking) == (False, False, None)


# --- settings: provider selection and the startup line ---------------------------------------------


def test_without_a_provider_the_rules_run_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = LlmSettings()

    assert settings.provider is None
    assert describe(settings) == RULES_ONLY_LINE
    assert build_llm_client(settings) is None

    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("OPSBOT_LLM_PROVIDER", "none")
    assert describe(LlmSettings()) == "LLM: off — rules only (OPSBOT_LLM_PROVIDER=none)"


def test_api_key_selects_anthropic_and_bedrock_needs_to_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LlmSettings().provider is None  # AWS credentials alone never turn Bedrock on

    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway:secret@llm-proxy.internal/anthropic")
    monkeypatch.setenv("OPSBOT_LLM_AUDIT_MODEL", "claude-haiku-4-5")
    monkeypatch.setenv("OPSBOT_LLM_DAILY_TOKEN_BUDGET", "2000000")
    monkeypatch.setenv("OPSBOT_LLM_DAILY_COST_BUDGET_USD", "5")
    settings = LlmSettings()
    line = describe(settings)

    assert settings.provider == "anthropic"
    assert line == (
        "LLM: anthropic claude-sonnet-5-5 via https://llm-proxy.internal/anthropic "
        "(audit: claude-haiku-4-5); daily budget 2,000,000 tokens / $5.00"
    )
    assert API_KEY not in line
    assert "secret" not in line
    assert (settings.timeout_seconds, settings.max_retries) == (20.0, 2)
    client = build_llm_client(settings)
    assert client is not None
    assert (client.provider, client.model_for("auditor")) == ("anthropic", "claude-haiku-4-5")
    client.close()

    monkeypatch.setenv("OPSBOT_LLM_PROVIDER", "bedrock")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("OPSBOT_LLM_AUDIT_MODEL")
    monkeypatch.delenv("OPSBOT_LLM_DAILY_TOKEN_BUDGET")
    monkeypatch.delenv("OPSBOT_LLM_DAILY_COST_BUDGET_USD")
    bedrock = LlmSettings()
    assert bedrock.provider == "bedrock"
    assert describe(bedrock) == (
        "LLM: bedrock global.anthropic.claude-sonnet-5-5 in eu-west-1 "
        "(audit: global.anthropic.claude-sonnet-5-5)"
    )
    monkeypatch.setenv("OPSBOT_BEDROCK_REGION", "us-west-2")
    assert LlmSettings().bedrock_region == "us-west-2"


def test_explicit_anthropic_without_a_key_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOT_LLM_PROVIDER", "anthropic")
    monkeypatch.setenv("OPSBOT_LLM_MODEL", "claude-opus-4-8")

    settings = LlmSettings()

    assert settings.provider is None
    assert describe(settings) == (
        "LLM: off — rules only (OPSBOT_LLM_PROVIDER=anthropic but ANTHROPIC_API_KEY is not set)"
    )
    assert settings.model_for("auditor") == "claude-opus-4-8"
