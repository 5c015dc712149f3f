"""Guard state in a SQLite file: several worker processes on one host, standard library only.

Each operation is one ``BEGIN IMMEDIATE`` transaction: the write lock is taken before the
state is read, so two processes cannot both read "one unit left" and both take it. The rules
are those of ``algorithms.py`` (the same functions), applied to the rows read inside the
transaction.

Intervals (limiter turns, cool-downs, probe leases, cache TTLs) are measured on the file's
*state clock*, never on the wall clock, which NTP or an operator may step back (an hour back
held every rate-limited call for an hour) or forward. State time is the host's monotonic clock
(``CLOCK_BOOTTIME`` on Linux: one clock for every process of the host, counting suspend) plus
a *base* kept in the file. The monotonic clock restarts at each boot, so the first process of a
boot picks the base that makes state time go on from the wall clock, but never from before the
latest state time the file recorded: a reboot's downtime counts as time passed, and a wall
clock found behind at boot holds nothing up. A new boot is known by Linux's boot id, or by the
monotonic clock reading less than the latest state time (elsewhere). The vendor day of the
quota is a calendar day: its counters expire on the wall clock.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from .._fork import check_process, forked
from .._sqlite import open_shared
from ..typing import BreakerAdmission, QuotaReservation
from .algorithms import BreakerState, breaker_admit, breaker_record, gcra_reserve, gcra_slow_down

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable

    from ..typing import BreakerChange, BreakerOutcome

__all__ = ["SQLiteStateBackend"]

_T = TypeVar("_T")

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS guard_quota (
        key TEXT NOT NULL, period TEXT NOT NULL, used INTEGER NOT NULL,
        expires_at REAL NOT NULL, PRIMARY KEY (key, period))""",
    "CREATE TABLE IF NOT EXISTS guard_rate (key TEXT PRIMARY KEY, tat REAL NOT NULL)",
    """CREATE TABLE IF NOT EXISTS guard_breaker (
        key TEXT PRIMARY KEY, state TEXT NOT NULL, failures INTEGER NOT NULL,
        open_until REAL NOT NULL, probe_until REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS guard_cache (
        key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS guard_cache_expiry ON guard_cache (expires_at)",
    # One row: the boot whose monotonic clock is in use, the base added to it, and the latest
    # state time recorded (at most _LATEST_EVERY behind).
    """CREATE TABLE IF NOT EXISTS guard_clock (
        id INTEGER PRIMARY KEY CHECK (id = 1), boot TEXT NOT NULL,
        base REAL NOT NULL, latest REAL NOT NULL)""",
)

_LATEST_EVERY: Final = 1.0
"""Seconds between two records of the latest state time: a page written per second, not per
operation. After a reboot with the wall clock behind, a wait is at most this much longer."""

_BOOT_ID: Final = Path("/proc/sys/kernel/random/boot_id")

# CLOCK_BOOTTIME (Linux) is CLOCK_MONOTONIC plus the time spent suspended: a cool-down or a
# TTL is real time, and a suspended host should not find its cache an hour younger.
_BOOTTIME: Final[int | None] = getattr(time, "CLOCK_BOOTTIME", None)


def host_clock() -> float:
    """The host's monotonic clock, the same in every process of the host, in seconds."""
    if _BOOTTIME is None:  # pragma: no cover - the tests run on Linux
        return time.monotonic()
    return time.clock_gettime(_BOOTTIME)


def current_boot() -> str:
    """This boot's id (Linux), or ``""`` where the system tells none."""
    try:
        return _BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:  # pragma: no cover - the tests run on Linux
        return ""


