"""Whether an S3 bucket is public, and whether its public access block is fully on.

A bucket is public when an ACL grant names AllUsers or AuthenticatedUsers and the bucket's public
access block does not ignore public ACLs, or when a bucket policy statement allows Principal "*" and
the block does not restrict public buckets. The block is checked per bucket; an account-wide block
(S3 Control) on top of it is not read here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tools.context import error_code

PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
BLOCK_SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NO_BLOCK = "NoSuchPublicAccessBlockConfiguration"
NO_POLICY = "NoSuchBucketPolicy"


@dataclass(frozen=True)
class BucketExposure:
    name: str
    public_grants: tuple[str, ...]  # "AllUsers: READ"
    public_policy: bool
    block: dict[str, bool] | None  # None: no public access block at all

    @property
    def block_off(self) -> tuple[str, ...]:
        """The block's settings that are off (all four when there is no block)."""
        if self.block is None:
            return BLOCK_SETTINGS
        return tuple(name for name in BLOCK_SETTINGS if not self.block.get(name, False))

    @property
    def public(self) -> bool:
        off = self.block_off
        return bool(self.public_grants and "IgnorePublicAcls" in off) or (
            self.public_policy and "RestrictPublicBuckets" in off
        )

    def exposure_text(self) -> str:
        parts = [f"ACL grants {grant}" for grant in self.public_grants]
        if self.public_policy:
            parts.append('policy allows Principal "*"')
        if not parts:
            return "not public"
        return "; ".join(parts) + ("" if self.public else " (neutralised by the block)")

    def block_text(self) -> str:
        if self.block is None:
            return "missing"
        off = self.block_off
        return "on" if not off else "off: " + ", ".join(off)


def read_exposure(s3: Any, bucket: str) -> BucketExposure:
    acl = s3.get_bucket_acl(Bucket=bucket)
    grants = tuple(
        f"{PUBLIC_GROUPS[grant['Grantee']['URI']]}: {grant['Permission']}"
        for grant in acl.get("Grants", [])
        if grant.get("Grantee", {}).get("URI") in PUBLIC_GROUPS
    )
    return BucketExposure(bucket, grants, _policy_is_public(s3, bucket), _block(s3, bucket))


def _block(s3: Any, bucket: str) -> dict[str, bool] | None:
    try:
        config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        if error_code(error) == NO_BLOCK:
            return None
        raise
    return {name: bool(config.get(name, False)) for name in BLOCK_SETTINGS}


def _policy_is_public(s3: Any, bucket: str) -> bool:
    try:
        text = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as error:
        if error_code(error) == NO_POLICY:
            return False
        raise
    return policy_allows_everyone(json.loads(text))


def policy_allows_everyone(policy: Any) -> bool:
    """Whether an Allow statement names Principal "*" (or {"AWS": "*"}), conditions or not."""
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    return any(
        isinstance(statement, dict)
        and statement.get("Effect") == "Allow"
        and _everyone(statement.get("Principal"))
        for statement in statements
    )


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False
