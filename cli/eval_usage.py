"""LLM usage of an eval case: tokens and cost summed from its audit entries (or final state)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def found_any(self) -> bool:
        return bool(self.tokens or self.cost_usd)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def llm_usage(records: Iterable[Any]) -> Usage:
    """Tokens and cost from every ``llm_usage: {input, output, cost_usd?}`` and ``cost_usd`` found in
    ``records`` (audit entry data or state), however deep.  A cost inside ``llm_usage`` wins over a
    sibling ``cost_usd``, so one call is never counted twice."""
    usage = Usage()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
            return
        if not isinstance(node, dict):
            return
        block = node.get("llm_usage")
        if isinstance(block, dict):
            usage.input_tokens += int(_number(block.get("input", block.get("input_tokens"))))
            usage.output_tokens += int(_number(block.get("output", block.get("output_tokens"))))
            usage.cost_usd += _number(block.get("cost_usd", node.get("cost_usd")))
        elif "cost_usd" in node:
            usage.cost_usd += _number(node["cost_usd"])
        for key, item in node.items():
            if key not in ("llm_usage", "cost_usd"):
                walk(item)

    for record in records:
        walk(record)
    return usage
