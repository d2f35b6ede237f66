"""Slack user groups as policy members: ``S…`` ids or ``@handles`` expand to their users.

Lookups go to ``usergroups.users.list`` (and ``usergroups.list`` for handles) and are cached for a
few minutes, so a burst of clicks costs one call. A failed lookup counts as "no members": a click
is never authorised because Slack was unreachable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("opsbot.slack")
CACHE_SECONDS = 300.0


class UsergroupDirectory:
    def __init__(
        self, client: WebClient, ttl: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def expand(self, member: str) -> list[str]:
        with self._lock:
            cached = self._cache.get(member)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return cached[1]
        users = self._lookup(member)
        with self._lock:
            self._cache[member] = (self.clock(), users)
        return users

    def _lookup(self, member: str) -> list[str]:
        try:
            group_id = member if member.startswith("S") else self._id_of_handle(member.lstrip("@"))
            if group_id is None:
                return []
            return [str(user) for user in self.client.usergroups_users_list(usergroup=group_id)["users"]]
        except (SlackApiError, OSError) as error:
            reason = error.response.get("error") if isinstance(error, SlackApiError) else error
            log.warning("user group %s could not be read: %s", member, reason)
            return []

    def _id_of_handle(self, handle: str) -> str | None:
        for group in self.client.usergroups_list()["usergroups"]:
            if group.get("handle") == handle:
                return str(group["id"])
        return None
