"""AWS failures inside an action: refusals it expects, resources that are missing, steps to undo.

These sit next to ``tools.context.aws_errors``.  They handle only AWS refusals (``ClientError``);
any other error passes through unchanged, as it did before they were shared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from tools.base import ToolError
from tools.context import describe_error, error_code

Step = TypeVar("Step")


@dataclass
class ExpectedRefusal:
    """Filled in by ``aws_errors_allowing`` when AWS refused with one of the expected codes."""

    code: str | None = None


@contextmanager
def aws_errors_allowing(doing: str, *codes: str) -> Iterator[ExpectedRefusal]:
    """Let a refusal with one of ``codes`` pass (its code is noted); any other refusal becomes a ToolError."""
    refusal = ExpectedRefusal()
    try:
        yield refusal
    except ClientError as exc:
        if error_code(exc) not in codes:
            raise ToolError(f"AWS refused to {doing}: {describe_error(exc)}.") from exc
        refusal.code = error_code(exc)


@contextmanager
def not_found_or_refused(doing: str, not_found: str, is_not_found: Callable[[str], bool]) -> Iterator[None]:
    """A refusal while ``doing`` becomes a ToolError: ``not_found`` if its code says the resource is gone."""
    try:
        yield
    except ClientError as exc:
        if is_not_found(error_code(exc)):
            raise ToolError(not_found) from exc
        raise ToolError(f"AWS refused to {doing}: {describe_error(exc)}.") from exc


def undo_completed(done: Iterable[Step], undo: Callable[[Step], object]) -> None:
    """Undo each completed step, best effort: an undo that fails is skipped; the first failure is reported."""
    for step in done:
        try:
            undo(step)
        except (ClientError, BotoCoreError):
            continue
