"""Dependencies that reach nodes through LangGraph's context schema, never through module globals."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from graph.llm import LlmBudget, LlmClient
from knowledge.memory import IncidentMemory, NoMemory
from knowledge.retrieval import Retriever
from policies.engine import Policy, PriceTable
from runtime.audit_log import AuditLog
from runtime.config import Settings
from runtime.pagerduty import NoPager, Pager
from runtime.store import CoordinationStore
from tools.base import AwsClients


class Notifier(Protocol):
    """Where a thread's messages go: the terminal for the CLI, a Slack thread for the bot."""

    def post(self, thread_id: str, text: str) -> None: ...


class SilentNotifier:
    def post(self, thread_id: str, text: str) -> None:
        return None


@dataclass(frozen=True)
class GraphContext:
    settings: Settings
    clients: AwsClients
    policy: Policy
    prices: PriceTable
    store: CoordinationStore
    audit: AuditLog
    retriever: Retriever
    memory: IncidentMemory = field(default_factory=NoMemory)
    notifier: Notifier = field(default_factory=SilentNotifier)
    clock: Callable[[], float] = time.time
    # Slack user groups (S… ids, @handles) as lists of user ids; None outside Slack.
    expand_usergroup: Callable[[str], list[str]] | None = None
    # Claude (Anthropic API or Bedrock); None runs the rule parser and planner alone.
    llm: LlmClient | None = None
    llm_budget: LlmBudget | None = None
    # PagerDuty Events API v2 for emergencies and critical alerts; NoPager without a routing key.
    pager: Pager = field(default_factory=NoPager)
