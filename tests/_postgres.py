"""A throwaway PostgreSQL server, for the tests and the benchmarks: initdb and pg_ctl.

The cluster lives in a temporary folder and listens on a free loopback port; stopping it
throws its data away. Run as root (as CI does), the server runs as the ``postgres`` user the
Debian package creates, since initdb refuses root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["POSTGRES_MISSING", "PostgresMissingError", "PostgresServer"]


class PostgresMissingError(RuntimeError):
    """PostgreSQL's server programs are not installed."""


POSTGRES_MISSING = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed, so the PostgreSQL store "
    "tests cannot run. Install them (Debian/Ubuntu: `apt-get install -y postgresql`; "
    "`.ci/run` does this itself) and run pytest again."
)


def _postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found is not None:
        return Path(found).parent
    # Debian keeps the server programs out of PATH, one folder per major version.
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return versions[0].parent if versions else None


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary folder, on a free loopback port."""

    def __init__(self) -> None:
        """Create the cluster with initdb and start it with pg_ctl."""
        binaries = _postgres_bin()
        if binaries is None:
            raise PostgresMissingError(POSTGRES_MISSING)
        self.binaries = binaries
        # Not under pytest's tmp_path: that folder is private to root, and the server may not
        # run as root (initdb refuses); it then runs as the package's own user.
        directory = Path(tempfile.mkdtemp(prefix="purecallerid-pg-"))
        self.directory = directory
        self.data = directory / "data"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            shutil.chown(directory, user="postgres")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")  # fmt: skip
        options = f"-p {self.port} -h 127.0.0.1 -k {directory} -F -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-o", options,
                  "-l", str(directory / "log"), "-w", "-t", "30", "start")  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._databases = 0

    def _run(self, program: str, *arguments: str) -> None:
        subprocess.run(  # noqa: S603 - our own arguments
            [*self.run_as, str(self.binaries / program), *arguments],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def new_database(self) -> str:
        """A fresh, empty database of this server: its URL."""
        import psycopg  # noqa: PLC0415 - the postgres extra

        self._databases += 1
        name = f"t{self._databases}"
        with psycopg.connect(self.url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the server at once and throw its data away."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
