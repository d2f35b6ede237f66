"""Which audit entries a post-mortem covers: a thread's, or one run's (``thread/N``, ``thread/<run id>``)."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge.postmortem_facts import Entry, PostmortemError
from knowledge.postmortem_text import as_dict
from runtime.audit_log import entries

SUGGESTIONS = 3


def incident_entries(audit_path: Path | str, incident: str) -> list[dict[str, Any]]:
    """The audit entries of a thread, or of one run of it (``thread/N`` or ``thread/<run id>``)."""
    path = Path(audit_path)
    return select_entries(read_log(path), incident, path)[0]


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every well-formed entry of the audit log at ``path``; a missing log is a ``PostmortemError``."""
    if not path.exists():
        raise PostmortemError(
            f"there is no audit log at {path}, so there is nothing to write a post-mortem from"
        )
    return list(entries(path))


def select_entries(
    log: Sequence[Entry], incident: str, path: Path | str = "the audit log"
) -> tuple[list[dict[str, Any]], str]:
    """(the entries, the scope: "" or "run N of M") that ``incident`` names among ``log``."""
    wanted = incident.strip()
    if not wanted:
        raise PostmortemError("name an incident: a thread id such as inc-… or slack-C…-…")
    threads = list(dict.fromkeys(str(entry["thread_id"]) for entry in log))
    exact = [dict(entry) for entry in log if entry["thread_id"] == wanted]
    if exact:
        return exact, ""
    thread, _, run = wanted.rpartition("/")
    if thread and run:
        chosen = [dict(entry) for entry in log if entry["thread_id"] == thread]
        if chosen:
            return _pick_run(thread, chosen, run)
    raise PostmortemError(_not_found(wanted, threads, path))


def _not_found(wanted: str, threads: list[str], path: Path | str) -> str:
    if not threads:
        return f"the audit log at {path} has no entries yet, so there is no incident {wanted}"
    base = wanted.rpartition("/")[0] or wanted
    close = difflib.get_close_matches(base, threads, n=SUGGESTIONS, cutoff=0.5)
    close += [t for t in threads if t.startswith(base) and t not in close][: SUGGESTIONS - len(close)]
    if close:
        hint = "did you mean " + ", ".join(close) + "?"
    else:
        hint = "the most recent threads are " + ", ".join(reversed(threads[-SUGGESTIONS:]))
    return f"no audit entries for incident {wanted} in {path}; {hint}"


def split_runs(thread_entries: Sequence[Entry]) -> list[list[dict[str, Any]]]:
    """A thread's entries cut into runs: each run starts at a ``parse`` entry.

    Run ids do not cut: approval clicks, actions and rollbacks are written without one, and old logs
    have none at all. ``run_id_of`` names a run once it is cut.
    """
    runs: list[list[dict[str, Any]]] = []
    for entry in thread_entries:
        if not runs or (entry["kind"] == "parse" and any(e["kind"] == "parse" for e in runs[-1])):
            runs.append([])
        runs[-1].append(dict(entry))
    return runs


def run_id_of(run: Sequence[Entry]) -> str:
    """The run id the entries carry (``data.run_id``, or the pending approval's), if any."""
    for entry in run:
        data = entry["data"]
        for candidate in (data.get("run_id"), as_dict(data.get("approval")).get("run_id")):
            if isinstance(candidate, str) and candidate:
                return candidate
    return ""


def _pick_run(thread: str, chosen: list[dict[str, Any]], run: str) -> tuple[list[dict[str, Any]], str]:
    runs = split_runs(chosen)
    for number, entries_of_run in enumerate(runs, start=1):
        if run_id_of(entries_of_run) == run:
            return entries_of_run, f"run {number} of {len(runs)}"
    number = len(runs) if run == "last" else int(run) if run.isdigit() else 0
    if 1 <= number <= len(runs):
        return runs[number - 1], f"run {number} of {len(runs)}"
    known = [rid for rid in (run_id_of(r) for r in runs) if rid]
    ids = f" or a run id ({', '.join(known)})" if known else ""
    raise PostmortemError(
        f"thread {thread} has {len(runs)} run(s) and none is {run}: "
        f"ask for {thread}/1 to {thread}/{len(runs)}, {thread}/last{ids}"
    )
