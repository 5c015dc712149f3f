"""Result stores: append-only screening records and the claims that keep one screening per lead.

In memory (one process), SQLite (the processes of one host) and PostgreSQL (many machines),
each implementing :class:`purecallerid.typing.ResultStore` and
:class:`purecallerid.typing.RecordHistory`.
"""

from .memory import InMemoryResultStore
from .postgres import PostgresResultStore
from .sqlite import SQLiteResultStore

__all__ = ["InMemoryResultStore", "PostgresResultStore", "SQLiteResultStore"]
