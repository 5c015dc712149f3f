"""Shared test configuration: Hypothesis profiles, the client fixtures, a real redis-server.

``dev`` (the default) keeps everyday runs fast; ``ci`` (set by ``.ci/run`` through
``HYPOTHESIS_PROFILE``) tries more examples.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from _helpers import Screen, make_screen
from _postgres import POSTGRES_MISSING, PostgresMissingError, PostgresServer
from _redis import RedisMissingError, RedisServer
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


def _start_redis(directory: Path) -> RedisServer:
    try:
        return RedisServer(directory)
    except RedisMissingError:
        if os.environ.get("PURECALLERID_REQUIRE_REDIS"):
            # CI installs redis-server (.ci/run): there, its absence is a failure.
            pytest.fail(REDIS_MISSING)
        pytest.skip(REDIS_MISSING)
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (tests keep apart by key prefix); skips without it."""
    server = _start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which the test may stop."""
    server = _start_redis(tmp_path)
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
