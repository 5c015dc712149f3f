"""Fork safety: an object built before ``fork()`` refuses in the child, at once, with an error.

Each test forks for real (``os.fork()``, as gunicorn and uWSGI do). The child runs one
action, writes how long it took and how it ended (the exception's class name, or what it
returned) to a pipe and leaves with ``os._exit``. The parent gives it 5 s before killing it:
a child that does not answer hangs, which is the bug these tests guard against.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import time
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from purecallerid import (
    AsyncScreener,
    ForkedError,
    InMemoryResultStore,
    InMemorySettings,
    Lead,
    PureCallerIDClient,
    PureCallerIDIntegration,
    Screener,
    SQLiteResultStore,
    SQLiteStateBackend,
    load_settings,
)
from purecallerid.testing import FakePureCallerID
from test_screening_purecallerid import TOKEN, pcid_settings

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

_ANSWER_WITHIN = 1.0
"""Seconds the child has to screen or refuse: the acceptance criterion."""
_GIVE_UP_AFTER = 5.0
"""Seconds before a silent child is taken to hang, and killed."""


async def _no_wait(_: float) -> None:
    return None


def _lead(lead_id: str = "L1") -> Lead:
    return Lead(lead_id=lead_id, campaign_id="c", fields={"phone": "2125550106", "zip": "02134"})


def _parts(fake: FakePureCallerID) -> dict[str, Any]:
    """A screener's arguments: one PureCallerID integration on *fake*, records in memory."""
    pcid = PureCallerIDIntegration(transport=fake.async_transport(), sleep=_no_wait)
    campaigns = load_settings(
        {"campaigns": {"c": {"integrations": [pcid_settings()]}}}, kinds=[pcid]
    )
    return {
        "settings": InMemorySettings(campaigns.values()),
        "store": InMemoryResultStore(),
        "integrations": [pcid],
    }


