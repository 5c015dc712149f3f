"""The host's own suppression (Do-Not-Call) lists, and the integration that screens with them.

``lists`` holds the protocols (:class:`SuppressionList`, :class:`AsyncSuppressionList`,
:class:`WritableSuppressionList`) and the in-memory, CSV and SQLite lists; ``postgres`` and
``redis`` the server-backed ones; ``options`` reads a settings' ``options``; ``integration``
runs the lookups within the integration's time; ``write_back`` adds a number when a rule says
so.
"""

from .integration import DEFAULT_MAX_THREADS, SUPPRESSION_FIELDS, SuppressionIntegration
from .lists import (
    AsyncSuppressionList,
    CSVSuppressionList,
    InMemorySuppressionList,
    SQLiteSuppressionList,
    SuppressionEntry,
    SuppressionList,
    WritableSuppressionList,
)
from .postgres import PostgresSuppressionList
from .redis import RedisSuppressionList
from .write_back import record_to_suppression

__all__ = [
    "DEFAULT_MAX_THREADS",
    "SUPPRESSION_FIELDS",
    "AsyncSuppressionList",
    "CSVSuppressionList",
    "InMemorySuppressionList",
    "PostgresSuppressionList",
    "RedisSuppressionList",
    "SQLiteSuppressionList",
    "SuppressionEntry",
    "SuppressionIntegration",
    "SuppressionList",
    "WritableSuppressionList",
    "record_to_suppression",
]
