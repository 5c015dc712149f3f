"""The host's own suppression (Do-Not-Call) list as an integration: no HTTP, same flow.

It proves the design: the same field mapping finds the phone, the same rule engine judges the
answer, and the same record keeps the evidence. Each lookup keeps the event loop free and the
integration's time: an async list is awaited, a synchronous one runs in a worker thread of a
bounded pool of its own, and both are cut off when the integration's timeout or the campaign's
deadline runs out (``timeout`` in the record).
"""

from __future__ import annotations

import asyncio
import csv
import inspect
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

from ..._errors import ConfigurationError, SuppressionListError, SuppressionListTimeoutError
from ..._mapping import DEFAULT_FIELD_MAPPING, FieldMapping
from ..._phone import PhoneFormat
from ..._rules.fields import FieldRegistry, FieldSpec, FieldType
from ...typing import IntegrationAnswer
from .lists import (
    AsyncSuppressionList,
    InMemorySuppressionList,
    SQLiteSuppressionList,
    SuppressionEntry,
    SuppressionList,
    e164,
)
from .options import ListSource, credential_problems, open_list, problems
from .postgres import PostgresSuppressionList
from .redis import RedisSuppressionList

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ..._models import Lead
    from ..._settings import IntegrationSettings

__all__ = ["DEFAULT_MAX_THREADS", "SUPPRESSION_FIELDS", "SuppressionIntegration"]

DEFAULT_MAX_THREADS: Final = 8
"""Worker threads at most per synchronous list (:class:`SuppressionIntegration`)."""

SUPPRESSION_FIELDS: Final = FieldRegistry(
    integration="suppression",
    extra=False,
    fields=(
        FieldSpec(
            name="status",
            type=FieldType.STRING,
            values=("Suppressed", "Clear"),
            open_values=False,
            description="Suppressed when the phone is on the list, else Clear.",
        ),
        FieldSpec(
            name="suppressed",
            type=FieldType.BOOLEAN,
            description="Whether the phone is on the list.",
        ),
        FieldSpec(
            name="reason",
            type=FieldType.STRING,
            description="The list entry's reason, when it has one.",
        ),
        FieldSpec(
            name="list",
            type=FieldType.STRING,
            description="Which list was consulted.",
        ),
    ),
)
"""The answer fields of :class:`SuppressionIntegration`, for rules."""

_PHONE_ONLY: Final = FieldMapping(
    targets={"phone": DEFAULT_FIELD_MAPPING.targets["phone"]},
    phone_format=PhoneFormat.E164,
)
# What reading a synchronous list may raise when the list, not the host's code, failed.
_READ_ERRORS: Final = (OSError, sqlite3.Error, csv.Error, ConfigurationError)

_AnyList = SuppressionList | AsyncSuppressionList


class _Threads:
    """The worker threads of one synchronous list: at most *size*, started when needed.

    A lookup waiting for a thread past its time is cancelled before it starts; one already
    running cannot be stopped and holds its thread until it returns. So a list that hangs
    costs at most *size* threads, and its later lookups time out waiting, never more threads.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pid = os.getpid()
        self._executor = self._new()

    def _new(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(self.size, thread_name_prefix="purecallerid-suppression")

    async def run(
        self, lookup: Callable[[str], SuppressionEntry | None], phone: str, began: threading.Event
    ) -> SuppressionEntry | None:
        if self._pid != os.getpid():
            # A pool's threads do not survive fork(): the child's pool would count the
            # parent's idle threads as its own and never start one.
            self._pid, self._executor = os.getpid(), self._new()

        def call() -> SuppressionEntry | None:
            began.set()
            return lookup(phone)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def shutdown(self) -> None:
        # Lookups still running finish in their threads; queued ones never start.
        self._executor.shutdown(wait=False, cancel_futures=True)


def _in_place(found: object) -> bool:
    """Whether *found* is the library's in-memory list (a dict read): no thread needed."""
    return getattr(type(found), "lookup", None) is InMemorySuppressionList.lookup


