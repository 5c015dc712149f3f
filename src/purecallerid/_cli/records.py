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
from urllib.parse import urlsplit, urlunsplit

from .._converter import converter
from .._errors import ConfigurationError
from .._secrets import mask_phone
from .._stores import PostgresResultStore, SQLiteResultStore
from ..typing import RecordQuery
from .common import CLIError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from .._records import ScreeningRecord

__all__ = ["is_url", "open_records", "records_export", "records_show", "shown"]

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


def shown(db: Path | str) -> str:
    """*db* as it may be printed: a URL without its password."""
    if not is_url(db):
        return str(db)
    parts = urlsplit(str(db))
    if parts.password is None:
        return str(db)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{parts.username or ''}:***@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


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
    """A record as JSON data, every phone-like number masked (the record keeps them whole).

    Walked as data, not as text: every text or number of seven digits or more (separators
    such as spaces, dots, dashes, brackets and a leading ``+`` allowed) is shown as ``***``
    and its last four digits, wherever it stands (an answer, a raw body, a request), in
    whatever format the vendor wrote it. The record's own keys (ids, times, hashes) are left.
    """
    masked_data: dict[str, Any] = _mask(converter.unstructure(record))
    return masked_data


_KEPT: Final = frozenset(
    {"lead_id", "campaign_id", "version", "settings_hash", "started_at", "finished_at",
     "duration", "library_version", "decision", "outcome_unknown"}
)  # fmt: skip
_PHONE_LIKE: Final = re.compile(r"\+?(?:[0-9][ ().\-]{0,2}){6,}[0-9]")
_SEVEN: Final = 7


def _kept(key: object) -> bool:
    """A key of the record's own (an id, a time, a hash): its value is not a phone."""
    return isinstance(key, str) and (key in _KEPT or key.endswith("_at"))


def _mask(value: Any) -> Any:
    """*value* with phone-like numbers masked (records are bounded: the walk is shallow)."""
    if isinstance(value, str):
        return _PHONE_LIKE.sub(lambda m: mask_phone(m[0]), value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and len(str(abs(value))) >= _SEVEN:
        return mask_phone(value)
    if isinstance(value, dict):
        return {key: item if _kept(key) else _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    return value


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
