"""Runbooks as data: Markdown files with YAML front matter, loaded and checked before anything uses them.

A runbook file looks like this::

    ---
    id: rb-guardduty-crypto-mining
    title: GuardDuty crypto-mining finding on an EC2 instance
    alert_types: ["CryptoCurrency:EC2/BitcoinTool.B!DNS", "guardduty"]
    actions: [snapshot_instance, isolate_instance]
    severity: high
    keywords: [bitcoin, miner]          # optional
    ---
    Numbered steps an engineer can follow by hand...

``alert_types`` holds GuardDuty finding types, Security Hub control ids, CloudWatch metric names,
AWS Health event type codes, EventBridge detail-types and alert kinds (``guardduty``, ``cloudwatch``,
...).  ``actions`` names only actions in ``tools.registry.REGISTRY`` (empty when nothing is automated).
Loading fails fast, naming the file and the problem, on anything else.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from tools.registry import REGISTRY

DEFAULT_DIR = Path(__file__).resolve().parent / "runbooks"
DEFAULT_EVAL_QUERIES = Path(__file__).resolve().parent / "eval_queries.yaml"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

RUNBOOK_ID_RE = re.compile(r"rb-[a-z0-9]+(?:-[a-z0-9]+)*")  # used with fullmatch
_FRONT_MATTER_RE = re.compile(
    r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE
)


class RunbookError(ValueError):
    """A runbook file (or the set of them) is not usable; the message names the file and the problem."""


def _check_id(value: str) -> str:
    if not RUNBOOK_ID_RE.fullmatch(value):
        raise ValueError(f"'{value}' is not a runbook id (rb- and lowercase words joined by hyphens)")
    return value


def _clean_strings(values: list[str]) -> list[str]:
    cleaned = [value.strip() for value in values]
    if any(not value for value in cleaned):
        raise ValueError("an entry is empty")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("the same entry appears twice")
    return cleaned


class Runbook(BaseModel):
    """One runbook: its front matter, its Markdown body and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str = Field(min_length=1)
    alert_types: list[str]
    actions: list[str]
    severity: Literal["low", "medium", "high", "critical"]
    keywords: list[str] = Field(default_factory=list)
    body: str = Field(min_length=1)
    path: str

    _source: bytes | None = PrivateAttr(default=None)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        return _check_id(value)

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title is blank")
        return value.strip()

    @field_validator("alert_types", "actions", "keywords")
    @classmethod
    def _entries_not_blank(cls, values: list[str]) -> list[str]:
        return _clean_strings(values)

    @property
    def content_hash(self) -> str:
        """sha256 (hex) of the runbook file's bytes; for a runbook built in code, of its fields."""
        source = self._source if self._source is not None else self.model_dump_json().encode()
        return hashlib.sha256(source).hexdigest()

    def document(self) -> str:
        """The text to embed: title, alert types, actions and keywords, then the body."""
        lines = [self.title, f"Alert types: {', '.join(self.alert_types)}"]
        if self.actions:
            lines.append(f"Actions: {', '.join(self.actions)}")
        if self.keywords:
            lines.append(f"Keywords: {', '.join(self.keywords)}")
        return "\n".join(lines) + "\n\n" + self.body.strip() + "\n"


class EvalQuery(BaseModel):
    """A labelled retrieval query: the text someone (or AWS) would send, and the runbook it should find."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    query: str = Field(min_length=1)
    expected: str

    @field_validator("expected")
    @classmethod
    def _expected_is_an_id(cls, value: str) -> str:
        return _check_id(value)


def _validation_problem(error: ValidationError, holder: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        return f"{holder} has no '{where}'"
    if first["type"] == "extra_forbidden":
        return f"{holder} has an unknown key '{where}'"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"'{where}' is invalid: {message}"


def _split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER_RE.match(text.removeprefix("\ufeff"))
    if match is None:
        raise RunbookError(f"{path}: the file does not start with YAML front matter between '---' lines.")
    try:
        front = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "unreadable"
        at = f" (line {mark.line + 2}: {problem})" if mark is not None else f" ({problem})"
        raise RunbookError(f"{path}: the front matter is not valid YAML{at}.") from None
    if not isinstance(front, dict):
        raise RunbookError(f"{path}: the front matter is not a mapping of keys to values.")
    return front, text.removeprefix("\ufeff")[match.end() :]


def parse_runbook(text: str, path: str) -> Runbook:
    """The runbook in ``text`` (the whole file); ``path`` names it in errors and in ``Runbook.path``."""
    front, body = _split_front_matter(text, path)
    for reserved in ("body", "path"):
        if reserved in front:
            raise RunbookError(f"{path}: the front matter has an unknown key '{reserved}'.")
    if not body.strip():
        raise RunbookError(f"{path}: the runbook has no steps after its front matter.")
    try:
        runbook = Runbook.model_validate({**front, "body": body.strip() + "\n", "path": path})
    except ValidationError as error:
        raise RunbookError(f"{path}: {_validation_problem(error, 'the front matter')}.") from None
    unknown = [action for action in runbook.actions if action not in REGISTRY]
    if unknown:
        known = ", ".join(sorted(REGISTRY))
        raise RunbookError(f"{path}: unknown action '{unknown[0]}' (known actions: {known}).")
    runbook._source = text.encode("utf-8")
    return runbook


def _display_path(file: Path) -> str:
    resolved = file.resolve()
    return str(resolved.relative_to(PROJECT_ROOT)) if resolved.is_relative_to(PROJECT_ROOT) else str(file)


def load_runbooks(directory: Path = DEFAULT_DIR) -> list[Runbook]:
    """Every ``*.md`` runbook in ``directory``, sorted by id; RunbookError on the first bad one."""
    if not directory.is_dir():
        raise RunbookError(f"{directory}: the runbook directory does not exist.")
    by_id: dict[str, Runbook] = {}
    for file in sorted(directory.glob("*.md")):
        path = _display_path(file)
        try:
            text = file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise RunbookError(f"{path}: the file is not UTF-8 text.") from None
        except OSError as error:
            raise RunbookError(f"{path}: the file cannot be read ({error.strerror}).") from None
        runbook = parse_runbook(text, path)
        if runbook.id in by_id:
            raise RunbookError(
                f"{path}: duplicate id '{runbook.id}', already used by {by_id[runbook.id].path}."
            )
        by_id[runbook.id] = runbook
    return [by_id[key] for key in sorted(by_id)]


def load_eval_queries(path: Path = DEFAULT_EVAL_QUERIES) -> list[EvalQuery]:
    """The labelled retrieval queries in ``path`` (a YAML list of ``{query, expected}``)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RunbookError(f"{path}: the file cannot be read ({error.strerror}).") from None
    except UnicodeDecodeError:
        raise RunbookError(f"{path}: the file is not UTF-8 text.") from None
    except yaml.YAMLError:
        raise RunbookError(f"{path}: the file is not valid YAML.") from None
    if not isinstance(raw, list):
        raise RunbookError(f"{path}: the file is not a list of {{query, expected}} entries.")
    queries: list[EvalQuery] = []
    for number, entry in enumerate(raw, start=1):
        try:
            queries.append(EvalQuery.model_validate(entry))
        except ValidationError as error:
            raise RunbookError(
                f"{path}: entry {number}: {_validation_problem(error, 'the entry')}."
            ) from None
    return queries
