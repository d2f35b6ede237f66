"""Cost control: a daily token and cost budget shared by every replica, and a per-incident call cap.

Daily usage lives in the coordination store (Redis or SQLite) under one key per UTC day. Each call adds
one member ``<call id>:<tokens>:<micro-dollars>`` to that day's set: adding is atomic on both backends,
so concurrent replicas never lose an update (the store's counters only count up by one). The day's
usage is the sum of its members. Calls already in flight when the budget runs out can overshoot it by
their own usage; the next check stops further calls.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from graph.llm.costs import LlmUsage
from runtime.store import CoordinationStore, StoreError

log = logging.getLogger(__name__)

MAX_CALLS_PER_INCIDENT = 2
USAGE_KEY_PREFIX = "llm:usage:"
_MICRO = 1_000_000


def usage_key(day: str) -> str:
    return f"{USAGE_KEY_PREFIX}{day}"


def utc_day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


class DailyLlmUsage(BaseModel):
    """Today's LLM usage for ``status``; field names avoid "token", which the audit log redacts."""

    model_config = ConfigDict(frozen=True)

    day: str
    calls: int
    total: int  # tokens of every kind
    cost_usd: float
    total_limit: int | None
    cost_limit_usd: float | None
    exhausted: str | None  # the reason the LLM is paused for the day, or None


class LlmBudget:
    def __init__(
        self,
        store: CoordinationStore,
        daily_tokens: int | None,
        daily_cost_usd: float | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._daily_tokens = daily_tokens
        self._daily_cost_usd = daily_cost_usd
        self._clock = clock

    @property
    def limited(self) -> bool:
        return self._daily_tokens is not None or self._daily_cost_usd is not None

    def check(self) -> str | None:
        """None while today's budget has room, else the one-line reason the bot uses rules instead."""
        if not self.limited:
            return None
        try:
            return self.today().exhausted
        except StoreError:
            log.warning("LLM budget: the coordination store cannot be read", exc_info=True)
            return "LLM budget cannot be checked (coordination store unavailable); using rules"

    def record(self, usage: LlmUsage, cost_usd: float) -> bool:
        """Add one call to today's usage; False (and a warning) when the store refused it."""
        now = self._clock()
        member = f"{uuid.uuid4().hex}:{usage.total}:{round(cost_usd * _MICRO)}"
        try:
            self._store.add_member(usage_key(utc_day(now)), member)
            self._forget_before(utc_day(now - 86_400))
        except StoreError:
            log.warning("LLM budget: usage of one call could not be recorded", exc_info=True)
            return False
        return True

    def today(self) -> DailyLlmUsage:
        """Today's calls, tokens and cost against the limits (raises StoreError if unreadable)."""
        day = utc_day(self._clock())
        calls, total, micro = 0, 0, 0
        for member in self._store.members(usage_key(day)):
            parts = member.split(":")
            if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
                continue
            calls, total, micro = calls + 1, total + int(parts[1]), micro + int(parts[2])
        cost = micro / _MICRO
        return DailyLlmUsage(
            day=day,
            calls=calls,
            total=total,
            cost_usd=round(cost, 6),
            total_limit=self._daily_tokens,
            cost_limit_usd=self._daily_cost_usd,
            exhausted=self._exhausted(total, cost),
        )

    def _exhausted(self, total: int, cost: float) -> str | None:
        if self._daily_tokens is not None and total >= self._daily_tokens:
            return f"LLM daily budget of {self._daily_tokens:,} tokens used up; using rules until 00:00 UTC"
        if self._daily_cost_usd is not None and cost >= self._daily_cost_usd:
            return f"LLM daily budget of ${self._daily_cost_usd:,.2f} used up; using rules until 00:00 UTC"
        return None

    def _forget_before(self, oldest_kept_day: str) -> None:
        """Drop the usage of days before yesterday: only today counts, yesterday stays for a look back."""
        for key in self._store.keys(USAGE_KEY_PREFIX):
            if key[len(USAGE_KEY_PREFIX) :] < oldest_kept_day:
                self._store.delete(key)


class IncidentUsage(BaseModel):
    """LLM calls and their usage for one incident; ``model_dump(mode="json")`` goes into graph state and
    the audit log (no field name contains "token")."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    calls: int = 0
    failures: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    cost_usd: float = 0.0

    @property
    def usage(self) -> LlmUsage:
        return LlmUsage(
            input=self.input, output=self.output, cache_read=self.cache_read, cache_write=self.cache_write
        )

    def add(self, usage: LlmUsage, cost_usd: float) -> None:
        self.input += usage.input
        self.output += usage.output
        self.cache_read += usage.cache_read
        self.cache_write += usage.cache_write
        self.cost_usd = round(self.cost_usd + cost_usd, 6)

    def add_failure(self) -> None:
        self.failures += 1


def reserve_call(incident: IncidentUsage) -> bool:
    """Count one more LLM call for the incident; False once it has had ``MAX_CALLS_PER_INCIDENT``."""
    if incident.calls >= MAX_CALLS_PER_INCIDENT:
        return False
    incident.calls += 1
    return True
