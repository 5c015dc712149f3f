"""Result stores: where screening records are kept. In memory, or SQLite on one host."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Final

from ._converter import converter
from ._records import ScreeningRecord
from ._sqlite import open_shared

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["InMemoryResultStore", "SQLiteResultStore"]


class InMemoryResultStore:
    """Records in a dict, for tests, tools and benchmarks in one process.

    Records are frozen and kept as they are. With ``check_json=True`` each record is also
    written to JSON through the converter and read back, so that a test using this store
    proves that whatever it saves would survive a real database.
    """

    def __init__(self, *, check_json: bool = False) -> None:
        """Create an empty store."""
        self._records: dict[str, ScreeningRecord] = {}
        self._check_json = check_json

    async def save(self, record: ScreeningRecord) -> None:
        """Store *record*, replacing any record with the same lead id."""
        if self._check_json:
            text = json.dumps(converter.unstructure(record))
            record = converter.structure(json.loads(text), ScreeningRecord)
        self._records[record.lead_id] = record

    async def load(self, lead_id: str) -> ScreeningRecord | None:
        """Return the record of *lead_id*, or ``None``."""
        return self._records.get(lead_id)

    def __len__(self) -> int:
        """The number of records held."""
        return len(self._records)

    def lead_ids(self) -> list[str]:
        """The lead ids with a record, in the order first saved."""
        return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        self._records.clear()


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS screening_records (
    lead_id     TEXT PRIMARY KEY,
    campaign_id TEXT NOT NULL,
    decision    TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    record      TEXT NOT NULL
)
"""


class SQLiteResultStore:
    """Records in a SQLite file (standard library ``sqlite3``): the embedded default.

    Safe for several processes on one host: the database runs in WAL mode, each save is one
    transaction (``INSERT ... ON CONFLICT DO UPDATE``), and writers wait up to *busy_timeout*
    seconds for each other. Blocking calls run in a worker thread, off the event loop.

    Args:
        path: The database file (created with its table when missing), or ``":memory:"``.
        busy_timeout: Seconds a writer waits for a lock held by another process.
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        """Open (and create if needed) the database at *path*."""
        self.path = str(path)
        self._lock = threading.Lock()
        wal = [] if self.path == ":memory:" else ["PRAGMA journal_mode=WAL"]
        self._db = open_shared(
            self.path,
            busy_timeout=busy_timeout,
            setup=[*wal, "PRAGMA synchronous=NORMAL", _SCHEMA],
        )

    async def save(self, record: ScreeningRecord) -> None:
        """Store *record* in one transaction, replacing any record with the same lead id."""
        text = json.dumps(converter.unstructure(record))
        await asyncio.to_thread(self._save, record, text)

    def _save(self, record: ScreeningRecord, text: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO screening_records VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(lead_id) DO UPDATE SET campaign_id=excluded.campaign_id, "
                "decision=excluded.decision, finished_at=excluded.finished_at, "
                "record=excluded.record",
                (
                    record.lead_id,
                    record.campaign_id,
                    record.decision.value,
                    record.finished_at.isoformat(),
                    text,
                ),
            )

    async def load(self, lead_id: str) -> ScreeningRecord | None:
        """Return the record of *lead_id*, or ``None``."""
        text = await asyncio.to_thread(self._load, lead_id)
        return None if text is None else converter.structure(json.loads(text), ScreeningRecord)

    def _load(self, lead_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT record FROM screening_records WHERE lead_id = ?", (lead_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def count(self) -> int:
        """The number of records stored."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM screening_records").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteResultStore({self.path!r})"
