"""The SQLite result store: append-only records and claims shared by the processes of a host.

Schema version 2 (``purecallerid_schema``): ``lead_records`` holds one row per record version,
keyed by (campaign id, lead id, version), with the decision, the E.164 phone and the finish
time beside the JSON record for the lookups; ``lead_claims`` holds the live claims. A version 1
file (the single ``screening_records`` table, one row per lead id) is upgraded in place when
opened, inside one transaction: every record becomes version 1 of its lead.

Claims expire by the wall clock of the processes (``time.time()``): the hosts sharing one file
are one machine, so they share its clock. A step of that clock moves every lease with it.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from .._fork import check_process, forked
from .._sqlite import open_shared
from ..typing import Claim
from .common import from_json, select_records, superseded, time_key, to_json

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable
    from pathlib import Path

    from .._records import ScreeningRecord
    from ..typing import RecordQuery

__all__ = ["SCHEMA_VERSION", "SQLiteResultStore"]

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 2
# Write operations run in one transaction at most: bounds how long the file's write lock is
# held for other processes (a claim or a save takes tens of microseconds).
_BATCH: Final = 128
_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS purecallerid_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS lead_records (
        campaign_id TEXT NOT NULL,
        lead_id     TEXT NOT NULL,
        version     INTEGER NOT NULL,
        decision    TEXT NOT NULL,
        phone       TEXT,
        finished_at TEXT NOT NULL,
        record      TEXT NOT NULL,
        PRIMARY KEY (campaign_id, lead_id, version)
    )""",
    "CREATE INDEX IF NOT EXISTS lead_records_phone ON lead_records (phone)",
    "CREATE INDEX IF NOT EXISTS lead_records_finished ON lead_records (finished_at)",
    "CREATE INDEX IF NOT EXISTS lead_records_campaign ON lead_records (campaign_id, finished_at)",
    "CREATE INDEX IF NOT EXISTS lead_records_decision ON lead_records (decision, finished_at)",
    """CREATE TABLE IF NOT EXISTS lead_claims (
        campaign_id TEXT NOT NULL,
        lead_id     TEXT NOT NULL,
        owner       TEXT NOT NULL,
        expires_at  REAL NOT NULL,
        PRIMARY KEY (campaign_id, lead_id)
    )""",
)
_LATEST: Final = (
    "SELECT COALESCE(MAX(version), 0) FROM lead_records WHERE campaign_id = ? AND lead_id = ?"
)


