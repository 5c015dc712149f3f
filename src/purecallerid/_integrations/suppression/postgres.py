"""A suppression list in a PostgreSQL table, read with psycopg 3's asyncio API and its pool.

The table holds one row per number, ``(phone text PRIMARY KEY, reason text)``, phones in
E.164: a lookup is one primary-key read. The list never sends a statement the host did not
ask for except ``CREATE TABLE IF NOT EXISTS`` when built with ``create=True``.
"""

from __future__ import annotations

import asyncio
import os
import re
from typing import TYPE_CHECKING, Any, Final

from ..._errors import ConfigurationError, PureCallerIDError
from ..._fork import check_process, forked
from ..._secrets import Secret, register_secret
from .lists import SuppressionEntry, e164, list_failure

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ["PostgresSuppressionList", "dsn_password", "table_name"]

# A table, optionally in a schema: plain identifiers only, so that settings cannot smuggle SQL
# in (the name is quoted with psycopg.sql as well).
_TABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?")
# Any fixed number: the advisory lock under which workers create the table one at a time
# (two concurrent CREATE TABLE IF NOT EXISTS can both try to create its type, and one fails).
_CREATE_LOCK: Final = 0x70636473


def table_name(value: object) -> str:
    """*value* if it is a table name (``dnc`` or ``crm.dnc``), else a ConfigurationError."""
    if not isinstance(value, str) or not _TABLE.fullmatch(value):
        raise ConfigurationError(
            "table must be a table name (letters, digits, _), optionally with its schema (crm.dnc)"
        )
    return value


def dsn_password(dsn: str) -> str | None:
    """The password a libpq URL or connection string holds, if any (never echoes *dsn*)."""
    try:
        from psycopg import Error  # noqa: PLC0415 - an optional extra
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415
    except ImportError:
        raise ConfigurationError(
            "a PostgreSQL list needs the postgres extra: pip install 'purecallerid[postgres]'"
        ) from None
    try:
        password = conninfo_to_dict(dsn).get("password")
    except Error:
        # psycopg's message quotes the string, password included.
        raise ConfigurationError("not a libpq connection string or URL") from None
    return None if password is None else str(password)


