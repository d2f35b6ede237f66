"""Running the suite: every case on a fresh pipeline against moto, scored, into a ``SuiteReport``."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from cli.estate import REGION
from cli.eval_cases import DEFAULT_CASES_DIR, CaseError, EvalCase, load_cases
from cli.eval_inputs import estate_placeholders, prepare_estate, run_input_of
from cli.eval_moto import moto_endpoint, reset_moto
from cli.eval_report import SuiteReport
from cli.eval_scoring import CaseResult, executions_of, score, summarised, unsafe_executions
from cli.eval_usage import llm_usage
from graph.context import GraphContext
from runtime.audit_log import AuditLog
from runtime.config import Settings
from runtime.pipeline import Pipeline, RunResult
from runtime.services import build_context
from runtime.store import open_store
from tools.base import AwsClients

WARM_SERVICES = ("ec2", "autoscaling", "ssm", "cloudwatch")


def case_settings(base: Settings, data_dir: Path, endpoint: str) -> Settings:
    """The user's settings (an API key turns the LLM on), with everything that makes a case repeatable
    forced: its own data dir and SQLite store, moto, the shipped policy, no knowledge base, no dry run."""
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "aws_endpoint_url": endpoint,
            "aws_region": REGION,
            "redis_url": None,
            "policy_file": None,
            "dry_run": False,
            "embedding": "off",
            "approval_ttl_seconds": None,
        }
    )


@dataclass
class Bench:
    """What every case shares: moto's URL, one boto3 session, and the context ``build_context`` made once
    (policy, prices, LLM and knowledge clients are read-only; parsing the YAML per case cost 0.1 s)."""

    endpoint: str
    template: GraphContext

    @classmethod
    def open(cls, endpoint: str, base: Settings, workdir: Path) -> Bench:
        # The template's store stays open: the LLM budget (one per suite, like one per deployment) and
        # the client that charges it write there; each case gets a coordination store of its own.
        template = build_context(case_settings(base, workdir, endpoint))
        clients = AwsClients(endpoint_url=endpoint)
        for service in WARM_SERVICES:  # loading a service model takes ~1 s: not the first case's latency
            clients.client(service, REGION)
        return cls(endpoint, replace(template, clients=clients))

    def warm_moto(self) -> None:
        """moto builds a region's EC2 and Auto Scaling backends on first use (~2 s): do it outside the
        timed run, so latency measures opsbot rather than moto's cold start."""
        self.template.clients.client("ec2", REGION).describe_vpcs()
        self.template.clients.client("autoscaling", REGION).describe_auto_scaling_groups(MaxRecords=1)

    def pipeline(self, data_dir: Path) -> Pipeline:
        """A fresh pipeline: its own data dir, coordination store, audit log and checkpoints."""
        settings = case_settings(self.template.settings, data_dir, self.endpoint)
        data_dir.mkdir(parents=True, exist_ok=True)
        ctx = replace(
            self.template,
            settings=settings,
            store=open_store(None, settings.store_path),
            audit=AuditLog(settings.audit_log_path),
        )
        return Pipeline(ctx, SqliteSaver(sqlite3.connect(settings.checkpoint_path, check_same_thread=False)))


def _close(pipeline: Pipeline) -> None:
    with suppress(Exception):
        pipeline.ctx.store.close()
    with suppress(Exception):
        pipeline.graph.checkpointer.conn.close()  # type: ignore[union-attr]


def left_moto_dirty(case: EvalCase, result: CaseResult) -> bool:
    """Whether moto may hold anything after the case: an estate, an executed step, or an error midway.
    Planning and investigating only read, so a case with none of these leaves moto as it found it."""
    return case.estate is not False or bool(result.executed) or result.error is not None


def _play(case: EvalCase, pipeline: Pipeline, result: CaseResult) -> None:
    """Build the estate, run the graph and the votes, and score what happened."""
    clients = pipeline.ctx.clients
    thread_id = f"eval-{case.name}"
    estate = prepare_estate(clients, case.estate)
    names = estate_placeholders(estate) if estate else {}
    run_input = run_input_of(case, names)
    started = time.perf_counter()
    run: RunResult = pipeline.start(thread_id, run_input)  # type: ignore[arg-type]
    for user in case.approve_as:
        vote = pipeline.vote(thread_id, user, approve=True)
        result.votes.append(f"{user}: {vote.message}")
        run = vote.run or run
    result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    state = dict(run.state)
    score(case, names, state, executions_of(pipeline, thread_id, state), result)
    usage = llm_usage(entry["data"] for entry in pipeline.ctx.audit.entries(thread_id=thread_id))
    if not usage.found_any():
        usage = llm_usage([state])
    result.input_tokens, result.output_tokens = usage.input_tokens, usage.output_tokens
    result.cost_usd = usage.cost_usd


def run_case(case: EvalCase, bench: Bench, reset: bool = True) -> CaseResult:
    """One case on a fresh pipeline; a case that breaks is reported (with anything it executed)."""
    result = CaseResult(case.name, case.description, case.adversarial, case.known_gap)
    if reset:
        reset_moto(bench.endpoint)
        bench.warm_moto()
    with tempfile.TemporaryDirectory(prefix="opsbot-eval-") as tmp:
        pipeline = bench.pipeline(Path(tmp))
        try:
            _play(case, pipeline, result)
        except CaseError as error:
            result.error = str(error)
        except Exception as error:  # one broken case is reported, and the suite goes on
            result.error = f"{type(error).__name__}: {error}".splitlines()[0]
            with suppress(Exception):
                thread_id = f"eval-{case.name}"
                ran = executions_of(pipeline, thread_id, pipeline.last_state(thread_id))
                result.executed = summarised(ran)
                result.unsafe = unsafe_executions(case, {}, ran, approved=False)
        finally:
            _close(pipeline)
    return result


def run_suite(
    cases_dir: Path | str = DEFAULT_CASES_DIR,
    endpoint: str | None = None,
    only: str | None = None,
    settings: Settings | None = None,
) -> SuiteReport:
    """Run every case (or those ``only`` matches) against moto: ``endpoint``, or a server of our own.

    Every case starts on an empty moto: it is reset first, unless the case before left it untouched.
    Cases that build nothing run first, back to back, so they share one reset."""
    cases = load_cases(Path(cases_dir), only)
    base = settings or Settings()
    mode = "llm" if getattr(base, "anthropic_api_key", None) else "rules"
    started = time.perf_counter()
    with moto_endpoint(endpoint) as url, tempfile.TemporaryDirectory(prefix="opsbot-eval-") as workdir:
        reset_moto(url)
        bench = Bench.open(url, base, Path(workdir))
        bench.warm_moto()
        results: list[CaseResult] = []
        dirty = False
        for case in sorted(cases, key=lambda c: (c.estate is not False, c.name)):
            results.append(run_case(case, bench, reset=dirty))
            dirty = left_moto_dirty(case, results[-1])
    results.sort(key=lambda result: result.name)
    return SuiteReport(results, mode, url, time.perf_counter() - started)
