"""What every result store shares: records to and from JSON, and the query filter."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._converter import converter
from .._records import ScreeningRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..typing import RecordQuery

__all__ = ["from_json", "matches", "select_records", "superseded", "time_key", "to_json"]

# A NUL character, JSON-escaped, preceded by an even number of backslashes (so that it is an
# escape, not a literal backslash followed by "u0000"). PostgreSQL's JSONB cannot hold it.
_NUL_ESCAPE: Final = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def to_json(record: ScreeningRecord, *, for_jsonb: bool = False) -> str:
    """The record as JSON text (its ``version`` left to the store's own column).

    A lone surrogate (which no UTF-8 database can hold) becomes U+FFFD in every store, so
    that a record saves the same everywhere; *for_jsonb* also replaces NUL characters, which
    PostgreSQL's JSONB refuses.
    """
    data = converter.unstructure(record)
    data["version"] = 0  # the store's column holds it (set here: a copy of the record costs more)
    text = json.dumps(data, ensure_ascii=False)
    if not text.isascii():
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if for_jsonb and "\\u0000" in text:
        text = _NUL_ESCAPE.sub(r"\1\\ufffd", text)
    return text


def superseded(record: ScreeningRecord, holder: str | None, owner: str | None) -> ScreeningRecord:
    """*record* as saved by *owner* while *holder* holds the lead's claim.

    An owner whose lease ran out while it still lived (a paused process) saves after another
    worker took the lead over: both called the vendor. Its record is kept (evidence is never
    lost) and says so.
    """
    if owner is None or holder is None or holder == owner:
        return record
    note = " ".join(filter(None, [record.note, _LATE]))
    return attrs.evolve(record, outcome_unknown=True, note=note)


_LATE: Final = (
    "Saved after another worker took the lead over (this worker's claim had expired): the"
    " lead was screened twice and may have been billed twice."
)


def from_json(text: str | bytes, version: int) -> ScreeningRecord:
    """A stored record read back, with its *version*."""
    record = converter.structure(json.loads(text), ScreeningRecord)
    return attrs.evolve(record, version=version)


def time_key(moment: datetime) -> str:
    """A UTC timestamp as fixed-width text that sorts as time does."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def matches(record: ScreeningRecord, query: RecordQuery) -> bool:
    """Whether *record* passes every filter of *query* (``latest_only`` and ``limit`` aside)."""
    return (
        (query.phone is None or record.phone == query.phone)
        and (query.campaign_id is None or record.campaign_id == query.campaign_id)
        and (query.decision is None or record.decision == query.decision)
        and (query.since is None or record.finished_at >= query.since)
        and (query.until is None or record.finished_at < query.until)
    )


def select_records(
    query: RecordQuery,
    *,
    table: str,
    record: str,
    mark: str,
    moment: Callable[[datetime], Any],
) -> tuple[str, tuple[Any, ...]]:
    """The SQL of a :class:`RecordQuery` for a database store, every filter a bound parameter.

    Args:
        query: The filters.
        table: The records table.
        record: The expression selecting the record's JSON as text.
        mark: The driver's parameter mark (``?`` for sqlite3, ``%s`` for psycopg).
        moment: How the store writes a time (text that sorts, or the time itself).
    """
    where: list[str] = []
    parameters: list[Any] = []
    for clause, value in (
        ("phone = {}", query.phone),
        ("campaign_id = {}", query.campaign_id),
        ("decision = {}", query.decision),
        ("finished_at >= {}", None if query.since is None else moment(query.since)),
        ("finished_at < {}", None if query.until is None else moment(query.until)),
    ):
        if value is not None:
            where.append(clause.format(mark))
            parameters.append(value)
    if query.latest_only:
        # The table name is ours; every value is a bound parameter.
        newest = f"SELECT MAX(version) FROM {table} AS newer"  # noqa: S608
        where.append(
            f"version = ({newest} WHERE newer.campaign_id = {table}.campaign_id"
            f" AND newer.lead_id = {table}.lead_id)"
        )
    sql = f"SELECT {record}, version FROM {table}"  # noqa: S608 - names are ours, values bound
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY finished_at, version"
    if query.limit is not None:
        sql += f" LIMIT {mark}"
        parameters.append(query.limit)
    return sql, tuple(parameters)
