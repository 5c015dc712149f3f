"""The suppression list protocols, and the lists kept in memory, in a CSV file, in SQLite.

A list answers one question per lead, ``lookup(phone)``, synchronously
(:class:`SuppressionList`) or as a coroutine (:class:`AsyncSuppressionList`); lists that can
also take numbers in have ``add(phone, reason)`` (:class:`WritableSuppressionList`).
"""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from attrs import frozen

from ..._errors import ConfigurationError, SuppressionListError, SuppressionListTimeoutError
from ..._phone import normalize_phone
from ..._secrets import redact_text
from ..._sqlite import open_shared

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

__all__ = [
    "AsyncSuppressionList",
    "CSVSuppressionList",
    "InMemorySuppressionList",
    "SQLiteSuppressionList",
    "SuppressionEntry",
    "SuppressionList",
    "WritableSuppressionList",
    "e164",
    "list_failure",
]


@frozen(kw_only=True)
class SuppressionEntry:
    """One suppressed number.

    Attributes:
        phone: The number in E.164 (``+12125550102``).
        reason: Why it is suppressed (``"customer request"``, ``"DNC"``...), if known.
    """

    phone: str
    reason: str | None = None


@runtime_checkable
class SuppressionList(Protocol):
    """A list of numbers not to call, read synchronously. Implemented by the library or the host.

    :meth:`lookup` is called once per lead by :class:`SuppressionIntegration`, with the phone
    in E.164. It runs in a worker thread of the integration's own bounded pool (never on the
    event loop), within the integration's timeout and the campaign's deadline; a lookup still
    running when they run out cannot be stopped, so it should be an index lookup with a
    timeout of its own. Several leads may call it at once from different threads: it must be
    thread-safe. A list that waits on a network belongs in :class:`AsyncSuppressionList`.
    """

    def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None`` if it is not suppressed."""
        ...


class AsyncSuppressionList(Protocol):
    """A list of numbers not to call, read with a coroutine (a database, Redis, a CRM's API).

    :meth:`lookup` is awaited on the event loop, once per lead, with the phone in E.164, and
    cancelled when the integration's timeout or the campaign's deadline runs out (the lead is
    then recorded ``timeout``). :class:`SuppressionIntegration` tells the two protocols apart
    by whether ``lookup`` is a coroutine function (``async def``).
    """

    async def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None`` if it is not suppressed."""
        ...


class WritableSuppressionList(Protocol):
    """A list that takes numbers in: ``add(phone, reason)``, plain or ``async def``.

    The library's in-memory, SQLite, PostgreSQL and Redis lists are writable;
    :func:`record_to_suppression` writes to any of them, or to a host's own.
    """

    def add(self, phone: str, reason: str | None = None) -> Awaitable[None] | None:
        """Suppress *phone* (any format the list's region reads), with an optional reason."""
        ...


def e164(value: str, region: str) -> str:
    """*value* in E.164, numbers without a country code read in *region*."""
    return normalize_phone(value, region=region)


def list_failure(
    exc: BaseException, what: str, secrets: tuple[str, ...], *, timed_out: bool = False
) -> SuppressionListError:
    """A library error for a list backend's failure *exc*, its message free of *secrets*.

    The backend's exception is not chained: a driver's message or arguments may hold its
    connection string, password included. Its type and redacted message are kept instead.
    """
    message = redact_text(f"{type(exc).__name__}: {exc}", secrets)
    error = SuppressionListTimeoutError if timed_out else SuppressionListError
    return error(f"{what}: {message}")


class InMemorySuppressionList:
    """A suppression list held in a dict.

    Args:
        entries: Phone numbers in any format people type, or ``(phone, reason)`` pairs.
        region: The region of numbers written without a country code.
    """

    def __init__(
        self, entries: Iterable[str | tuple[str, str | None]] = (), *, region: str = "US"
    ) -> None:
        """Create the list from *entries*."""
        self._region = region
        self._entries: dict[str, SuppressionEntry] = {}
        for entry in entries:
            phone, reason = (entry, None) if isinstance(entry, str) else entry
            self.add(phone, reason)

    def add(self, phone: str, reason: str | None = None) -> None:
        """Suppress *phone* (any format), with an optional reason."""
        number = e164(phone, self._region)
        self._entries[number] = SuppressionEntry(phone=number, reason=reason)

    def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None``."""
        return self._entries.get(phone)

    def __len__(self) -> int:
        """The number of suppressed numbers."""
        return len(self._entries)


class CSVSuppressionList(InMemorySuppressionList):
    """A suppression list read from a CSV file with a ``phone`` column (``reason`` optional).

    The file is read once, when the list is built. Every row must hold a valid phone: a list
    that silently dropped rows would let suppressed numbers through, so bad rows are a
    :class:`purecallerid.ConfigurationError` naming each line. :meth:`add` adds to the list in
    memory only, never to the file.

    Args:
        path: The CSV file (UTF-8, header row).
        region: The region of numbers written without a country code.
    """

    def __init__(self, path: str | Path, *, region: str = "US") -> None:
        """Read the list from *path*."""
        super().__init__(region=region)
        self.path = Path(path)
        problems: list[str] = []
        try:
            with self.path.open(newline="", encoding="utf-8") as file:
                reader = csv.DictReader(file)
                if reader.fieldnames is None or "phone" not in reader.fieldnames:
                    raise ConfigurationError(f"{self.path}: the CSV has no 'phone' column")
                for row in reader:
                    try:
                        self.add(row.get("phone") or "", (row.get("reason") or "").strip() or None)
                    except ValueError as exc:
                        problems.append(f"line {reader.line_num}: {exc}")
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ConfigurationError(
                f"{self.path}: cannot read the suppression list: {exc}"
            ) from None
        if problems:
            shown = "; ".join(problems[:10])
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""  # noqa: PLR2004
            raise ConfigurationError(f"{self.path}: invalid rows: {shown}{more}")


class SQLiteSuppressionList:
    """A suppression list in a SQLite table ``suppression(phone PRIMARY KEY, reason)``.

    Phones are stored in E.164. Safe to share between processes on one host.

    Args:
        path: The database file (created with its table when missing).
        region: The region of numbers written without a country code, for :meth:`add`.
    """

    def __init__(self, path: str | Path, *, region: str = "US") -> None:
        """Open (and create if needed) the list at *path*."""
        self.path = str(path)
        self._region = region
        self._lock = threading.Lock()
        self._db = open_shared(
            self.path,
            busy_timeout=5.0,
            setup=["CREATE TABLE IF NOT EXISTS suppression (phone TEXT PRIMARY KEY, reason TEXT)"],
        )

    def add(self, phone: str, reason: str | None = None) -> None:
        """Suppress *phone* (any format), with an optional reason."""
        number = e164(phone, self._region)
        with self._lock:
            self._db.execute(
                "INSERT INTO suppression VALUES (?, ?) "
                "ON CONFLICT(phone) DO UPDATE SET reason=excluded.reason",
                (number, reason),
            )

    def lookup(self, phone: str) -> SuppressionEntry | None:
        """Return the entry for *phone* (E.164), or ``None``."""
        with self._lock:
            row = self._db.execute(
                "SELECT phone, reason FROM suppression WHERE phone = ?", (phone,)
            ).fetchone()
        return None if row is None else SuppressionEntry(phone=row[0], reason=row[1])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()