class SuppressionIntegration:
    """Screens leads against a suppression list. Kind ``"suppression"`` by default.

    The list comes from the integration's settings ``options``: ``csv = "path.csv"``,
    ``sqlite = "path.db"``, ``postgres = "postgresql://..."`` (with ``table``, ``create``),
    ``redis = "redis://..."`` (with ``key``, ``reasons``), or ``list = "name"`` for a list
    given here in *lists*. A password comes from ``credentials.password``. A list opened from
    options is opened once and shared by the settings that name it.

    Lists are read without holding the event loop: an :class:`AsyncSuppressionList` is
    awaited; a :class:`SuppressionList` (plain ``def lookup``) runs in a worker thread, at most
    *max_threads* per list, except the library's in-memory and CSV lists, read in place. Either
    is cut off when the integration's timeout or the campaign's deadline runs out
    (:class:`~purecallerid.SuppressionListTimeoutError`, recorded ``timeout``).

    Its answer has ``status`` (``Suppressed`` / ``Clear``), ``suppressed`` (bool),
    ``reason`` and ``list``; a typical rule is ``reject when suppressed is true``.

    Args:
        lists: Named lists that settings can refer to with ``options.list``; the host closes
            them.
        kind: The kind name settings use to select this integration.
        base_dir: Where relative ``csv`` / ``sqlite`` paths are resolved.
        max_threads: Worker threads at most for each synchronous list (8 by default).
    """

    def __init__(
        self,
        lists: Mapping[str, SuppressionList | AsyncSuppressionList] | None = None,
        *,
        kind: str = "suppression",
        base_dir: str | Path = ".",
        max_threads: int = DEFAULT_MAX_THREADS,
    ) -> None:
        """Create the integration; see the class docstring for the arguments."""
        if type(max_threads) is not int or max_threads < 1:  # bool is no count of threads
            raise ConfigurationError(f"max_threads must be a whole number >= 1, not {max_threads}")
        self._named: dict[str, _AnyList] = dict(lists or {})
        self._opened: dict[str, _AnyList] = {}
        self._threads: dict[str, _Threads] = {}
        self._max_threads = max_threads
        self._kind = kind
        self._base_dir = Path(base_dir)
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """The kind name (``"suppression"`` by default)."""
        return self._kind

    @property
    def fields(self) -> FieldRegistry:
        """:data:`SUPPRESSION_FIELDS`."""
        return SUPPRESSION_FIELDS

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Check that the settings name one list that can be opened (no server is contacted)."""
        if settings.mapping is not None and "phone" not in settings.mapping.targets:
            return ["mapping: a suppression list needs a 'phone' target"]
        found = problems(settings.options) or credential_problems(settings)
        if found:
            return found
        source = ListSource.of(settings, self._base_dir)
        try:
            self._list_for(settings, source)
        except (ConfigurationError, OSError, sqlite3.Error) as exc:
            return [f"options.{source.option}: {exc}"]
        return []

    def _list_for(self, settings: IntegrationSettings, source: ListSource) -> _AnyList:
        with self._lock:
            if source.option == "list":
                if source.name not in self._named:
                    raise ConfigurationError(f"no suppression list named {source.name!r} was given")
                return self._named[source.name]
            if source.key not in self._opened:
                self._opened[source.key] = open_list(settings, self._base_dir)
            return self._opened[source.key]

    def _threads_for(self, source: ListSource) -> _Threads:
        with self._lock:
            if source.key not in self._threads:
                self._threads[source.key] = _Threads(self._max_threads)
            return self._threads[source.key]

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        """Look the lead's phone up in the list, within *deadline* seconds."""
        started = time.monotonic()
        mapping = settings.mapping or _PHONE_ONLY
        phone = e164(mapping.map_payload(lead)["phone"], mapping.phone_region)
        try:
            source = ListSource.of(settings, self._base_dir)
            found_list = self._list_for(settings, source)
        except _READ_ERRORS as exc:
            # The list could not be opened: the lead is neither cleared nor suppressed.
            raise SuppressionListError(f"the suppression list could not be read: {exc}") from exc
        left = deadline - (time.monotonic() - started)
        found = await self._lookup(found_list, source, phone, left)
        answer = {
            "status": "Suppressed" if found else "Clear",
            "suppressed": found is not None,
            "reason": None if found is None else found.reason,
            "list": source.name,
        }
        return IntegrationAnswer(answer=answer, raw=None)

    async def _lookup(
        self, found_list: _AnyList, source: ListSource, phone: str, seconds: float
    ) -> SuppressionEntry | None:
        began = threading.Event()
        threads: _Threads | None = None
        timer = asyncio.timeout(seconds)
        try:
            async with timer:
                if inspect.iscoroutinefunction(found_list.lookup):
                    began.set()
                    return await cast("AsyncSuppressionList", found_list).lookup(phone)
                read = cast("SuppressionList", found_list).lookup
                if _in_place(found_list):
                    return read(phone)
                threads = self._threads_for(source)
                return await threads.run(read, phone, began)
        except TimeoutError:
            raise _timed_out(source, seconds, threads, began) from None
        except asyncio.CancelledError:
            if not timer.expired():
                raise
            # Our time ran out, and another cancellation came in the same turn of a late loop:
            # the screener's own guard, which fires a moment after ours. Ours is the cause;
            # left as a cancellation, the guard would record a bare timeout, "possibly billed".
            raise _timed_out(source, seconds, threads, began) from None
        except _READ_ERRORS as exc:
            # The list could not be read: the lead is neither cleared nor suppressed.
            raise SuppressionListError(f"the suppression list could not be read: {exc}") from exc

    async def aclose(self) -> None:
        """Close the lists this integration opened itself and stop its worker threads.

        A lookup still running in a worker thread goes on until it returns; the threads end
        then. Lists given in *lists* are the host's to close.
        """
        with self._lock:
            opened, self._opened = self._opened, {}
            threads, self._threads = self._threads, {}
        for pool in threads.values():
            pool.shutdown()
        for found in opened.values():
            if isinstance(found, SQLiteSuppressionList):
                found.close()
            elif isinstance(found, PostgresSuppressionList | RedisSuppressionList):
                await found.aclose()


def _timed_out(
    source: ListSource, seconds: float, threads: _Threads | None, began: threading.Event
) -> SuppressionListTimeoutError:
    message = f"the suppression list {source.name!r} did not answer within {seconds:.2g} s"
    if threads is not None and not began.is_set():
        message += f" (it never started: its {threads.size} worker threads were all busy)"
    elif threads is not None:
        message += " (its lookup goes on in a worker thread, which cannot be stopped)"
    return SuppressionListTimeoutError(message)
