"""A real PostgreSQL for the tests, from Debian's ``postgresql`` package (scripts/check installs it).

``PostgresServer.start(workdir)`` runs ``initdb`` and ``pg_ctl`` from /usr/lib/postgresql/<version>/bin
(the newest version there, else the ones on PATH). PostgreSQL refuses to run as root, so under root
both run as the ``postgres`` user (``runuser -u postgres --``) in a directory that user owns; as any
other user they run as that user. The server listens only on a unix socket in its own directory, on a
port of its own, with trust authentication and fsync off: a throwaway database for tests.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

BINARIES_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_SECONDS = 30


def postgres_bin_dir() -> Path | None:
    """The directory holding initdb and pg_ctl (newest version first), or None when not installed."""
    versions = sorted(
        (path for path in BINARIES_ROOT.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    if versions:
        return versions[0]
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    run_as: str | None  # "postgres" under root, else None (the current user)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresServer:
        run_as = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp dir: that is private to the user running pytest, and the server runs
        # as another user under root.
        root = Path(tempfile.mkdtemp(prefix="opsbot-postgres-"))
        server = cls(bin_dir, root, _free_port(), run_as)
        server.socket_dir.mkdir()
        if run_as is not None:
            owner = pwd.getpwnam(run_as)
            for path in (root, server.socket_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            server._run(
                "initdb",
                "--pgdata",
                str(server.data_dir),
                "--username",
                "postgres",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            )
            options = (
                f"-p {server.port} -k {server.socket_dir} -c listen_addresses='' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            server._run(
                "pg_ctl",
                "start",
                "--pgdata",
                str(server.data_dir),
                "--wait",
                f"--timeout={START_TIMEOUT_SECONDS}",
                "--log",
                str(server.root / "server.log"),
                "-o",
                options,
            )
        except BaseException:
            server.stop()
            raise
        return server

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", "immediate", "--wait")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if completed.returncode != 0:
            log = self.root / "server.log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({completed.returncode}): {completed.stderr.strip()}\n{detail}".strip()
            )


def create_database(server_url: str) -> str:
    """A new empty database on the server behind ``server_url``; its connection URL."""
    name = f"opsbot_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    prefix, _, query = server_url.partition("?")
    return f"{prefix.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