class SQLiteResultStore:
    """Records in a SQLite file (standard library ``sqlite3``): the embedded default.

    Safe for several processes on one host: the database runs in WAL mode, every claim and
    save is one ``BEGIN IMMEDIATE`` transaction, and writers wait up to *busy_timeout* seconds
    for each other. Blocking calls run in a worker thread, off the event loop. Records are
    appended, never replaced.

    Its connection belongs to the process that opened it (SQLite forbids using one across
    ``fork()``): in a forked child its use raises :class:`~purecallerid.ForkedError`; open
    one per worker, after the fork.

    Args:
        path: The database file (created, or upgraded from an older schema), or ``":memory:"``.
        busy_timeout: Seconds a writer waits for a lock held by another process.
        clock: The claims' clock, Unix seconds (injectable for tests).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (and create or upgrade if needed) the database at *path*."""
        self.path = str(path)
        self._pid = os.getpid()
        self._clock = clock
        self._lock = threading.Lock()
        # Write operations waiting for the next batch, per event loop (see `_run`).
        self._queues: dict[
            tuple[asyncio.AbstractEventLoop, bool],
            tuple[list[tuple[Any, asyncio.Future[Any]]], asyncio.Task[None]],
        ] = {}
        wal = [] if self.path == ":memory:" else ["PRAGMA journal_mode=WAL"]
        self._db = open_shared(
            self.path, busy_timeout=busy_timeout, setup=[*wal, "PRAGMA synchronous=NORMAL"]
        )
        self._transaction(_migrate)

    def _transaction(self, operation: Callable[[sqlite3.Connection], _T]) -> _T:
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = operation(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    async def _run(
        self, operation: Callable[[sqlite3.Connection], _T], *, write: bool = True
    ) -> _T:
        """Run *operation* in a write transaction, batched with those of concurrent callers.

        Group commit: the operations queued while a batch runs form the next batch, run in
        one worker-thread hop and one ``BEGIN IMMEDIATE`` ... ``COMMIT``, each inside its own
        savepoint (an operation that raises is rolled back alone, and its caller gets the
        exception). A commit that fails fails every operation of its batch: none of them is
        kept. One lead at a time is one batch of one, as before; many in flight share the
        hop and the commit instead of paying each.

        Reads (*write* false) are batched the same way, in their own batches and without a
        transaction: a read never takes the file's write lock.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        key = (loop, write)
        entry = self._queues.get(key)
        if entry is not None and not entry[1].done():
            entry[0].append((operation, future))  # the running flusher takes it next
        else:
            # Queued before the flusher is made: an eager task factory runs it at once.
            queue: list[tuple[Any, asyncio.Future[Any]]] = [(operation, future)]
            flusher = loop.create_task(self._flush(key, queue))
            self._queues[key] = (queue, flusher)
            # Cleaned up by a callback, which runs even for a flusher cancelled before its
            # first step: whatever it left queued is cancelled, never left waiting.
            flusher.add_done_callback(functools.partial(self._flushed, key, queue))
        result: _T = await future
        return result

    def _flushed(
        self,
        key: tuple[asyncio.AbstractEventLoop, bool],
        queue: list[tuple[Any, asyncio.Future[Any]]],
        flusher: asyncio.Task[None],
    ) -> None:
        entry = self._queues.get(key)
        if entry is not None and entry[1] is flusher:
            del self._queues[key]
        for _, future in queue:
            future.cancel()
        del queue[:]

    async def _flush(
        self,
        key: tuple[asyncio.AbstractEventLoop, bool],
        queue: list[tuple[Any, asyncio.Future[Any]]],
    ) -> None:
        run = self._transaction_many if key[1] else self._read_many
        while queue:
            batch = queue[:_BATCH]
            del queue[:_BATCH]
            try:
                outcomes = await asyncio.to_thread(run, [operation for operation, _ in batch])
            except BaseException as exc:  # handed to every caller of the batch
                outcomes = [(False, exc)] * len(batch)
                if isinstance(exc, asyncio.CancelledError):
                    for _, future in batch:
                        future.cancel()  # the loop is shutting down: so are its callers
                    raise
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                _settle(future, ok, value)

    def _transaction_many(
        self, operations: list[Callable[[sqlite3.Connection], Any]]
    ) -> list[tuple[bool, Any]]:
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        outcomes: list[tuple[bool, Any]] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for operation in operations:
                    self._db.execute("SAVEPOINT operation")
                    try:
                        value = operation(self._db)
                    except BaseException as exc:  # this caller's failure alone
                        if not self._db.in_transaction:
                            raise  # SQLite ended the whole transaction: say what ended it
                        self._db.execute("ROLLBACK TO operation")
                        outcomes.append((False, exc))
                    else:
                        outcomes.append((True, value))
                    self._db.execute("RELEASE operation")
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # an error may have ended it already
                    self._db.execute("ROLLBACK")
                raise
        return outcomes

    def _read_many(
        self, operations: list[Callable[[sqlite3.Connection], Any]]
    ) -> list[tuple[bool, Any]]:
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        outcomes: list[tuple[bool, Any]] = []
        with self._lock:
            for operation in operations:
                try:
                    outcomes.append((True, operation(self._db)))
                except BaseException as exc:  # noqa: BLE001 - this caller's failure alone
                    outcomes.append((False, exc))
        return outcomes

    async def load(self, campaign_id: str, lead_id: str) -> ScreeningRecord | None:
        """The latest record of the lead, or ``None``."""
        row = await self._run(
            lambda db: db.execute(
                "SELECT record, version FROM lead_records WHERE campaign_id = ? AND lead_id = ? "
                "ORDER BY version DESC LIMIT 1",
                (campaign_id, lead_id),
            ).fetchone(),
            write=False,
        )
        return None if row is None else from_json(row[0], row[1])

    async def claim(
        self, campaign_id: str, lead_id: str, *, owner: str, lease: float, seen_version: int
    ) -> Claim:
        """Take the screening of the lead for *owner*; see :class:`ResultStore.claim`."""

        def take(db: sqlite3.Connection) -> Claim:
            key = (campaign_id, lead_id)
            latest = int(db.execute(_LATEST, key).fetchone()[0])
            if latest != seen_version:
                return Claim(granted=False, latest_version=latest)
            now = self._clock()
            held = db.execute(
                "SELECT owner, expires_at FROM lead_claims WHERE campaign_id = ? AND lead_id = ?",
                key,
            ).fetchone()
            if held is not None and held[0] != owner and held[1] > now:
                return Claim(
                    granted=False, latest_version=latest, holder=held[0], expires_in=held[1] - now
                )
            db.execute(
                "INSERT INTO lead_claims VALUES (?, ?, ?, ?) ON CONFLICT (campaign_id, lead_id) "
                "DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at",
                (*key, owner, now + lease),
            )
            taken_over = held is not None and held[0] != owner
            return Claim(granted=True, latest_version=latest, taken_over=taken_over)

        return await self._run(take)

    async def save(self, record: ScreeningRecord, *, owner: str | None = None) -> ScreeningRecord:
        """Append *record* as the lead's next version and end *owner*'s claim, atomically."""
        # Written here, on the caller's thread, for the usual case (this owner still holds the
        # claim): Python work in the worker thread would hold the GIL the event loop waits for.
        text = to_json(record)

        def append(db: sqlite3.Connection) -> ScreeningRecord:
            key = (record.campaign_id, record.lead_id)
            held = db.execute(
                "SELECT owner FROM lead_claims WHERE campaign_id = ? AND lead_id = ?", key
            ).fetchone()
            saved = superseded(record, None if held is None else held[0], owner)
            version = int(db.execute(_LATEST, key).fetchone()[0]) + 1
            db.execute(
                "INSERT INTO lead_records VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*key, version, saved.decision.value, saved.phone, time_key(saved.finished_at),
                 text if saved is record else to_json(saved)),
            )  # fmt: skip
            _end_claim(db, key, owner)
            return attrs.evolve(saved, version=version)

        return await self._run(append)

    async def release(self, campaign_id: str, lead_id: str, *, owner: str) -> None:
        """End *owner*'s claim on the lead."""
        await self._run(lambda db: _end_claim(db, (campaign_id, lead_id), owner))

    async def history(self, campaign_id: str, lead_id: str) -> list[ScreeningRecord]:
        """Every version of the lead's record, oldest first."""
        rows = await asyncio.to_thread(
            self._all,
            "SELECT record, version FROM lead_records WHERE campaign_id = ? AND lead_id = ? "
            "ORDER BY version",
            (campaign_id, lead_id),
        )
        return [from_json(text, version) for text, version in rows]

    async def find(self, query: RecordQuery) -> list[ScreeningRecord]:
        """The records *query* selects, oldest first (by finish time, then version)."""
        sql, parameters = select_records(
            query, table="lead_records", record="record", mark="?", moment=time_key
        )
        rows = await asyncio.to_thread(self._all, sql, parameters)
        return [from_json(text, version) for text, version in rows]

    def _one(self, sql: str, parameters: tuple[Any, ...]) -> Any:
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        with self._lock:
            return self._db.execute(sql, parameters).fetchone()

    def _all(self, sql: str, parameters: tuple[Any, ...]) -> list[Any]:
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def count(self) -> int:
        """The number of leads with a record."""
        row = self._one(
            "SELECT COUNT(*) FROM (SELECT DISTINCT campaign_id, lead_id FROM lead_records)", ()
        )
        return int(row[0])

    def close(self) -> None:
        """Close the database connection."""
        if forked(self._pid):
            return  # the connection is the parent's: SQLite forbids touching it in a fork
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        """The store and its file."""
        return f"SQLiteResultStore({self.path!r})"


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Hand an operation's result or exception to its caller (unless it stopped waiting)."""
    if future.done():
        return  # its caller was cancelled; the operation ran regardless
    if ok:
        future.set_result(value)
    elif isinstance(value, StopIteration):
        # A future cannot carry StopIteration (a coroutine would end on it): said plainly.
        failure = RuntimeError(f"a store operation raised StopIteration: {value!r}")
        failure.__cause__ = value
        future.set_exception(failure)
    else:
        future.set_exception(value)


def _end_claim(db: sqlite3.Connection, key: tuple[str, str], owner: str | None) -> None:
    if owner is not None:
        db.execute(
            "DELETE FROM lead_claims WHERE campaign_id = ? AND lead_id = ? AND owner = ?",
            (*key, owner),
        )


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the file to :data:`SCHEMA_VERSION` (inside the caller's write transaction)."""
    for statement in _SCHEMA:
        db.execute(statement)
    row = db.execute("SELECT version FROM purecallerid_schema").fetchone()
    if row is not None and int(row[0]) >= SCHEMA_VERSION:
        return
    old = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'screening_records'"
    ).fetchone()
    if old is not None:
        _upgrade_from_v1(db)
    db.execute("DELETE FROM purecallerid_schema")
    db.execute("INSERT INTO purecallerid_schema VALUES (?)", (SCHEMA_VERSION,))


def _as_utc(text: str) -> datetime:
    """A stored finish time; naive means UTC (as the library wrote it), unreadable means now."""
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return datetime.now(UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _upgrade_from_v1(db: sqlite3.Connection) -> None:
    """Every record of a version 1 file becomes version 1 of its (campaign, lead)."""
    rows = db.execute(
        "SELECT campaign_id, lead_id, decision, finished_at, record FROM screening_records"
    ).fetchall()
    for campaign_id, lead_id, decision, finished_at, text in rows:
        moment = time_key(_as_utc(finished_at))
        db.execute(
            "INSERT OR IGNORE INTO lead_records VALUES (?, ?, 1, ?, NULL, ?, ?)",
            (campaign_id, lead_id, decision, moment, text),
        )
    db.execute("DROP TABLE screening_records")
