"""The suite's report: accuracy and totals over the case results, the table, the JSON, the exit code."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from cli.eval_scoring import SUCCEEDED, CaseResult


@dataclass
class SuiteReport:
    results: list[CaseResult]
    mode: str  # "rules" offline, "llm" when an API key is configured
    endpoint: str
    duration_s: float = 0.0

    @property
    def scored(self) -> list[CaseResult]:
        """The cases accuracy is measured over: all but the known gaps."""
        return [r for r in self.results if not r.known_gap]

    def _accuracy(self, ok: list[bool]) -> float:
        return 100.0 * sum(ok) / len(ok) if ok else 100.0

    @property
    def intent_accuracy(self) -> float:
        return self._accuracy([r.intent_ok for r in self.scored])

    @property
    def decision_accuracy(self) -> float:
        return self._accuracy([r.decision_ok for r in self.scored])

    @property
    def unsafe_executions(self) -> int:
        return sum(len(r.unsafe) for r in self.results)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.scored if not r.passed]

    def totals(self) -> dict[str, Any]:
        latencies = [r.latency_ms for r in self.results] or [0.0]
        return {
            "cases": len(self.results),
            "adversarial": sum(r.adversarial for r in self.results),
            "known_gaps": sum(bool(r.known_gap) for r in self.results),
            "scored": len(self.scored),
            "passed": sum(r.passed for r in self.results),
            "intent_accuracy": round(self.intent_accuracy, 1),
            "decision_accuracy": round(self.decision_accuracy, 1),
            "unsafe_executions": self.unsafe_executions,
            "tokens": sum(r.tokens for r in self.results),
            "cost_usd": round(sum(r.cost_usd for r in self.results), 6),
            "latency_p50_ms": round(statistics.median(latencies), 1),
            "latency_max_ms": round(max(latencies), 1),
            "duration_s": round(self.duration_s, 2),
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "mode": self.mode,
                "endpoint": self.endpoint,
                "totals": self.totals(),
                "cases": [r.as_dict() for r in self.results],
            },
            indent=2,
        )


COLUMNS = (
    ("case", 44),
    ("adv", 3),
    ("intent", 17),
    ("decision", 12),
    ("ran", 3),
    ("unsafe", 6),
    ("tokens", 7),
    ("cost $", 8),
    ("ms", 7),
    ("result", 6),
)


def _row(values: list[str]) -> str:
    cells = []
    for (_title, width), value in zip(COLUMNS, values, strict=True):
        text = value if len(value) <= width else value[: width - 1] + "…"
        cells.append(
            text.rjust(width) if _title in {"ran", "unsafe", "tokens", "cost $", "ms"} else text.ljust(width)
        )
    return "  ".join(cells).rstrip()


def render_table(report: SuiteReport) -> str:
    lines = [_row([title for title, _width in COLUMNS]), _row(["-" * width for _title, width in COLUMNS])]
    for r in report.results:
        intent = str(r.intent.get("action") or "-") if r.intent_ok else f"✗ {r.intent.get('action') or '-'}"
        decision = r.decision if r.decision_ok else f"✗ {r.decision or '-'}"
        ran = sum(1 for step in r.executed if step["status"] in SUCCEEDED)
        lines.append(
            _row(
                [
                    r.name,
                    "yes" if r.adversarial else "",
                    intent,
                    decision,
                    str(ran),
                    str(len(r.unsafe)),
                    str(r.tokens),
                    f"{r.cost_usd:.4f}",
                    f"{r.latency_ms:.0f}",
                    r.verdict,
                ]
            )
        )
    totals = report.totals()
    lines.append("")
    lines.append(
        f"TOTAL {totals['cases']} cases ({totals['adversarial']} adversarial, "
        f"{totals['known_gaps']} known gaps, "
        f"{report.mode} mode): intent accuracy {totals['intent_accuracy']:.1f}%, "
        f"decision accuracy {totals['decision_accuracy']:.1f}%, "
        f"unsafe executions {totals['unsafe_executions']}, tokens {totals['tokens']}, "
        f"cost ${totals['cost_usd']:.4f}, latency p50 {totals['latency_p50_ms']:.0f} ms / "
        f"max {totals['latency_max_ms']:.0f} ms ({totals['duration_s']:.1f} s)"
    )
    for r in report.results:
        details = [*r.unsafe, *([r.error] if r.error else []), *r.misses]
        if r.passed and not r.known_gap:
            continue
        if r.passed:
            details = ["passes now: remove its known_gap"]
        elif r.known_gap:
            details.append(f"known gap: {r.known_gap}")
        lines.append(f"  {r.verdict} {r.name}: " + "; ".join(details))
    return "\n".join(lines)


def exit_code(report: SuiteReport, strict: bool = False) -> int:
    """1 for any unsafe execution; with ``strict`` also for any miss outside the known gaps."""
    if report.unsafe_executions:
        return 1
    return 1 if strict and report.failures else 0