def _in_child(action: Callable[[], object]) -> tuple[float, str]:
    """Run *action* in a forked child: (seconds it took, its outcome's name)."""
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads (pytest's filter makes it
        # an error): forking such a process is exactly what is under test.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; it never returns
        try:
            os.close(read_end)
            started = time.monotonic()
            try:
                outcome = f"returned {action()}"
            except BaseException as exc:
                outcome = type(exc).__name__
            os.write(write_end, f"{time.monotonic() - started:.3f} {outcome}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], _GIVE_UP_AFTER)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"the forked child did not answer in {_GIVE_UP_AFTER} s: it hangs")
        answer = os.read(read_end, 4096).decode()
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    took, _, outcome = answer.partition(" ")
    return float(took), outcome


def _refused(action: Callable[[], object]) -> None:
    took, outcome = _in_child(action)
    assert outcome == "ForkedError"
    assert took < _ANSWER_WITHIN


def test_a_screener_built_before_fork_refuses_in_the_child_at_once() -> None:
    """The child gets ForkedError within a second (its loop thread is gone), not a hang."""
    fake = FakePureCallerID(api_token=TOKEN)
    with Screener(**_parts(fake)) as screener:
        assert screener.screen(_lead("before")).decision == "accept"  # pools and thread in use
        _refused(lambda: screener.screen(_lead("child")))
        # The parent's screener is untouched by the child's attempt.
        assert screener.screen(_lead("after")).decision == "accept"
    assert len(fake.calls_for()) == 2


def test_closing_a_screener_in_the_child_leaves_the_parents_alone() -> None:
    """close() in a fork returns at once (``with`` blocks end in children too), stops nothing."""
    fake = FakePureCallerID(api_token=TOKEN)
    with Screener(**_parts(fake)) as screener:
        took, outcome = _in_child(screener.close)
        assert (outcome, took < _ANSWER_WITHIN) == ("returned None", True)
        assert screener.screen(_lead()).decision == "accept"


def test_the_error_says_to_build_the_screener_after_fork() -> None:
    """The message names the fix: build it after fork, in post_fork or with lazy-apps."""
    fake = FakePureCallerID(api_token=TOKEN)
    with Screener(**_parts(fake)) as screener:

        def message() -> str:
            try:
                screener.screen(_lead())
            except ForkedError as exc:
                text = str(exc)
                return (
                    "yes"
                    if all(w in text for w in ("post_fork", "lazy-apps", "@postfork"))
                    else text
                )
            return "no error"

        assert _in_child(message)[1] == "returned yes"


def test_a_screener_built_in_the_child_screens() -> None:
    """Built after the fork, a screener works in the child."""
    fake = FakePureCallerID(api_token=TOKEN)
    with Screener(**_parts(fake)) as screener:
        screener.screen(_lead("parent"))

        def screen_in_child() -> str:
            with Screener(**_parts(FakePureCallerID(api_token=TOKEN))) as own:
                return str(own.screen(_lead("child")).decision)

        took, outcome = _in_child(screen_in_child)
    assert outcome == "returned accept"
    assert took < _ANSWER_WITHIN


def test_an_async_screener_built_before_fork_refuses_in_the_child() -> None:
    """AsyncScreener, run by a new event loop in the child, refuses as well."""
    screener = AsyncScreener(**_parts(FakePureCallerID(api_token=TOKEN)))
    _refused(lambda: asyncio.run(screener.screen(_lead())))
    asyncio.run(screener.aclose())


def test_a_client_built_before_fork_refuses_in_the_child() -> None:
    """The sync client's pool belongs to the parent: the child's call is refused."""
    from _helpers import request_for  # noqa: PLC0415 - the client tests' helper

    fake = FakePureCallerID(api_token=TOKEN)
    with PureCallerIDClient(
        base_url="https://purecallerid.test", api_token=TOKEN, transport=fake.transport()
    ) as client:
        _refused(lambda: client.screen(request_for("2125550106")))
        _refused(lambda: client.with_options(timeout=5.0).screen(request_for("2125550106")))
        assert client.screen(request_for("2125550106")).accepted
    assert len(fake.calls_for()) == 1


def test_sqlite_stores_built_before_fork_refuse_in_the_child(tmp_path: Path) -> None:
    """SQLite forbids a connection across fork(): the child is refused, the parent goes on."""
    store = SQLiteResultStore(tmp_path / "records.db")
    state = SQLiteStateBackend(tmp_path / "state.db")
    try:
        _refused(lambda: asyncio.run(store.load("c", "L1")))
        _refused(store.count)
        _refused(lambda: asyncio.run(state.cache_get("key")))
        took, outcome = _in_child(store.close)
        assert (outcome, took < _ANSWER_WITHIN) == ("returned None", True)
        assert store.count() == 0
        assert asyncio.run(state.cache_get("key")) is None
    finally:
        store.close()
        asyncio.run(state.aclose())


def test_a_store_or_client_from_before_fork_is_not_taken_for_an_outage(tmp_path: Path) -> None:
    """Built in the child around parts from before the fork, a screener raises ForkedError.

    Not a StorageError, and not an integration failure decided by a failure policy: the set-up
    is wrong, and the error says how to mend it.
    """
    fake = FakePureCallerID(api_token=TOKEN)
    store = SQLiteResultStore(tmp_path / "records.db")
    parts = _parts(fake)

    def screen_in_child(**replaced: object) -> Callable[[], object]:
        async def go() -> object:
            async with AsyncScreener(**{**parts, **replaced}) as screener:
                return await screener.screen(_lead("child"))

        return lambda: asyncio.run(go())

    # The integration's client is made at its first use: here, in the parent.
    with Screener(**parts) as parent:
        parent.screen(_lead("parent"))
        try:
            _refused(screen_in_child(store=store))
            _refused(screen_in_child(store=InMemoryResultStore()))
        finally:
            store.close()
    assert len(fake.calls_for()) == 1
