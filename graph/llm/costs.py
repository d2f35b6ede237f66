"""Token usage of one LLM call and what it costs, from the price table in ``policies/llm_prices.yaml``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, ValidationError

from graph.llm.model_ids import match_family
from policies.schema import PolicyError

DEFAULT_LLM_PRICES_PATH = Path(__file__).resolve().parents[2] / "policies" / "llm_prices.yaml"
_PER_MILLION = 1_000_000


class LlmUsage(BaseModel):
    """Tokens billed for one call or a sum of calls. No field says "token": the audit log redacts those."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: NonNegativeInt = 0
    output: NonNegativeInt = 0
    cache_read: NonNegativeInt = 0
    cache_write: NonNegativeInt = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write

    def __add__(self, other: LlmUsage) -> LlmUsage:
        return LlmUsage(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
        )


class ModelPrice(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: NonNegativeFloat
    output: NonNegativeFloat
    cache_read: NonNegativeFloat
    cache_write: NonNegativeFloat


class LlmPriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    as_of: str
    currency: str = Field(pattern="^USD$")
    families: dict[str, ModelPrice] = Field(min_length=1)
    unlisted: ModelPrice

    def family_of(self, model: str) -> str | None:
        return match_family(model, self.families)

    def price_for(self, model: str) -> ModelPrice:
        family = self.family_of(model)
        return self.unlisted if family is None else self.families[family]


def load_llm_prices(path: Path | None = None) -> LlmPriceTable:
    """Read and validate the LLM price table; ``None`` reads the shipped ``policies/llm_prices.yaml``."""
    source = path or DEFAULT_LLM_PRICES_PATH
    try:
        data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{source}: cannot read the file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: the top level must be a YAML mapping of keys to values")
    try:
        return LlmPriceTable.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PolicyError(f"{source}: {where}: {first['msg']}") from exc


@lru_cache(maxsize=1)
def default_llm_prices() -> LlmPriceTable:
    """The shipped table, read once (it is immutable)."""
    return load_llm_prices()


def cost_of(model: str, usage: LlmUsage, prices: LlmPriceTable | None = None) -> float:
    """Estimated USD cost of usage on model, rounded to the micro-dollar."""
    price = (prices or default_llm_prices()).price_for(model)
    dollars = (
        usage.input * price.input
        + usage.output * price.output
        + usage.cache_read * price.cache_read
        + usage.cache_write * price.cache_write
    ) / _PER_MILLION
    return round(dollars, 6)
