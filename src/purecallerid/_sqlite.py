"""Opening a SQLite database that several processes may be opening at the same moment."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["open_shared"]


def open_shared(
    path: str | Path, *, busy_timeout: float, setup: Iterable[str]
) -> sqlite3.Connection:
    """Connect to *path* (autocommit, usable from any thread) and run the *setup* statements.

    Switching to WAL mode and creating tables take the database's lock without waiting on
    SQLite's busy handler, so processes starting together would see "database is locked";
    the setup is retried until *busy_timeout* has passed. Setup statements must be
    idempotent (``PRAGMA journal_mode=WAL``, ``CREATE TABLE IF NOT EXISTS``).
    """
    db = sqlite3.connect(
        str(path), timeout=busy_timeout, check_same_thread=False, isolation_level=None
    )
    statements = list(setup)
    give_up = time.monotonic() + busy_timeout
    while True:
        try:
            for statement in statements:
                db.execute(statement)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > give_up:
                db.close()
                raise
            time.sleep(0.01)
        else:
            return db
