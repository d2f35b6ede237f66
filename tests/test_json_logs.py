"""Structured logs: JSON lines with the run's ids, secrets masked, an exception on one line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import FakeClock, Recorder, crypto_event, make_estate, make_pipeline

from runtime.incidents import thread_for
from runtime.json_logs import configure_logging, current_log_context, log_context

SLACK_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """JSON logging into a buffer for one test; the root logger is put back as it was afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    configure_logging("json", "INFO", stream=buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    raw = buffer.getvalue().splitlines()
    assert raw, "nothing was logged"
    return [json.loads(line) for line in raw]  # every line is one JSON object


def test_a_line_logged_inside_a_run_carries_its_thread_run_and_incident(
    stream: io.StringIO, tmp_path: Path, aws_endpoint: str
) -> None:
    pipeline = make_pipeline(tmp_path, aws_endpoint, clock=FakeClock(), notifier=Recorder())
    estate = make_estate(pipeline)
    thread_id = thread_for("guardduty:crypto-test")
    run = pipeline.start(thread_id, {"event": crypto_event(estate.miner_instance), "requester": "aws:events"})
    logging.getLogger("opsbot.test").info("after the run")

    logged = lines(stream)
    steps = [line for line in logged if line["logger"] == "graph.executor"]
    assert [line["message"].split(" (")[0] for line in steps] == [
        "step 0 snapshot_instance",
        "step 1 isolate_instance",
    ]
    for line in steps:
        assert line["thread_id"] == thread_id
        assert line["incident_id"] == thread_id
        assert line["run_id"] == run.state["run_id"]
        assert line["level"] == "INFO"
        assert line["message"].endswith(": ok")
        assert line["ts"].endswith("Z")
    [after] = [line for line in logged if line["message"] == "after the run"]
    assert "thread_id" not in after  # the ids end with the run
    assert "run_id" not in after
    assert current_log_context() == {}


def test_secrets_are_masked_in_messages_and_extra_fields(stream: io.StringIO) -> None:
    log = logging.getLogger("opsbot.test")
    log.warning("posting with %s failed", SLACK_TOKEN, extra={"api_key": "plain-secret", "channel": "C0OPS"})
    text = stream.getvalue()
    assert SLACK_TOKEN not in text
    assert "plain-secret" not in text
    line = lines(stream)[0]
    assert line["message"] == "posting with xoxb-[redacted] failed"
    assert line["api_key"] == "[redacted]"
    assert line["channel"] == "C0OPS"


def test_an_exception_is_one_line_with_an_error_field(stream: io.StringIO) -> None:
    log = logging.getLogger("opsbot.test")
    with log_context(thread_id="t-boom", run_id="r-1"):
        try:
            raise ValueError(f"bad token {SLACK_TOKEN}")
        except ValueError:
            log.exception("the handler failed")
    raw = stream.getvalue().splitlines()
    assert len(raw) == 1
    line = json.loads(raw[0])
    assert line["level"] == "ERROR"
    assert line["message"] == "the handler failed"
    assert (line["thread_id"], line["run_id"]) == ("t-boom", "r-1")
    assert line["error"]["type"] == "ValueError"
    assert line["error"]["message"] == "bad token xoxb-[redacted]"
    assert "Traceback (most recent call last)" in line["error"]["traceback"]
    assert SLACK_TOKEN not in raw[0]


def test_nested_contexts_add_ids_and_restore_them(stream: io.StringIO) -> None:
    with log_context(thread_id="inc-1", incident_id="inc-1"):
        with log_context(run_id="r-2"):
            assert current_log_context() == {"thread_id": "inc-1", "incident_id": "inc-1", "run_id": "r-2"}
        assert current_log_context() == {"thread_id": "inc-1", "incident_id": "inc-1"}
    assert current_log_context() == {}


def test_text_format_keeps_ids_and_masks_secrets() -> None:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    buffer = io.StringIO()
    try:
        configure_logging("text", "debug", stream=buffer)
        configure_logging("text", "debug", stream=buffer)  # again: replaces, never duplicates
        with log_context(thread_id="t-text", run_id="r-3"):
            logging.getLogger("opsbot.test").debug("using %s", SLACK_TOKEN)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    [line] = buffer.getvalue().splitlines()
    assert line.endswith("using xoxb-[redacted] [thread_id=t-text run_id=r-3]")
    assert " DEBUG opsbot.test " in line


def test_unknown_format_or_level_is_refused_in_one_sentence() -> None:
    with pytest.raises(ValueError, match="the log format must be 'json' or 'text', not 'yaml'"):
        configure_logging("yaml")
    with pytest.raises(ValueError, match="'LOUD' is not a log level"):
        configure_logging("json", "LOUD")
