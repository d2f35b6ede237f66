"""The requests a review proposes, worded as the team would type them to opsbot in Slack.

A review never acts. Each fix it proposes is one of these strings; pasted into Slack it goes through
parse, plan, audit, policy and approval like any other request. Every wording here is one the rule
parser understands (tests/test_reviews.py checks that it parses to the intended action).
"""

from __future__ import annotations

MENTION = "@opsbot"


def scale_request(group: str, desired: int, region: str) -> str:
    return f"{MENTION} scale {group} to {desired} in {region}"


def stop_request(instance_id: str, region: str) -> str:
    return f"{MENTION} stop {instance_id} in {region}"


def tag_request(resource_id: str, key: str, value: str, region: str) -> str:
    return f"{MENTION} tag {resource_id} {key}={value} in {region}"


CLEANUP_TAG_KEY = "cost-review"
CLEANUP_TAG_VALUE = "delete"


def cleanup_tag_request(resource_id: str, region: str) -> str:
    """Marks a volume or snapshot for deletion; opsbot has no action that deletes storage."""
    return tag_request(resource_id, CLEANUP_TAG_KEY, CLEANUP_TAG_VALUE, region)
