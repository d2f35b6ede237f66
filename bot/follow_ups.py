"""Short replies in a thread opsbot already runs: approve, reject, why, roll it back.

Anything else in a thread is either a new request (when it mentions opsbot) or chatter between
people, which opsbot ignores.
"""

from __future__ import annotations

import re
from typing import Literal

from knowledge.memory import Vote

FollowUp = Literal["approve", "reject", "why", "rollback_last", "feedback", "postmortem"]
MENTION_RE = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")

_PHRASES: dict[FollowUp, tuple[str, ...]] = {
    "approve": ("approve", "approved", "i approve", "approve it", "approve this"),
    "reject": ("reject", "rejected", "deny", "denied", "reject it", "reject this"),
    "why": ("why", "why?", "explain", "explain why", "why not", "why not?"),
    "rollback_last": ("roll it back", "roll back", "rollback", "undo", "undo it", "revert", "revert it"),
    "postmortem": ("postmortem", "post-mortem", "post mortem", "write a postmortem", "write the postmortem"),
}
FEEDBACK_PREFIX = "feedback:"
VOTES: dict[str, Vote] = {"+1": "up", "thumbsup": "up", "-1": "down", "thumbsdown": "down"}


def without_mentions(text: str) -> str:
    return " ".join(MENTION_RE.sub(" ", text).split())


def feedback_text(text: str) -> str | None:
    """The words after ``feedback:``, or None when the message is not feedback."""
    said = without_mentions(text)
    if not said.lower().startswith(FEEDBACK_PREFIX):
        return None
    return said[len(FEEDBACK_PREFIX) :].strip() or None


def vote_of(reaction: str) -> Vote | None:
    """👍/👎 (with any skin tone) as a vote on the incident."""
    return VOTES.get(reaction.split("::", 1)[0])


def follow_up(text: str) -> FollowUp | None:
    if feedback_text(text) is not None:
        return "feedback"
    said = without_mentions(text).lower().strip(" .!")
    said = said.removesuffix(" please").removeprefix("please ").strip(" .!")
    for kind, phrases in _PHRASES.items():
        if said in phrases or said.rstrip("?") in phrases:
            return kind
    return None
