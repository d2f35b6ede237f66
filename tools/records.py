"""What an action's verify and rollback do with the record of a dry run: nothing, without reading AWS.

Every action's ``verify`` and ``rollback`` wear one of these decorators, so that rule is written once.
"""

from __future__ import annotations

import functools
from typing import TypeVar

from tools.base import ActionArgs, AwsClients, ExecContext, JsonDict, RollbackFn, VerifyFn, VerifyResult
from tools.context import DRY_RUN_VERIFIED, nothing_to_roll_back

Args = TypeVar("Args", bound=ActionArgs)


def skip_verify_after_dry_run(verify: VerifyFn[Args]) -> VerifyFn[Args]:
    """``verify``, except that a dry-run record is answered with DRY_RUN_VERIFIED."""

    @functools.wraps(verify)
    def verify_real_run(clients: AwsClients, args: Args, record: JsonDict) -> VerifyResult:
        if record.get("dry_run"):
            return DRY_RUN_VERIFIED
        return verify(clients, args, record)

    return verify_real_run


def skip_rollback_after_dry_run(rollback: RollbackFn[Args]) -> RollbackFn[Args]:
    """``rollback``, except that a dry-run record (nothing was changed) is answered with nothing to undo."""

    @functools.wraps(rollback)
    def roll_back_real_run(clients: AwsClients, args: Args, record: JsonDict, ctx: ExecContext) -> JsonDict:
        skipped = nothing_to_roll_back(record)
        if skipped is not None:
            return skipped
        return rollback(clients, args, record, ctx)

    return roll_back_real_run