class SQLiteStateBackend:
    """Guard state in a SQLite file, shared by the worker processes of one host.

    The database runs in WAL mode; each operation is one ``BEGIN IMMEDIATE`` transaction and
    waits up to *busy_timeout* seconds for another process's. Blocking calls run in a worker
    thread, off the event loop. On a network file system SQLite's locks are not reliable: use
    :class:`RedisStateBackend` across hosts.

    Its connection belongs to the process that opened it (SQLite forbids using one across
    ``fork()``): in a forked child its use raises :class:`~purecallerid.ForkedError`; open
    one per worker, after the fork.

    Intervals are measured on the host's monotonic clock plus a base kept in the file, so a
    step of the wall clock, back or forward, moves no turn, cool-down or cache expiry; the
    state carries over reboots (*Clocks* in the guide "Operating under quota" has the rule).

    Args:
        path: The database file (created with its tables when missing).
        busy_timeout: Seconds an operation waits for another process's lock.
        clock: The host's monotonic clock in seconds, shared by every process using the file
            (injectable for tests). Every process of the host must use the same one: the
            default.
        wall_clock: Unix time, for the quota's vendor day and a new boot's state time.
        boot_id: This boot's id; by default Linux's ``/proc/sys/kernel/random/boot_id``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = host_clock,
        wall_clock: Callable[[], float] = time.time,
        boot_id: str | None = None,
    ) -> None:
        """Open (and create if needed) the database at *path*."""
        self.path = str(path)
        self._pid = os.getpid()
        self._clock = clock
        self._wall = wall_clock
        self._boot = current_boot() if boot_id is None else boot_id
        self._lock = threading.Lock()
        self._db = open_shared(
            self.path,
            busy_timeout=busy_timeout,
            setup=["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", *_SCHEMA],
        )

    def _now(self, db: sqlite3.Connection, *, write: bool) -> float:
        """State time now (see the module docstring); *write* records it, in a transaction."""
        host = self._clock()
        row = db.execute("SELECT boot, base, latest FROM guard_clock WHERE id = 1").fetchone()
        latest = 0.0 if row is None else float(row[2])
        # Within one boot the monotonic clock only goes on: a reading below the latest state
        # time means it restarted (a reboot, where there is no boot id to tell).
        if row is not None and row[0] == self._boot and host + float(row[1]) >= latest:
            now = host + float(row[1])
            if write and now >= latest + _LATEST_EVERY:
                db.execute("UPDATE guard_clock SET latest = ? WHERE id = 1", (now,))
            return now
        # A new file or a new boot: go on from the wall clock, never from before the latest
        # state time (a wall clock behind would push every stored time further away).
        base = max(self._wall(), latest) - host
        now = host + base  # as the next reading computes it, to the last bit
        if write:
            db.execute(
                "INSERT OR REPLACE INTO guard_clock VALUES (1, ?, ?, ?)", (self._boot, base, now)
            )
        return now

    async def _run(self, operation: Callable[[sqlite3.Connection, float], _T]) -> _T:
        return await asyncio.to_thread(self._transaction, operation)

    def _transaction(self, operation: Callable[[sqlite3.Connection, float], _T]) -> _T:
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = operation(self._db, self._now(self._db, write=True))
                self._db.execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT: a transaction left open would hold the write
                # lock for every process on the host and fail every later operation here.
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            return result

    async def reserve_quota(
        self, key: str, *, period: str, limit: int, expires_at: float
    ) -> QuotaReservation:
        """Count one call for *key* in *period* unless *limit* is reached."""

        def reserve(db: sqlite3.Connection, _: float) -> QuotaReservation:
            # expires_at is the end of a calendar day (Unix time): compared with the wall clock.
            db.execute(
                "DELETE FROM guard_quota WHERE key = ? AND expires_at < ?", (key, self._wall())
            )
            row = db.execute(
                "SELECT used FROM guard_quota WHERE key = ? AND period = ?", (key, period)
            ).fetchone()
            used = 0 if row is None else int(row[0])
            if used >= limit:
                return QuotaReservation(granted=False, used=used)
            db.execute(
                "INSERT INTO guard_quota VALUES (?, ?, 1, ?) ON CONFLICT(key, period) "
                "DO UPDATE SET used = used + 1",
                (key, period, expires_at),
            )
            return QuotaReservation(granted=True, used=used + 1)

        return await self._run(reserve)

    async def release_quota(self, key: str, *, period: str) -> None:
        """Give back one call of *key* in *period*."""

        def release(db: sqlite3.Connection, _: float) -> None:
            db.execute(
                "UPDATE guard_quota SET used = used - 1 WHERE key = ? AND period = ? AND used > 0",
                (key, period),
            )

        await self._run(release)

    def _tat(self, db: sqlite3.Connection, key: str) -> float:
        row = db.execute("SELECT tat FROM guard_rate WHERE key = ?", (key,)).fetchone()
        return 0.0 if row is None else float(row[0])

    @staticmethod
    def _set_tat(db: sqlite3.Connection, key: str, tat: float) -> None:
        db.execute(
            "INSERT OR REPLACE INTO guard_rate VALUES (?, ?)",
            (key, tat),
        )

    async def acquire_rate(
        self, key: str, *, rate: float, burst: int, max_wait: float
    ) -> float | None:
        """Reserve the next turn of *key*; the seconds to wait, or ``None`` when too far."""

        def acquire(db: sqlite3.Connection, now: float) -> float | None:
            tat, wait = gcra_reserve(
                self._tat(db, key), now, rate=rate, burst=burst, max_wait=max_wait
            )
            if wait is not None:
                self._set_tat(db, key, tat)
            return wait

        return await self._run(acquire)

    async def slow_down(self, key: str, *, rate: float, burst: int, wait: float) -> None:
        """Give no turn of *key* for *wait* seconds."""

        def slow(db: sqlite3.Connection, now: float) -> None:
            tat = gcra_slow_down(self._tat(db, key), now, rate=rate, burst=burst, wait=wait)
            self._set_tat(db, key, tat)

        await self._run(slow)

    @staticmethod
    def _breaker(db: sqlite3.Connection, key: str) -> BreakerState:
        row = db.execute(
            "SELECT state, failures, open_until, probe_until FROM guard_breaker WHERE key = ?",
            (key,),
        ).fetchone()
        return BreakerState() if row is None else BreakerState(*row)

    @staticmethod
    def _save_breaker(db: sqlite3.Connection, key: str, state: BreakerState) -> None:
        values: tuple[Any, ...] = (
            key,
            state.state,
            state.failures,
            state.open_until,
            state.probe_until,
        )
        db.execute("INSERT OR REPLACE INTO guard_breaker VALUES (?, ?, ?, ?, ?)", values)

    async def breaker_admit(self, key: str, *, probe_lease: float) -> BreakerAdmission:
        """Admit, probe or reject a call to the endpoint of *key*."""

        def admit(db: sqlite3.Connection, now: float) -> BreakerAdmission:
            state = self._breaker(db, key)
            admission = breaker_admit(state, now, probe_lease=probe_lease)
            if admission.decision == "probe":
                self._save_breaker(db, key, state)
            return admission

        return await self._run(admit)

    async def breaker_record(
        self,
        key: str,
        *,
        outcome: BreakerOutcome,
        probe: bool,
        threshold: int,
        cooldown: float,
    ) -> BreakerChange | None:
        """Record a call's outcome on the breaker *key*."""

        def record(db: sqlite3.Connection, now: float) -> BreakerChange | None:
            state = self._breaker(db, key)
            before = (state.state, state.failures, state.open_until, state.probe_until)
            change = breaker_record(
                state, now, outcome=outcome, probe=probe, threshold=threshold, cooldown=cooldown
            )
            if (state.state, state.failures, state.open_until, state.probe_until) != before:
                self._save_breaker(db, key, state)
            return change

        return await self._run(record)

    async def cache_get(self, key: str) -> str | None:
        """The text under *key*, unless expired."""

        def get(db: sqlite3.Connection, now: float) -> str | None:
            row = db.execute(
                "SELECT value FROM guard_cache WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
            return None if row is None else str(row[0])

        return await asyncio.to_thread(self._read, get)

    def _read(self, operation: Callable[[sqlite3.Connection, float], _T]) -> _T:
        # A single SELECT is atomic on its own: no write lock needed.
        check_process(self._pid, type(self).__name__)  # SQLite: no connection across fork()
        with self._lock:
            return operation(self._db, self._now(self._db, write=False))

    async def cache_put(self, key: str, value: str, *, ttl: float) -> None:
        """Keep *value* under *key* for *ttl* seconds (and drop expired entries)."""

        def put(db: sqlite3.Connection, now: float) -> None:
            db.execute("DELETE FROM guard_cache WHERE expires_at <= ?", (now,))
            db.execute(
                "INSERT OR REPLACE INTO guard_cache VALUES (?, ?, ?)", (key, value, now + ttl)
            )

        await self._run(put)

    async def aclose(self) -> None:
        """Close the database connection."""
        if forked(self._pid):
            return  # the connection is the parent's: SQLite forbids touching it in a fork
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteStateBackend({self.path!r})"
