"""One way for tests to POST to a local server and read its JSON answer, whatever the status."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def post_json_reply(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
