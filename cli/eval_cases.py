"""The eval case file: its schema (``evals/<case>/case.yaml``), loading one case or a whole suite, and the
errors either can raise with a one-line reason."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from graph.models import CONTROL_ACTIONS
from tools.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES_DIR = ROOT / "evals"
# In a checkout the fixtures are the tests'; an installed wheel carries a copy under evals/fixtures.
FIXTURES_DIR = next(
    (path for path in (ROOT / "tests" / "fixtures", DEFAULT_CASES_DIR / "fixtures") if path.is_dir()),
    ROOT / "tests" / "fixtures",
)
CASE_FILE = "case.yaml"
DEFAULT_REQUESTER = "U0ONCALL042"  # an on-call engineer: asks for things, is in no approver group
EVENT_REQUESTER = "aws:events"  # what the HTTP /events endpoint records as an alert's requester
EXECUTABLE = frozenset(REGISTRY) | {"rollback"}
INTENT_ACTIONS = EXECUTABLE | CONTROL_ACTIONS
EstatePart = Literal["web", "miner", "db", "asg"]
Decision = Literal["auto", "approval", "reject", "log_only", "none"]
PLACEHOLDER_RE = re.compile(r"\{([a-z_]+(?:\[\d+\])?)\}")
PLACEHOLDERS = (
    "vpc_id",
    "subnet_id",
    "web_group_id",
    "db_group_id",
    "web_instances[0]",
    "web_instances[1]",
    "miner_instance",
    "db_instance",
    "asg_name",
)


class CaseError(ValueError):
    """A case folder that cannot be read or run as written; the message names the file."""


class EvalError(ValueError):
    """The suite cannot run at all (no cases, no moto server)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseInput(Strict):
    text: str | None = None
    event: dict[str, Any] | None = None
    event_fixture: str | None = Field(default=None, description="a path under tests/fixtures/")
    event_patch: dict[str, Any] = Field(default_factory=dict, description="dotted path -> new value")

    @model_validator(mode="after")
    def _one_source(self) -> CaseInput:
        given = [name for name in ("text", "event", "event_fixture") if getattr(self, name) is not None]
        if len(given) != 1:
            shown = " and ".join(given) if given else "none of them"
            raise ValueError(f"give exactly one of text, event or event_fixture (got {shown})")
        if self.event_patch and self.text is not None:
            raise ValueError("event_patch applies to an event; this input is text")
        if self.event_fixture is not None:
            path = (FIXTURES_DIR / self.event_fixture).resolve()
            if FIXTURES_DIR.resolve() not in path.parents or not path.is_file():
                raise ValueError(f"event_fixture '{self.event_fixture}' is not a file under tests/fixtures/")
        return self


class Expectation(Strict):
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    decision: Decision
    approvers: list[str] | None = None
    audit: Literal["pass", "veto"] | None = None
    reasons_mention: list[str] = Field(default_factory=list)  # each must appear in a reason or the reply

    @model_validator(mode="after")
    def _known_action(self) -> Expectation:
        if self.action not in INTENT_ACTIONS:
            raise ValueError(f"'{self.action}' is not an action or control intent opsbot knows")
        return self


class EvalCase(Strict):
    name: str
    description: str = ""
    adversarial: bool = False
    input: CaseInput
    requester: str | None = None  # default: DEFAULT_REQUESTER for text, EVENT_REQUESTER for events
    estate: bool | list[EstatePart] = False
    expect: Expectation
    forbidden_actions: list[str] = Field(default_factory=list)
    approve_as: list[str] = Field(default_factory=list)
    expect_executed: list[str] | None = None
    known_gap: str | None = None

    @model_validator(mode="after")
    def _coherent(self) -> EvalCase:
        for action in [*self.forbidden_actions, *(self.expect_executed or [])]:
            if action not in EXECUTABLE:
                raise ValueError(f"'{action}' is not an executable action ({', '.join(sorted(EXECUTABLE))})")
        if self.adversarial and not self.forbidden_actions:
            raise ValueError("an adversarial case must list forbidden_actions")
        used = set(PLACEHOLDER_RE.findall(self.model_dump_json(include={"input", "expect"})))
        unknown = sorted(used - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}} (known: {', '.join(PLACEHOLDERS)})")
        if used and self.estate is False:
            raise ValueError(f"placeholder {{{sorted(used)[0]}}} needs an estate: set `estate: true`")
        return self

    @property
    def requested_by(self) -> str:
        if self.requester is not None:
            return self.requester
        return DEFAULT_REQUESTER if self.input.text is not None else EVENT_REQUESTER


def _validation_message(error: ValidationError) -> str:
    problems = []
    for issue in error.errors()[:3]:
        where = ".".join(str(part) for part in issue["loc"])
        if issue["type"] == "extra_forbidden":
            problems.append(f"unknown key '{where}'")
        else:
            message = str(issue["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def load_case(case_dir: Path) -> EvalCase:
    """The case in ``case_dir/case.yaml``; ``CaseError`` with a one-line reason otherwise."""
    path = case_dir / CASE_FILE
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise CaseError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise CaseError(f"{path}: not valid YAML{where} ({problem})") from None
    if not isinstance(raw, dict):
        raise CaseError(f"{path}: a case is a mapping of keys, got {type(raw).__name__}")
    raw.setdefault("name", case_dir.name)
    try:
        case = EvalCase.model_validate(raw)
    except ValidationError as error:
        raise CaseError(f"{path}: {_validation_message(error)}") from None
    if case.name != case_dir.name:
        raise CaseError(f"{path}: name '{case.name}' differs from its folder '{case_dir.name}'")
    return case


def load_cases(cases_dir: Path, only: str | None = None) -> list[EvalCase]:
    """Every case under ``cases_dir``, by name; ``only`` keeps names matching any of its comma-separated
    globs."""
    folders = sorted(path.parent for path in Path(cases_dir).glob(f"*/{CASE_FILE}"))
    if not folders:
        raise EvalError(f"no eval cases in {cases_dir} (each case is a folder holding {CASE_FILE})")
    if only:
        patterns = [pattern.strip() for pattern in only.split(",") if pattern.strip()]
        folders = [f for f in folders if any(fnmatch.fnmatchcase(f.name, p) for p in patterns)]
        if not folders:
            raise EvalError(f"no case in {cases_dir} matches '{only}'")
    return [load_case(folder) for folder in folders]
