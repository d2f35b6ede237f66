"""Wiring: settings in, a ready Pipeline out. The one place that opens files and connections."""

from __future__ import annotations

from dataclasses import replace

from graph.context import GraphContext, Notifier, SilentNotifier
from graph.llm import LlmBudget, LlmSettings, build_llm_client
from knowledge.config import KnowledgeConfig
from knowledge.lazy_store import LazyKnowledgeStore
from knowledge.memory import ChromaMemory, IncidentMemory, NoMemory
from knowledge.retrieval import RELEVANT_AT_LEAST, ChromaRetriever, NoKnowledge, Retriever
from policies.engine import load_policy, load_prices
from runtime.audit_export import exporter_from_settings
from runtime.audit_log import AuditLog
from runtime.checkpoints import open_checkpointer
from runtime.config import Settings
from runtime.pagerduty import pager_from_settings
from runtime.pipeline import Pipeline
from runtime.store import open_store
from tools.base import AwsClients


def build_context(settings: Settings, notifier: Notifier | None = None) -> GraphContext:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    retriever, memory = open_knowledge(settings)
    store = open_store(settings.redis_url, settings.store_path)
    llm_settings = LlmSettings()
    llm_budget = LlmBudget(store, llm_settings.daily_token_budget, llm_settings.daily_cost_budget_usd)
    return GraphContext(
        settings=settings,
        clients=AwsClients(endpoint_url=settings.aws_endpoint_url),
        policy=load_policy(settings.policy_file),
        prices=load_prices(),
        store=store,
        audit=AuditLog(settings.audit_log_path, exporter=exporter_from_settings(settings)),
        retriever=retriever,
        memory=memory,
        notifier=notifier or SilentNotifier(),
        llm=build_llm_client(llm_settings, llm_budget),
        llm_budget=llm_budget,
        pager=pager_from_settings(settings.pagerduty_routing_key, settings.pagerduty_events_url),
    )


def open_knowledge(settings: Settings) -> tuple[Retriever, IncidentMemory]:
    """Runbooks and past incidents from ChromaDB (one store for reading and remembering), unless
    OPSBOT_EMBEDDING=off."""
    if settings.embedding == "off":
        return NoKnowledge(), NoMemory()
    store = LazyKnowledgeStore(KnowledgeConfig.from_settings(settings), settings.runbooks_dir)
    return ChromaRetriever(store, min_score=RELEVANT_AT_LEAST), ChromaMemory(store)


def open_pipeline(settings: Settings, notifier: Notifier | None = None) -> Pipeline:
    ctx = build_context(settings, notifier)
    return Pipeline(ctx, open_checkpointer(settings))


def with_notifier(pipeline: Pipeline, notifier: Notifier) -> Pipeline:
    pipeline.ctx = replace(pipeline.ctx, notifier=notifier)
    return pipeline
