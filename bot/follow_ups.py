"""Short replies in a thread opsbot already runs: approve, reject, why, roll it back.

Anything else in a thread is either a new request (when it mentions opsbot) or chatter between
people, which opsbot ignores.
"""

from __future__ import annotations

import re
from typing import Literal

FollowUp = Literal["approve", "reject", "why", "rollback_last"]
MENTION_RE = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")

_PHRASES: dict[FollowUp, tuple[str, ...]] = {
    "approve": ("approve", "approved", "i approve", "approve it", "approve this"),
    "reject": ("reject", "rejected", "deny", "denied", "reject it", "reject this"),
    "why": ("why", "why?", "explain", "explain why", "why not", "why not?"),
    "rollback_last": ("roll it back", "roll back", "rollback", "undo", "undo it", "revert", "revert it"),
}


def without_mentions(text: str) -> str:
    return " ".join(MENTION_RE.sub(" ", text).split())


def follow_up(text: str) -> FollowUp | None:
    said = without_mentions(text).lower().strip(" .!")
    said = said.removesuffix(" please").removeprefix("please ").strip(" .!")
    for kind, phrases in _PHRASES.items():
        if said in phrases or said.rstrip("?") in phrases:
            return kind
    return None
