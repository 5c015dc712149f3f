"""Objects bound to the process that built them: a forked child gets an error, not a hang.

A screener's event loop thread does not exist in a ``fork()`` child, a lock held by another
thread at the fork stays held forever, and a connection pool or SQLite connection shared
with the parent would mix both processes' traffic on one socket or file lock. Each such
object records the id of the process that built it and checks it at each use, first thing,
before anything could block: in another process it raises :class:`~purecallerid.ForkedError`.

The process id is read at each use rather than marked by ``os.register_at_fork``: a server
that forks from C (uWSGI) runs no Python fork hooks, and ``os.getpid()`` costs well under a
microsecond.
"""

from __future__ import annotations

import os

from ._errors import ForkedError

__all__ = ["check_process", "forked"]


def forked(built_in: int) -> bool:
    """Whether this process is not *built_in*, the process that built the object."""
    return os.getpid() != built_in


def check_process(built_in: int, what: str) -> None:
    """Raise :class:`~purecallerid.ForkedError` unless this is the process that built *what*.

    Args:
        built_in: The id of the process that built the object (``os.getpid()`` then).
        what: The object's class name, for the message.
    """
    now = os.getpid()
    if now != built_in:
        raise ForkedError(
            f"this {what} was built in process {built_in} and is used in process {now}, a"
            " fork of it: its event loop thread, connection pools, database connections and"
            f" locks do not survive fork(). Build the {what} in each worker after the fork:"
            " in gunicorn's post_fork hook (or without --preload), with uWSGI's"
            " lazy-apps = true or in a @postfork function. See 'Synchronous hosts' in"
            " docs/embedding.md."
        )
