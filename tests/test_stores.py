"""Result stores: in memory and SQLite (several processes on one host)."""

from __future__ import annotations

import asyncio
import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

from purecallerid import (
    Action,
    InMemoryResultStore,
    IntegrationRecord,
    IntegrationStatus,
    ScreeningRecord,
    SQLiteResultStore,
)


def record(lead_id: str, decision: Action = Action.ACCEPT) -> ScreeningRecord:
    now = datetime.now(UTC)
    return ScreeningRecord(
        lead_id=lead_id,
        campaign_id="c",
        decision=decision,
        integrations=(
            IntegrationRecord(
                integration_id="a",
                kind="scripted",
                sort=1,
                status=IntegrationStatus.COMPLETED,
                action=decision,
                answer={"verdict": "ok", "extra": {"x": [1, 2]}},
            ),
        ),
        started_at=now,
        finished_at=now,
        duration=0.01,
        library_version="0",
        settings_hash="h",
    )


def test_in_memory_store() -> None:
    """The in-memory store saves, replaces and loads records (through JSON when asked)."""
    store = InMemoryResultStore(check_json=True)

    async def go() -> None:
        assert await store.load("L1") is None
        await store.save(record("L1"))
        await store.save(record("L1", Action.REJECT))
        loaded = await store.load("L1")
        assert loaded is not None
        assert loaded.decision is Action.REJECT

    asyncio.run(go())
    assert len(store) == 1


def test_sqlite_store(tmp_path: Path) -> None:
    """The SQLite store keeps records across connections, one per lead id."""
    path = tmp_path / "records.db"

    async def go() -> None:
        store = SQLiteResultStore(path)
        await store.save(record("L1"))
        await store.save(record("L1", Action.QA))
        await store.save(record("L2"))
        store.close()
        again = SQLiteResultStore(path)
        loaded = await again.load("L1")
        assert loaded is not None
        assert loaded.decision is Action.QA
        assert loaded.integrations[0].answer == {"verdict": "ok", "extra": {"x": [1, 2]}}
        assert await again.load("L3") is None
        assert again.count() == 2
        again.close()

    asyncio.run(go())


def _writer(path: str, prefix: str, count: int) -> None:
    async def go() -> None:
        store = SQLiteResultStore(path)
        for i in range(count):
            await store.save(record(f"{prefix}{i}"))
        store.close()

    asyncio.run(go())


def test_sqlite_store_several_processes(tmp_path: Path) -> None:
    """Several processes writing one SQLite store lose no record."""
    path = str(tmp_path / "shared.db")
    SQLiteResultStore(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, f"P{n}-", 50)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = SQLiteResultStore(path)
    assert store.count() == 150
    store.close()


def _open_new(path: str, barrier_file: str) -> None:
    from purecallerid import SQLiteStateBackend  # noqa: PLC0415 - in the child process

    while not Path(barrier_file).exists():  # start together, to race on creating the file
        pass
    SQLiteResultStore(path).close()
    SQLiteStateBackend(path + ".state")._db.close()


def test_sqlite_files_opened_by_many_processes_at_once(tmp_path: Path) -> None:
    """Processes creating one SQLite database at the same moment all get in (no 'locked')."""
    path, go = str(tmp_path / "fresh.db"), tmp_path / "go"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_open_new, args=(path, str(go))) for _ in range(6)]
    for worker in workers:
        worker.start()
    go.touch()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
