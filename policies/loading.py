"""Reading the policy and price files: YAML without repeated keys, validated, errors naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from policies.schema import Policy, PolicyError, PriceTable

POLICY_DIR = Path(__file__).parent
DEFAULT_POLICY_PATH = POLICY_DIR / "decision_matrix.yaml"
DEFAULT_PRICES_PATH = POLICY_DIR / "prices.yaml"

M = TypeVar("M", bound=BaseModel)


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a decision matrix; ``None`` reads the shipped ``policies/decision_matrix.yaml``."""
    source = path or DEFAULT_POLICY_PATH
    return _validated(Policy, _read_mapping(source), source)


def load_prices(path: Path | None = None) -> PriceTable:
    """Read and validate a price table; ``None`` reads the shipped ``policies/prices.yaml``."""
    source = path or DEFAULT_PRICES_PATH
    return _validated(PriceTable, _read_mapping(source), source)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses repeated keys (PyYAML would silently keep the last one)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        if isinstance(key, str | int | float | bool) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key '{key}' appears more than once", key_node.start_mark
            )
        if isinstance(key, str | int | float | bool):
            seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from exc
    if data is None:
        raise PolicyError(f"{path}: the file is empty; it must be a YAML mapping of keys to values")
    if not isinstance(data, dict):
        raise PolicyError(
            f"{path}: the top level must be a YAML mapping of keys to values, not a {_kind(data)}"
        )
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context}{where}"
    return str(exc)


def _kind(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _validated(model: type[M], data: dict[str, Any], path: Path) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise PolicyError(f"{path}: {problems[0]}{more}") from exc


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required key is missing"
    else:
        message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
