"""Process logging: one JSON object per line (or plain text), with the run's ids, and no secrets.

The pipeline wraps each run in ``log_context(thread_id=..., run_id=..., incident_id=...)``; those ids live
in a context variable, so every line logged during the run (in any module, and in the graph's worker
threads, which copy the context) carries them. Messages, extra fields and tracebacks go through
``runtime.redaction`` before they are written. An exception is one ``error`` field, never a multi-line
traceback on the stream.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TextIO

from runtime.redaction import mask_secrets, redact

LogFormat = Literal["json", "text"]
LOG_FORMATS: tuple[LogFormat, ...] = ("json", "text")
CONTEXT_FIELDS = ("incident_id", "thread_id", "run_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_LOG_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("opsbot_log_context", default=_EMPTY)
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_JSON_KEYS = frozenset({"ts", "level", "logger", "message", "error", "stack", *CONTEXT_FIELDS})


@contextmanager
def log_context(
    *, thread_id: str | None = None, run_id: str | None = None, incident_id: str | None = None
) -> Iterator[None]:
    """Add these ids (the ones given and not empty) to every log line written inside the block."""
    given = {"thread_id": thread_id, "run_id": run_id, "incident_id": incident_id}
    merged = {**_LOG_CONTEXT.get(), **{key: value for key, value in given.items() if value}}
    token = _LOG_CONTEXT.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _LOG_CONTEXT.reset(token)


def current_log_context() -> dict[str, str]:
    """The ids the current run's log lines carry (empty outside a run)."""
    return dict(_LOG_CONTEXT.get())


class ContextFilter(logging.Filter):
    """Puts the current run's ids on each record (unless the call passed its own in ``extra=``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _LOG_CONTEXT.get().items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_field(record: logging.LogRecord) -> dict[str, str] | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    kind, error, trace = record.exc_info
    name = kind.__qualname__ if kind is not None else type(error).__qualname__
    return {
        "type": name,
        "message": mask_secrets(str(error)),
        "traceback": mask_secrets("".join(traceback.format_exception(kind, error, trace)).rstrip()),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the run's ids, extra fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
        }
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value:
                payload[key] = str(value)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and key not in _JSON_KEYS and not key.startswith("_"):
                payload[key] = next(iter(redact({key: value}).values()))
        error = _error_field(record)
        if error is not None:
            payload["error"] = error
        if record.stack_info:
            payload["stack"] = mask_secrets(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, with the run's ids at the end and secrets masked."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(
            f"{key}={getattr(record, key)}" for key in CONTEXT_FIELDS if getattr(record, key, None)
        )
        return mask_secrets(f"{text} [{ids}]" if ids else text)


class OpsbotLogHandler(logging.StreamHandler[TextIO]):
    """The root handler ``configure_logging`` installs (and replaces when called again)."""


def configure_logging(
    fmt: str = "json", level: int | str = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr by default) as JSON lines or text.

    Calling it again replaces the handler it installed before; other handlers are left alone.
    Returns the installed handler.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"the log format must be 'json' or 'text', not {fmt!r}")
    resolved = level.upper() if isinstance(level, str) else level
    if isinstance(resolved, str) and not isinstance(logging.getLevelName(resolved), int):
        raise ValueError(f"{level!r} is not a log level (use DEBUG, INFO, WARNING, ERROR or CRITICAL)")
    root = logging.getLogger()
    for previous in [h for h in root.handlers if isinstance(h, OpsbotLogHandler)]:
        root.removeHandler(previous)
    handler = OpsbotLogHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(resolved)
    return handler