class PostgresSuppressionList:
    """A suppression list in a PostgreSQL table (the ``postgres`` extra).

    The table has a ``phone`` column (text, E.164, the primary key or at least indexed) and
    a ``reason`` column (text, may be null); a table of another shape can be read through a
    view with those two columns. Lookups and :meth:`add` are single statements in
    autocommit, through a small connection pool opened at the first use in the event loop
    that uses the list (one list per event loop), and closed by :meth:`aclose`. It belongs to
    the process that built it: in a forked child its use raises
    :class:`~purecallerid.ForkedError`.

    A failure of the server (down, refused, a missing table) is a
    :class:`~purecallerid.SuppressionListError` whose message holds no password.

    Args:
        dsn: A libpq URL or connection string; it may hold a password (pass a
            :class:`~purecallerid.Secret` to keep it out of sight everywhere).
        table: The table, optionally with its schema (``crm.dnc``).
        create: Create the table when it is missing, at the first use.
        password: The password, when *dsn* holds none (libpq also reads ``PGPASSWORD`` and
            ``~/.pgpass``).
        region: The region of numbers written without a country code, for :meth:`add`.
        max_size: Connections at most (one lookup holds one for a single statement).
        timeout: Seconds to wait for a connection from the pool.

    Raises:
        ConfigurationError: A bad table name or connection string, or no ``postgres`` extra.
    """

    def __init__(
        self,
        dsn: str | Secret,
        *,
        table: str = "suppression",
        create: bool = False,
        password: str | Secret | None = None,
        region: str = "US",
        max_size: int = 4,
        timeout: float = 5.0,
    ) -> None:
        """Remember where the table is; nothing connects before the first use."""
        try:
            import psycopg  # noqa: PLC0415 - an optional extra
            import psycopg_pool  # noqa: PLC0415
        except ImportError as exc:
            raise ConfigurationError(
                "PostgresSuppressionList needs the postgres extra:"
                " pip install 'purecallerid[postgres]'"
            ) from exc
        self._table = table_name(table)
        text = dsn.reveal() if isinstance(dsn, Secret) else dsn
        given = password.reveal() if isinstance(password, Secret) else password
        hidden = [given or dsn_password(text), text if isinstance(dsn, Secret) else None]
        # Kept alive with the list: registered, they are masked in the library's log lines.
        self._secrets = tuple(Secret(value) for value in hidden if value)
        for kept in self._secrets:
            register_secret(kept)
        # The server's failures (and the socket's); anything else is a bug and propagates.
        self._failures: tuple[type[Exception], ...] = (psycopg.Error, OSError)
        self._timeouts: tuple[type[Exception], ...] = (psycopg_pool.PoolTimeout,)
        self._create = create
        self._region = region
        self._pid = os.getpid()
        self._pool: AsyncConnectionPool[AsyncConnection[Any]] = psycopg_pool.AsyncConnectionPool(
            text,
            kwargs={"autocommit": True, **({"password": given} if given else {})},
            min_size=1,
            max_size=max_size,
            timeout=timeout,
            open=False,
        )
        self._opened = False
        self._created = not create
        self._creating: asyncio.Lock | None = None

    @property
    def table(self) -> str:
        """The table's name, as given."""
        return self._table

    def _sql(self, template: str) -> Any:
        from psycopg import sql  # noqa: PLC0415 - the postgres extra

        return sql.SQL(template).format(table=sql.Identifier(*self._table.split(".")))

    async def _ready(self) -> AsyncConnectionPool[AsyncConnection[Any]]:
        # The pool's sockets and worker tasks would be shared with the parent after a fork.
        check_process(self._pid, type(self).__name__)
        if not self._opened:
            # Not waiting for the connections: a server that is down then fails each lookup
            # on its own (the pool's timeout, or the integration's), instead of the first.
            await self._pool.open(wait=False)
            self._opened = True
        if not self._created:
            self._creating = self._creating or asyncio.Lock()
            async with self._creating:
                if not self._created:
                    async with self._pool.connection() as db, db.transaction():
                        await db.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATE_LOCK,))
                        await db.execute(
                            self._sql(
                                "CREATE TABLE IF NOT EXISTS {table}"
                                " (phone text PRIMARY KEY, reason text)"
                            )
                        )
                    self._created = True
        return self._pool

    async def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None``."""
        try:
            pool = await self._ready()
            async with pool.connection() as db:
                cursor = await db.execute(
                    self._sql("SELECT phone, reason FROM {table} WHERE phone = %s"), (phone,)
                )
                row = await cursor.fetchone()
        except self._failures as exc:
            raise self._failure(exc) from None
        return None if row is None else SuppressionEntry(phone=row[0], reason=row[1])

    async def add(self, phone: str, reason: str | None = None) -> None:
        """Suppress *phone* (any format), with an optional reason (replacing an earlier one)."""
        number = e164(phone, self._region)
        try:
            pool = await self._ready()
            async with pool.connection() as db:
                await db.execute(
                    self._sql(
                        "INSERT INTO {table} (phone, reason) VALUES (%s, %s)"
                        " ON CONFLICT (phone) DO UPDATE SET reason = excluded.reason"
                    ),
                    (number, reason),
                )
        except self._failures as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: Exception) -> PureCallerIDError:
        return list_failure(
            exc,
            f"the PostgreSQL suppression list {self._table!r} failed",
            tuple(secret.reveal() for secret in self._secrets),
            timed_out=isinstance(exc, self._timeouts),
        )

    async def aclose(self) -> None:
        """Close the pool's connections (in a forked child: nothing, they are the parent's)."""
        if not forked(self._pid):
            await self._pool.close()

    def __repr__(self) -> str:
        """The list by its table, without the connection string (it may hold a password)."""
        return f"PostgresSuppressionList(table={self._table!r})"
