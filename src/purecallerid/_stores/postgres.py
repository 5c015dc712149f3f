"""The PostgreSQL result store: one record of each lead for many workers on many machines.

psycopg 3 (the ``postgres`` extra): typed, maintained by PostgreSQL's own driver authors, and
usable from both asyncio and plain threads, with a pool (``psycopg_pool``) of its own.

Schema (versioned in ``purecallerid_schema``, migrated when the store first connects, under
a transaction-level advisory lock so that workers starting together migrate once):
``purecallerid_records`` holds one row per record version with the record as JSONB and the
campaign, lead, decision, E.164 phone and finish time as indexed columns;
``purecallerid_claims`` holds the live claims. A claim and a save take the lead's advisory
lock for their transaction, so that they are serialised per lead and nothing else. Leases
run on the server's clock (``clock_timestamp()``), the one clock all workers share.

Schema 2 adds two functions, ``purecallerid_claim`` and ``purecallerid_save``: the claim and
the usual save each in one round trip (one statement, its own transaction) instead of five.
Inside a PL/pgSQL function each statement reads a fresh snapshot at READ COMMITTED (which
every connection of the store sets for itself, whatever the database's default), so the
state is read after the lead's lock is granted: what another worker committed under that
lock is seen. A save whose owner no longer holds the claim takes a transaction of its own,
which records the doubt.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import ConfigurationError
from .._fork import check_process, forked
from ..typing import Claim
from .common import from_json, select_records, superseded, to_json

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from .._records import ScreeningRecord
    from ..typing import RecordQuery

__all__ = ["SCHEMA_VERSION", "PostgresResultStore"]

SCHEMA_VERSION: Final = 2
_MIGRATIONS: Final[dict[int, tuple[str, ...]]] = {
    1: (
        """CREATE TABLE purecallerid_records (
            campaign_id text NOT NULL,
            lead_id     text NOT NULL,
            version     integer NOT NULL,
            decision    text NOT NULL,
            phone       text,
            finished_at timestamptz NOT NULL,
            record      jsonb NOT NULL,
            PRIMARY KEY (campaign_id, lead_id, version)
        )""",
        "CREATE INDEX purecallerid_records_phone ON purecallerid_records (phone)",
        "CREATE INDEX purecallerid_records_finished ON purecallerid_records (finished_at)",
        (
            "CREATE INDEX purecallerid_records_campaign"
            " ON purecallerid_records (campaign_id, finished_at)"
        ),
        (
            "CREATE INDEX purecallerid_records_decision"
            " ON purecallerid_records (decision, finished_at)"
        ),
        """CREATE TABLE purecallerid_claims (
            campaign_id text NOT NULL,
            lead_id     text NOT NULL,
            owner       text NOT NULL,
            expires_at  timestamptz NOT NULL,
            PRIMARY KEY (campaign_id, lead_id)
        )""",
    ),
    2: (
        # The claim of PostgresResultStore.claim, whole: the lead's lock, its latest version
        # and claim, and the claim taken when granted. The holder is returned even when its
        # claim has expired: taking it over is said in the record.
        """CREATE OR REPLACE FUNCTION purecallerid_claim(
            p_campaign text, p_lead text, p_owner text, p_lease float8, p_seen numeric,
            OUT granted boolean, OUT latest integer, OUT holder text, OUT expires_in float8)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended(p_campaign || chr(31) || p_lead, 0));
            SELECT COALESCE(MAX(version), 0) INTO latest FROM purecallerid_records
                WHERE campaign_id = p_campaign AND lead_id = p_lead;
            SELECT c.owner, EXTRACT(EPOCH FROM c.expires_at - clock_timestamp())::float8
                INTO holder, expires_in FROM purecallerid_claims AS c
                WHERE c.campaign_id = p_campaign AND c.lead_id = p_lead;
            IF latest <> p_seen THEN
                granted := false; holder := NULL; expires_in := NULL;
                RETURN;
            END IF;
            IF holder IS NOT NULL AND holder <> p_owner AND expires_in > 0 THEN
                granted := false;
                RETURN;
            END IF;
            INSERT INTO purecallerid_claims VALUES
                (p_campaign, p_lead, p_owner,
                 clock_timestamp() + make_interval(secs => p_lease))
                ON CONFLICT (campaign_id, lead_id) DO UPDATE
                SET owner = excluded.owner, expires_at = excluded.expires_at;
            granted := true;
        END
        $$""",
        # The save of a record whose owner still holds the claim (or that has no owner, or
        # finds no claim): the next version appended and the owner's claim ended. When
        # another owner holds the claim nothing is written and that holder is returned: the
        # caller then saves the record marked as screened twice.
        """CREATE OR REPLACE FUNCTION purecallerid_save(
            p_campaign text, p_lead text, p_owner text, p_decision text, p_phone text,
            p_finished timestamptz, p_record jsonb, OUT saved integer, OUT holder text)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended(p_campaign || chr(31) || p_lead, 0));
            SELECT owner INTO holder FROM purecallerid_claims
                WHERE campaign_id = p_campaign AND lead_id = p_lead;
            IF p_owner IS NOT NULL AND holder IS NOT NULL AND holder <> p_owner THEN
                RETURN;  -- saved NULL: the caller marks the record with this holder
            END IF;
            SELECT COALESCE(MAX(version), 0) + 1 INTO saved FROM purecallerid_records
                WHERE campaign_id = p_campaign AND lead_id = p_lead;
            DELETE FROM purecallerid_claims
                WHERE campaign_id = p_campaign AND lead_id = p_lead AND owner = p_owner;
            INSERT INTO purecallerid_records VALUES
                (p_campaign, p_lead, saved, p_decision, p_phone, p_finished, p_record);
        END
        $$""",
    ),
}
# Any fixed number: the advisory lock under which workers migrate the schema one at a time.
_MIGRATION_LOCK: Final = 0x70636964
_LEAD_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended(%s || chr(31) || %s, 0))"
# A lead's latest version (0 without a record), read under the lead's lock.
_LATEST: Final = (
    "SELECT COALESCE(MAX(version), 0) FROM purecallerid_records"
    " WHERE campaign_id = %s AND lead_id = %s"
)


class PostgresResultStore:
    """Records in PostgreSQL, for workers on many machines (the ``postgres`` extra).

    The connection pool opens at the first use, in the event loop that uses the store (one
    store per event loop), and migrates the schema when needed. Close it with :meth:`aclose`.
    It belongs to the process that built it: in a forked child its use raises
    :class:`~purecallerid.ForkedError` (build one per worker, after the fork).

    Args:
        dsn: A libpq connection string or URL (``postgresql://user@host/db``).
        min_size: Connections kept open.
        max_size: Connections at most (the in-flight bound of the store).
        timeout: Seconds to wait for a connection from the pool.

    Raises:
        ConfigurationError: The ``postgres`` extra is not installed.
    """

    def __init__(
        self, dsn: str, *, min_size: int = 1, max_size: int = 16, timeout: float = 30.0
    ) -> None:
        """Remember where the database is; nothing connects before the first use."""
        try:
            import psycopg_pool  # noqa: PLC0415 - an optional extra
        except ImportError as exc:
            raise ConfigurationError(
                "the PostgreSQL store needs the postgres extra:"
                " pip install 'purecallerid[postgres]'"
            ) from exc
        self._pid = os.getpid()
        self._dsn = dsn
        # Autocommit: a single statement is one round trip (no implicit BEGIN, no COMMIT when
        # the connection goes back to the pool); the operations of several statements open
        # their own transaction.
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = psycopg_pool.AsyncConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"autocommit": True},
            configure=_read_committed,
        )
        self._opened: asyncio.Lock | None = None
        self._ready = False

    async def _connection(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        # The pool's sockets and worker tasks would be shared with the parent after a fork.
        check_process(self._pid, type(self).__name__)
        if not self._ready:
            self._opened = self._opened or asyncio.Lock()
            async with self._opened:
                if not self._ready:
                    await self._pool.open(wait=True)
                    async with self._pool.connection() as db, db.transaction():
                        await _migrate(db)
                    self._ready = True
        return self._pool

    async def load(self, campaign_id: str, lead_id: str) -> ScreeningRecord | None:
        """The latest record of the lead, or ``None``."""
        pool = await self._connection()
        async with pool.connection() as db:
            cursor = await db.execute(
                "SELECT record::text, version FROM purecallerid_records"
                " WHERE campaign_id = %s AND lead_id = %s ORDER BY version DESC LIMIT 1",
                (campaign_id, lead_id),
            )
            row = await cursor.fetchone()
        return None if row is None else from_json(row[0], row[1])

    async def claim(
        self, campaign_id: str, lead_id: str, *, owner: str, lease: float, seen_version: int
    ) -> Claim:
        """Take the screening of the lead for *owner*; see :class:`ResultStore.claim`."""
        pool = await self._connection()
        try:
            async with pool.connection() as db:
                cursor = await db.execute(
                    "SELECT * FROM purecallerid_claim("
                    "%s::text, %s::text, %s::text, %s::float8, %s::numeric)",
                    (campaign_id, lead_id, owner, float(lease), seen_version),
                )
                row = await cursor.fetchone()
        except Exception as exc:
            _unless_functions_missing(exc)
            raise
        assert row is not None  # noqa: S101 - a function of OUT parameters gives one row
        granted, latest, holder, expires_in = bool(row[0]), int(row[1]), row[2], row[3]
        if not granted:
            if holder is None:
                return Claim(granted=False, latest_version=latest)
            return Claim(
                granted=False, latest_version=latest, holder=holder, expires_in=float(expires_in)
            )
        taken_over = holder is not None and holder != owner
        return Claim(granted=True, latest_version=latest, taken_over=taken_over)

    async def save(self, record: ScreeningRecord, *, owner: str | None = None) -> ScreeningRecord:
        """Append *record* as the lead's next version and end *owner*'s claim, atomically."""
        key = (record.campaign_id, record.lead_id)
        pool = await self._connection()
        text = to_json(record, for_jsonb=True)
        try:
            async with pool.connection() as db:
                cursor = await db.execute(
                    "SELECT * FROM purecallerid_save(%s::text, %s::text, %s::text, %s::text,"
                    " %s::text, %s::timestamptz, %s::jsonb)",
                    (*key, owner, record.decision.value, record.phone, record.finished_at, text),
                )
                row = await cursor.fetchone()
        except Exception as exc:
            _unless_functions_missing(exc)
            raise
        assert row is not None  # noqa: S101 - a function of OUT parameters gives one row
        if row[0] is not None:
            return attrs.evolve(record, version=int(row[0]))
        # Another owner held the claim (this one's lease ran out and the lead was taken
        # over): the record is kept, marked with what the function saw (the taker may have
        # saved and ended its claim by now), as the next version.
        record = superseded(record, row[1], owner)
        text = to_json(record, for_jsonb=True)
        async with pool.connection() as db, db.transaction():
            await db.execute(_LEAD_LOCK, key)
            cursor = await db.execute(_LATEST, key)
            state = await cursor.fetchone()
            assert state is not None  # noqa: S101 - one row, whatever the tables hold
            version = int(state[0]) + 1
            # The record appended and the owner's claim ended in one statement (a claim of
            # another owner, or none, is left as it is: `owner = NULL` matches no row).
            await db.execute(
                "WITH ended AS (DELETE FROM purecallerid_claims"
                " WHERE campaign_id = %s AND lead_id = %s AND owner = %s)"
                " INSERT INTO purecallerid_records VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                (*key, owner, *key, version, record.decision.value, record.phone,
                 record.finished_at, text),
            )  # fmt: skip
        return attrs.evolve(record, version=version)

    async def release(self, campaign_id: str, lead_id: str, *, owner: str) -> None:
        """End *owner*'s claim on the lead."""
        pool = await self._connection()
        async with pool.connection() as db:
            await db.execute(
                "DELETE FROM purecallerid_claims"
                " WHERE campaign_id = %s AND lead_id = %s AND owner = %s",
                (campaign_id, lead_id, owner),
            )

    async def history(self, campaign_id: str, lead_id: str) -> list[ScreeningRecord]:
        """Every version of the lead's record, oldest first."""
        return await self._records(
            "SELECT record::text, version FROM purecallerid_records"
            " WHERE campaign_id = %s AND lead_id = %s ORDER BY version",
            (campaign_id, lead_id),
        )

    async def find(self, query: RecordQuery) -> list[ScreeningRecord]:
        """The records *query* selects, oldest first (by finish time, then version)."""
        sql, parameters = select_records(
            query,
            table="purecallerid_records",
            record="record::text",
            mark="%s",
            moment=lambda moment: moment,
        )
        return await self._records(sql, parameters)

    async def _records(self, sql: str, parameters: tuple[Any, ...]) -> list[ScreeningRecord]:
        pool = await self._connection()
        async with pool.connection() as db:
            cursor = await db.execute(sql, parameters)
            rows = await cursor.fetchall()
        return [from_json(text, version) for text, version in rows]

    async def count(self) -> int:
        """The number of leads with a record."""
        pool = await self._connection()
        async with pool.connection() as db:
            return await _scalar(
                db,
                "SELECT COUNT(*) FROM (SELECT DISTINCT campaign_id, lead_id"
                " FROM purecallerid_records) AS leads",
                (),
            )

    async def aclose(self) -> None:
        """Close the pool's connections (in a forked child: nothing, they are the parent's)."""
        if not forked(self._pid):
            await self._pool.close()

    def __repr__(self) -> str:
        """The store, without the connection string (it may hold a password)."""
        return "PostgresResultStore(...)"


def _unless_functions_missing(exc: Exception) -> None:
    """Say so when the functions of schema 2 are missing from a database that has its number.

    PostgreSQL's own message ("function ... does not exist", with a hint about casts) points
    at the call, not at the cause: functions dropped, or not on the connection's search_path.
    """
    missing = getattr(getattr(exc, "diag", None), "message_primary", None) or ""
    if getattr(exc, "sqlstate", None) != _UNDEFINED_FUNCTION or "purecallerid_" not in missing:
        return  # another error, or a function missing inside them: said as it is
    raise ConfigurationError(
        "the records database is at schema version 2, but its functions purecallerid_claim"
        " and purecallerid_save are missing (dropped, or not on the connection's"
        " search_path): restore them from the store's migration 2, or point the store at"
        " the schema that holds its tables"
    ) from exc


_UNDEFINED_FUNCTION: Final = "42883"


async def _read_committed(db: AsyncConnection[Any]) -> None:
    """Each new connection reads at PostgreSQL's default isolation, whatever the database's.

    A claim and a save read the lead's state after its lock is granted; under ``REPEATABLE
    READ`` (a database's ``default_transaction_isolation`` may say so) they would read it as
    of their statement's start, before another worker's claim or save committed, and a lead
    could be screened (and billed) twice.
    """
    await db.execute("SET default_transaction_isolation = 'read committed'")


async def _scalar(db: AsyncConnection[Any], sql: str, parameters: tuple[Any, ...]) -> int:
    cursor = await db.execute(sql, parameters)
    row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


async def _migrate(db: AsyncConnection[Any]) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`, one migration at a time, in order."""
    await db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
    await db.execute("CREATE TABLE IF NOT EXISTS purecallerid_schema (version integer NOT NULL)")
    current = await _scalar(db, "SELECT COALESCE(MAX(version), 0) FROM purecallerid_schema", ())
    for version in range(current + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS[version]:
            await db.execute(statement)
        await db.execute("DELETE FROM purecallerid_schema")
        await db.execute("INSERT INTO purecallerid_schema VALUES (%s)", (version,))
