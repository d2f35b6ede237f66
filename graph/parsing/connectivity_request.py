"""troubleshoot_connectivity: "why can't i-a reach 10.0.3.4:5432?", "i-a cannot connect to i-b on 443",
"troubleshoot connectivity from i-a to 10.0.3.4 port 5432". A read-only question, never a change.
"""

from __future__ import annotations

import re

from graph.parsing.distinct import distinct
from graph.parsing.network_params import read_port
from graph.parsing.request_entities import EC2_RESOURCE_ID_RE, ENDPOINT_TOKEN_RE, Entities, normalise_id
from graph.parsing.request_params import instance_problem
from graph.parsing.verb_targets import Built, VerbMatch

_NEGATIVE = (
    r"(?:can'?t|cannot|can\s+not|isn'?t|is\s+not|doesn'?t|does\s+not|won'?t|couldn'?t|"
    r"unable\s+to|fails?\s+to|failing\s+to)"
)
_REACH = r"(?:reach|connect|talk|get\s+to|ping|hit|access)"
TROUBLESHOOT_VERB_RE = re.compile(
    r"\b(?:troubleshoot(?:ing)?(?:\s+(?:the\s+)?(?:network\s+)?(?:connectivity|connections?|reachability|network|path))?"
    r"|(?:check|test|debug|diagnose|verify|trace)\s+(?:the\s+)?(?:network\s+)?(?:connectivity|connections?|reachability|path)"
    rf"|why\s+{_NEGATIVE}|{_NEGATIVE}\s+{_REACH}"
    rf"|(?:can|could|does|is)(?=\s+\S+\s+(?:(?:be\s+)?able\s+to\s+)?{_REACH}\b))",
    re.IGNORECASE,
)
_FROM_RE = re.compile(r"\bfrom\s+$", re.IGNORECASE)
_SENTENCE_END_RE = re.compile(r"[!?;]|\.(?=\s|$)|\s+then\s+|\n", re.IGNORECASE)
USAGE = "like 'why can't i-0123456789abcdef0 reach 10.0.3.4:5432?'"


def _endpoints(text: str) -> list[tuple[str, int]]:
    found = [(normalise_id(m.group(0)), m.start()) for m in ENDPOINT_TOKEN_RE.finditer(text)]
    seen = distinct(token for token, _start in found)
    return [(token, next(start for t, start in found if t == token)) for token in seen]


def _problem(endpoint: str) -> str | None:
    if "/" in endpoint:
        return f"{endpoint} is a network; troubleshoot_connectivity needs one address at each end"
    if endpoint.lower().startswith("i-"):
        return instance_problem(endpoint)
    if endpoint.lower().startswith("eni-") and not EC2_RESOURCE_ID_RE.match(endpoint):
        return f"'{endpoint}' is not a network interface id (eni- and 8 or 17 hex digits)"
    return None


def _sentence(text: str, verb: VerbMatch) -> str:
    """The sentence holding the verb: a question with another request after it is read on its own."""
    starts = [m.end() for m in _SENTENCE_END_RE.finditer(text, 0, verb.start)]
    end = _SENTENCE_END_RE.search(text, verb.end)
    return text[starts[-1] if starts else 0 : end.start() if end else len(text)]


def build_troubleshoot(text: str, verb: VerbMatch, ents: Entities) -> Built | None:
    text = _sentence(text, verb)
    ends = _endpoints(text)
    if len(ends) < 2 and not verb.at_start:
        return None
    built = Built()
    # "from X": X is the source, wherever it stands; otherwise the first named end is.
    sources = [token for token, start in ends if _FROM_RE.search(text[:start])]
    ordered = [token for token, _start in ends]
    if sources and len(ordered) == 2:
        ordered = [sources[0], *(token for token in ordered if token != sources[0])]
    if len(ordered) < 2:
        built.errors.append(f"troubleshoot_connectivity needs a source and a destination ({USAGE})")
    elif len(ordered) > 2:
        built.errors.append(
            f"troubleshoot_connectivity checks one source and one destination; the request names "
            f"{len(ordered)}: {', '.join(ordered)}"
        )
    for param, value in zip(("source", "destination"), ordered, strict=False):
        built.params[param] = value
        problem = _problem(value)
        built.errors += [problem] if problem else []
    port, problem = read_port(text)
    if port is not None:
        built.params["port"] = port
    if problem or port is None:
        built.errors.append(problem or f"troubleshoot_connectivity needs a port ({USAGE})")
    built.params["protocol"] = "udp" if re.search(r"\budp\b", text, re.IGNORECASE) else "tcp"
    return built
