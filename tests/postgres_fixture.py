"""Fixtures for tests that need PostgreSQL: ``postgres_url`` (session) and ``postgres_database`` (per test).

Use them by importing into a test module
(``from postgres_fixture import postgres_database_fixture, postgres_url_fixture  # noqa: F401``)
or by listing this module in the root conftest (``pytest_plugins = ["postgres_fixture"]``).
The tests are skipped, with the reason, only when PostgreSQL's binaries are not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from postgres_support import PostgresServer, create_database, postgres_bin_dir


@pytest.fixture(name="postgres_url", scope="session")
def postgres_url_fixture() -> Iterator[str]:
    """A real PostgreSQL server for the session: the URL of its ``postgres`` database."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin or on PATH); "
            "scripts/check installs Debian's postgresql package"
        )
    server = PostgresServer.start(bin_dir)
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(name="postgres_database")
def postgres_database_fixture(postgres_url: str) -> str:
    """The URL of a new, empty database on the session's server, for one test."""
    return create_database(postgres_url)
