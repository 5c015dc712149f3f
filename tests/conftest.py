"""Shared test configuration: Hypothesis profiles, the client fixtures, a real redis-server.

``dev`` (the default) keeps everyday runs fast; ``ci`` (set by ``.ci/run`` through
``HYPOTHESIS_PROFILE``) tries more examples.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from _helpers import Screen, make_screen
from _postgres import POSTGRES_MISSING, PostgresMissingError, PostgresServer
from purecallerid.testing import FakePureCallerID

settings.register_profile("dev", max_examples=60, deadline=None)
settings.register_profile(
    "ci", max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def fake() -> FakePureCallerID:
    """A fake vendor answering from the test number table."""
    return FakePureCallerID()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Run the test once with each client."""
    return str(request.param)


@pytest.fixture(params=["leadexec", "public"])
def dialect(request: pytest.FixtureRequest) -> str:
    """Run the test once with each dialect."""
    return str(request.param)


@pytest.fixture
def screen(fake: FakePureCallerID, mode: str) -> Screen:
    """Screen one request through the client of this test's ``mode``."""
    return make_screen(fake, mode)


# -- a real redis-server for the Redis state backend's tests -------------------------------

REDIS_MISSING = (
    "redis-server is not installed, so the Redis state backend tests cannot run. Install it "
    "(Debian/Ubuntu: `apt-get install -y redis-server`; `.ci/run` does this itself) and run "
    "pytest again."
)


class RedisServer:
    """A redis-server process on a free loopback port, with nothing saved to disk."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("PURECALLERID_REQUIRE_REDIS"):
                # CI installs redis-server (.ci/run): there, its absence is a failure.
                pytest.fail(REDIS_MISSING)
            pytest.skip(REDIS_MISSING)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(  # noqa: S603 - our own arguments
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def answers(self) -> bool:
        """Whether the server answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (tests keep apart by key prefix); skips without it."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop."""
    server = RedisServer(tmp_path)
    yield server
    server.stop()


# -- a real PostgreSQL server for the PostgreSQL store's tests --------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; each test takes a database of its own."""
    try:
        server = PostgresServer()
    except PostgresMissingError:
        if os.environ.get("PURECALLERID_REQUIRE_POSTGRES"):
            # CI installs PostgreSQL (.ci/run): there, its absence is a failure.
            pytest.fail(POSTGRES_MISSING)
        pytest.skip(POSTGRES_MISSING)
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.new_database()
