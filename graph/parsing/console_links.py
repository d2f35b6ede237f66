"""AWS console links in Slack posts: their query parameters and the finding ids they name."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit


def link_params(url: str) -> dict[str, str]:
    """Query parameters of ``url``, including those of a ``#/path?query`` fragment (AWS console links)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return {}
    params: dict[str, str] = {}
    for query in (parts.query, parts.fragment.partition("?")[2]):
        for key, values in parse_qs(query).items():
            params.setdefault(key, values[0])
    return params


def guardduty_finding_id(links: list[str]) -> str:
    """The finding id of the first GuardDuty console link that names one (``fId=`` or ``search=id=``)."""
    for link in links:
        if "guardduty" not in link:
            continue
        params = link_params(link)
        search = params.get("search", "")
        finding_id = params.get("fId", "") or (search[3:] if search.lower().startswith("id=") else "")
        if finding_id:
            return finding_id
    return ""


def security_hub_finding_id(url: str) -> str:
    """The finding id a Security Hub console link searches for (``Id EQUALS\\:<id>`` or ``Id=<id>``)."""
    search = unquote(link_params(url).get("search", ""))
    _before, marker, finding_id = search.partition("EQUALS\\:")
    return finding_id.strip() if marker else search.removeprefix("Id=").strip()
