"""The official ``PostgresSaver`` over a small psycopg pool, for checkpoints shared by several hosts.

The pool is opened for the life of the process, with the settings the saver requires (autocommit,
dict rows, no prepared statements). Each connection is checked before use, so a restarted database is
reconnected to instead of failing every later run. The tables are created or migrated once, at start
(``setup()``). Errors never show the URL's password.
"""

from __future__ import annotations

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from runtime.checkpoints import CheckpointerMisconfigured, CheckpointerUnavailable

CONNECT_TIMEOUT_SECONDS = 10
POOL_SIZE = 4


def open_postgres_checkpointer(url: str) -> PostgresSaver:
    where = describe_target(url)
    _probe(url, where)
    pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
        url,
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        check=ConnectionPool.check_connection,
        open=False,
        name="opsbot-checkpoints",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        saver = PostgresSaver(pool)
        saver.setup()
    except (PoolTimeout, psycopg.Error) as error:
        pool.close()
        raise CheckpointerUnavailable(
            f"cannot prepare the checkpoint tables in PostgreSQL at {where}: {_first_line(error)}"
        ) from error
    return saver


def describe_target(url: str) -> str:
    """Host, port and database of a connection URL, never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        # psycopg's message may quote parts of the URL, the password among them: say less.
        raise CheckpointerMisconfigured(
            "OPSBOT_POSTGRES_URL is not a valid PostgreSQL connection URL."
        ) from None
    host = str(parts.get("host") or "localhost")
    port = str(parts.get("port") or "5432")
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def _probe(url: str, where: str) -> None:
    """Connect once, so an unreachable database gives psycopg's own reason instead of a pool timeout."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS, autocommit=True) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        raise CheckpointerUnavailable(f"cannot reach PostgreSQL at {where}: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
