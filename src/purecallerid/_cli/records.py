"""The records database of the command line: a SQLite file or a PostgreSQL URL, and reading it.

``purecallerid records show`` prints a lead's every version (phones masked);
``purecallerid records export`` writes the records of a time window as JSON lines or CSV.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO
from urllib.parse import parse_qsl, urlencode

from .._errors import ConfigurationError
from .._secrets import MASK
from .._stores import PostgresResultStore, SQLiteResultStore
from ..typing import RecordQuery
from .common import CLIError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from .._records import ScreeningRecord

__all__ = ["is_url", "open_records", "records_db", "records_export", "records_show", "shown"]

_URL_SCHEMES: Final = ("postgresql://", "postgres://")
_CSV_COLUMNS: Final = (
    "campaign_id",
    "lead_id",
    "version",
    "decision",
    "decided_by",
    "reasons",
    "flags",
    "phone",
    "outcome_unknown",
    "started_at",
    "finished_at",
    "settings_hash",
)


def is_url(db: Path | str) -> bool:
    """Whether *db* names a PostgreSQL database rather than a SQLite file."""
    return isinstance(db, str) and db.startswith(_URL_SCHEMES)


def records_db(given: str) -> Path | str:
    """The ``--db`` argument: a ``postgresql://`` URL, or the path of a SQLite file.

    Raises:
        CLIError: It is a libpq ``key=value`` string or another kind of URL, which would
            otherwise be taken for a file name (and printed, password and all). The message
            does not quote it.
    """
    if is_url(given):
        return given
    if "://" in given or _CONNINFO.search(given):
        raise CLIError(
            "--db takes a SQLite file or a postgresql:// URL (lower case); this looks like "
            "another URL or a key=value connection string (not shown: it may hold a password)"
        )
    return Path(given)


_CONNINFO: Final = re.compile(
    r"(?:^|\s)(?:host|hostaddr|dbname|user|password|port)\s*=", re.IGNORECASE
)


def shown(db: Path | str) -> str:
    """*db* as it may be printed: a URL without its password (``user:***@``, ``password=***``)."""
    if not is_url(db):
        return str(db)
    # Split as libpq reads a URL, not as urllib does: '#' is no fragment there (a password
    # may hold one); '/', '?' and '@' inside a part are percent-encoded.
    scheme, _, rest = str(db).partition("://")
    ends = [at for at in (rest.find("/"), rest.find("?")) if at >= 0]
    authority, rest = rest[: min(ends, default=len(rest))], rest[min(ends, default=len(rest)) :]
    userinfo, at, hostport = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.partition(':')[0]}:{MASK}@{hostport}"
    # libpq also takes the password as a parameter of the URL (`postgresql:///db?password=`).
    path, question, query = rest.partition("?")
    parameters = parse_qsl(query, keep_blank_values=True)
    if any(name.lower() in _SECRET_PARAMETERS for name, _ in parameters):
        masked = [(n, MASK if n.lower() in _SECRET_PARAMETERS else v) for n, v in parameters]
        query = urlencode(masked, safe="*")
    return f"{scheme}://{authority}{path}{question}{query}"


_SECRET_PARAMETERS: Final = frozenset({"password", "sslpassword"})


@contextlib.asynccontextmanager
async def open_records(db: Path | str) -> AsyncIterator[SQLiteResultStore | PostgresResultStore]:
    """Open the records database *db* for one command, and close it after.

    Raises:
        CLIError: It cannot be opened (a bad path, no ``postgres`` extra).
    """
    if is_url(db):
        try:
            postgres = PostgresResultStore(str(db))
        except ConfigurationError as exc:
            raise CLIError(str(exc)) from None
        try:
            yield postgres
        finally:
            await postgres.aclose()
        return
    try:
        sqlite = SQLiteResultStore(Path(db))
    except sqlite3.Error as exc:
        raise CLIError(f"cannot open the records database {db}: {exc}") from None
    try:
        yield sqlite
    finally:
        sqlite.close()


def masked(record: ScreeningRecord) -> dict[str, Any]:
    """A record as JSON data, every phone masked (see :meth:`ScreeningRecord.to_public_dict`)."""
    return record.to_public_dict()


async def records_show(db: Path | str, lead_id: str, campaign: str | None, out: TextIO) -> int:
    """Print every version of the lead's records (phones masked); return how many."""
    async with open_records(db) as store:
        if campaign is None:
            every = await store.find(RecordQuery(latest_only=False))
            found = [record for record in every if record.lead_id == lead_id]
        else:
            found = await store.history(campaign, lead_id)
    out.writelines(
        json.dumps(masked(record), indent=2, ensure_ascii=False) + "\n" for record in found
    )
    return len(found)


async def records_export(
    db: Path | str,
    *,
    since: datetime | None,
    until: datetime | None,
    campaign: str | None,
    fmt: str,
    out: TextIO,
) -> int:
    """Write the latest records finished in [since, until) as JSON lines or CSV; count them."""
    query = RecordQuery(since=since, until=until, campaign_id=campaign)
    async with open_records(db) as store:
        found = await store.find(query)
    if fmt == "csv":
        _write_csv(found, out)
    else:
        out.writelines(json.dumps(masked(record), ensure_ascii=False) + "\n" for record in found)
    return len(found)


def _write_csv(records: Iterable[ScreeningRecord], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for record in records:
        data = masked(record)
        writer.writerow(
            "; ".join(data[c]) if c in {"reasons", "flags"} else data[c] for c in _CSV_COLUMNS
        )


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or time; naive means UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def stdout() -> TextIO:
    """Where records are written when no file is named."""
    return sys.stdout
