"""The SQLite store's group commit: leads in flight together share a transaction, not a fate."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from purecallerid import SQLiteResultStore
from test_stores import record


def _counting(store: SQLiteResultStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every write batch the store runs, in order."""
    sizes: list[int] = []
    real = store._transaction_many

    def counted(operations: list[Any]) -> list[tuple[bool, Any]]:
        sizes.append(len(operations))
        return real(operations)

    monkeypatch.setattr(store, "_transaction_many", counted)
    return sizes


def test_leads_in_flight_together_share_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 claims then 64 saves at once: every one granted and saved, in far fewer commits."""
    store = SQLiteResultStore(tmp_path / "r.db")
    sizes = _counting(store, monkeypatch)

    async def one(n: int) -> int:
        claim = await store.claim("c", f"L{n}", owner="me", lease=30, seen_version=0)
        assert claim.granted
        saved = await store.save(record(f"L{n}"), owner="me")
        return saved.version

    async def go() -> list[int]:
        return await asyncio.gather(*(one(n) for n in range(64)))

    assert asyncio.run(go()) == [1] * 64
    assert sum(sizes) == 128  # every claim and every save ran exactly once
    assert len(sizes) <= 8  # ... in a handful of transactions, not 128
    assert store.count() == 64
    # A claim of a lead saved in another batch sees the saved version.
    again = asyncio.run(store.claim("c", "L5", owner="me", lease=30, seen_version=0))
    assert not again.granted
    assert again.latest_version == 1
    store.close()


def test_a_failing_operation_is_rolled_back_alone(tmp_path: Path) -> None:
    """In one batch: the operation that raises leaves nothing; the others are committed."""
    store = SQLiteResultStore(tmp_path / "r.db")

    def insert(owner: str, *, fail: bool) -> Any:
        def operation(db: sqlite3.Connection) -> str:
            db.execute("INSERT INTO lead_claims VALUES ('c', ?, ?, 0)", (owner, owner))
            if fail:
                raise RuntimeError(f"{owner} failed")
            return owner

        return operation

    async def go() -> list[Any]:
        return await asyncio.gather(  # type: ignore[return-value]
            store._run(insert("a", fail=False)),
            store._run(insert("b", fail=True)),
            store._run(insert("c", fail=False)),
            return_exceptions=True,
        )

    first, second, third = asyncio.run(go())
    assert (first, third) == ("a", "c")
    assert isinstance(second, RuntimeError)
    assert str(second) == "b failed"
    kept = store._all("SELECT lead_id FROM lead_claims ORDER BY lead_id", ())
    assert kept == [("a",), ("c",)]
    store.close()


class _CommitFails:
    """The store's connection, whose COMMIT fails (a full disk, an I/O error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *parameters: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.execute(sql, *parameters)

    @property
    def in_transaction(self) -> bool:
        return self.db.in_transaction


def test_a_failed_commit_fails_the_whole_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that cannot commit reports the failure to each caller, and keeps nothing."""
    store = SQLiteResultStore(tmp_path / "r.db")
    connection = store._db
    monkeypatch.setattr(store, "_db", _CommitFails(connection))

    async def go() -> list[Any]:
        return await asyncio.gather(
            *(store.claim("c", f"L{n}", owner="me", lease=30, seen_version=0) for n in range(3)),
            return_exceptions=True,
        )

    results = asyncio.run(go())
    assert [type(r) for r in results] == [sqlite3.OperationalError] * 3
    monkeypatch.undo()
    assert store._all("SELECT COUNT(*) FROM lead_claims", ()) == [(0,)]
    assert asyncio.run(store.claim("c", "L0", owner="me", lease=30, seen_version=0)).granted
    store.close()


def test_a_cancelled_caller_leaves_the_others_served(tmp_path: Path) -> None:
    """A caller cancelled while its batch runs: the rest of the batch is answered."""
    store = SQLiteResultStore(tmp_path / "r.db")

    async def go() -> list[Any]:
        tasks = [
            asyncio.ensure_future(store.claim("c", f"L{n}", owner="me", lease=30, seen_version=0))
            for n in range(4)
        ]
        await asyncio.sleep(0)  # queued, the batch under way
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(go())
    assert isinstance(results[1], asyncio.CancelledError)
    assert [r.granted for i, r in enumerate(results) if i != 1] == [True, True, True]
    # The store works on another event loop afterwards (its queues belong to each loop).
    later = asyncio.run(store.claim("c", "L9", owner="me", lease=30, seen_version=0))
    assert later.granted
    store.close()


def test_an_eager_task_factory_finds_the_operation_queued(tmp_path: Path) -> None:
    """The flusher may run at creation (3.12's eager tasks): its operation is queued first."""
    store = SQLiteResultStore(tmp_path / "r.db")
    seen: list[int] = []

    def inspecting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        queue = coro.cr_frame.f_locals.get("queue") if hasattr(coro, "cr_frame") else None
        if queue is not None:
            seen.append(len(queue))  # what an eager first step would find
        return asyncio.Task(coro, loop=loop, **kwargs)

    eager = getattr(asyncio, "eager_task_factory", None)

    async def go() -> bool:
        asyncio.get_running_loop().set_task_factory(eager or inspecting)
        claim = await asyncio.wait_for(
            store.claim("c", "L1", owner="me", lease=30, seen_version=0), 5
        )
        return claim.granted

    assert asyncio.run(go())
    if eager is None:
        assert seen
        assert seen[0] == 1
    store.close()


def test_a_flusher_cancelled_before_it_ran_leaves_no_caller_waiting(tmp_path: Path) -> None:
    """A host cancelling every other task on a running loop: callers end, the store goes on."""
    store = SQLiteResultStore(tmp_path / "r.db")

    async def go() -> tuple[bool, bool]:
        claim = asyncio.ensure_future(store.claim("c", "L1", owner="me", lease=30, seen_version=0))
        await asyncio.sleep(0)  # the claim is queued and its flusher made, not yet run
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task() and task is not claim:
                task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(claim, 5)
        later = await asyncio.wait_for(
            store.claim("c", "L2", owner="me", lease=30, seen_version=0), 5
        )
        return claim.cancelled(), later.granted

    assert asyncio.run(go()) == (True, True)
    store.close()


class _Stop(BaseException):
    """Not an Exception: what a host's clock might raise to stop a test."""


def test_odd_exceptions_reach_their_caller_and_no_one_else(tmp_path: Path) -> None:
    """A BaseException or StopIteration from one operation fails that caller alone."""
    store = SQLiteResultStore(tmp_path / "r.db")

    def ok(db: sqlite3.Connection) -> str:
        db.execute("INSERT INTO lead_claims VALUES ('c', 'ok', 'me', 0)")
        return "ok"

    def stop(db: sqlite3.Connection) -> None:
        raise _Stop

    def exhausted(db: sqlite3.Connection) -> None:
        next(iter(()))

    async def go() -> list[Any]:
        calls = [store._run(op) for op in (stop, ok, exhausted)]
        return await asyncio.wait_for(
            asyncio.gather(*calls, return_exceptions=True),
            5,
        )

    first, second, third = asyncio.run(go())
    assert isinstance(first, _Stop)
    assert second == "ok"
    assert isinstance(third, RuntimeError)
    assert isinstance(third.__cause__, StopIteration)
    assert store._all("SELECT lead_id FROM lead_claims", ()) == [("ok",)]
    store.close()
