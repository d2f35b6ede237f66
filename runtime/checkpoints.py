"""The graph's checkpointer: SQLite in the data directory (the embedded default), or PostgreSQL.

PostgreSQL (``OPSBOT_CHECKPOINTER=postgres`` and ``OPSBOT_POSTGRES_URL``) is for several hosts: any
worker can resume any thread, approvals included (see ``runtime.postgres_checkpoints``). Its driver is
imported only when it is selected.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from runtime.config import Settings


class CheckpointerMisconfigured(ValueError):
    """The checkpointer settings are incomplete or invalid."""


class CheckpointerUnavailable(ConnectionError):
    """The checkpoint database cannot be reached or prepared; nothing can run without it."""


def open_checkpointer(settings: Settings) -> BaseCheckpointSaver[Any]:
    """The checkpointer the settings select, ready to use, open for the life of the process."""
    if settings.checkpointer == "postgres":
        if settings.postgres_url is None:
            raise CheckpointerMisconfigured(
                "OPSBOT_CHECKPOINTER=postgres needs OPSBOT_POSTGRES_URL (a postgresql:// connection URL)."
            )
        from runtime.postgres_checkpoints import open_postgres_checkpointer

        return open_postgres_checkpointer(settings.postgres_url.get_secret_value())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(settings.checkpoint_path, check_same_thread=False)
    return SqliteSaver(connection)


def close_checkpointer(checkpointer: BaseCheckpointSaver[Any]) -> None:
    """Close the connection or pool behind a checkpointer from ``open_checkpointer``."""
    connection = getattr(checkpointer, "conn", None)
    if connection is not None:
        connection.close()
