"""The screeners: screen a lead with a campaign's integrations, decide, record, return.

The flow for one lead::

    lead -> settings -> plan (stages by sort) -> per integration: map -> call -> answer
         -> rules -> action ... -> decision (most severe) -> record saved -> returned

:class:`AsyncScreener` owns a screening from end to end: one screening per lead id at a time
(single flight), the record loaded or saved, the observer told. It hands the plan to
``_plan`` (stages, concurrency, deadlines) and the judging to ``_verdict`` (records and the
decision). Every failure of an integration becomes part of the record, with the integration's
failure policy deciding its action; only host bugs propagate.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib.metadata
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from ._errors import ConfigurationError, InvalidLeadError, SettingsError, StorageError
from ._guards.guards import Guards
from ._guards.memory import InMemoryStateBackend
from ._models import Lead
from ._plan import PlanRunner
from ._records import ScreeningRecord
from ._rules.model import Action
from ._verdict import decide

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable

    from ._records import IntegrationRecord
    from ._settings import CampaignSettings
    from .typing import (
        Integration,
        Observer,
        ResultStore,
        SettingsProvider,
        StateBackend,
    )

__all__ = ["AsyncScreener", "Screener"]

logger: Final = logging.getLogger("purecallerid")

_T = TypeVar("_T")


class AsyncScreener:
    """Screens leads with their campaigns' integrations: the library's main entry point.

    Build one at the host's composition root and reuse it: integrations keep their connection
    pools across leads. Close it with :meth:`aclose` (or ``async with``).

    Args:
        settings: Campaign id -> settings (:class:`~purecallerid.typing.SettingsProvider`).
        store: Where records are kept (:class:`~purecallerid.typing.ResultStore`).
        integrations: The integrations on offer, one per kind.
        observer: Optional metrics hooks (:class:`~purecallerid.typing.Observer`); one with an
            ``on_event`` method also gets the guards' events.
        state: Where the guards of integrations (quota, rate limit, circuit breaker, cache)
            keep their state (:class:`~purecallerid.typing.StateBackend`): share one
            :class:`~purecallerid.SQLiteStateBackend` or
            :class:`~purecallerid.RedisStateBackend` between worker processes. By default an
            :class:`~purecallerid.InMemoryStateBackend`, created when first needed and closed
            with the screener; a backend passed here is the caller's to close.
        clock: A monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        settings: SettingsProvider,
        store: ResultStore,
        integrations: Iterable[Integration],
        observer: Observer | None = None,
        state: StateBackend | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create the screener; see the class docstring for the arguments."""
        self._settings = settings
        self._store = store
        self._kinds: dict[str, Integration] = {}
        for integration in integrations:
            if integration.kind in self._kinds:
                raise ConfigurationError(f"two integrations of kind {integration.kind!r}")
            self._kinds[integration.kind] = integration
        self._observer = observer
        self._clock = clock
        self._state = state
        self._guards: Guards | None = None
        self._checked: dict[str, list[str]] = {}
        # Lead id -> (the screening task, whether it was forced).
        self._in_flight: dict[str, tuple[asyncio.Future[ScreeningRecord], bool]] = {}
        # Lead id -> exceptions raised by the observer during that lead's screening.
        self._hook_failures: dict[str, list[Exception]] = {}
        self._plan = PlanRunner(
            kinds=self._kinds, guards=self._guarded, clock=clock, emit=self._emit
        )

    async def screen(self, lead: Lead, *, force: bool = False) -> ScreeningRecord:
        """Screen *lead* and return the saved record; ``record.decision`` is the decision.

        A lead whose id already has a record gets that record back, without any vendor
        call, unless *force* is true (a re-screen replaces the record). Two concurrent calls
        for the same lead id share one screening.

        Raises:
            InvalidLeadError: The lead has no usable id.
            StorageError: The record could not be loaded or saved; no decision is returned.
        """
        _check_lead(lead)
        key = lead.lead_id
        running = self._in_flight.get(key)
        if running is not None and force and not running[1]:
            # A plain screening is under way; a forced one must not settle for its result.
            with contextlib.suppress(Exception):
                await asyncio.shield(running[0])
            running = self._in_flight.get(key)
        if running is None:
            # The screening runs as its own task, registered before anything is awaited:
            # concurrent callers share it (one vendor call per lead), and a caller that is
            # cancelled abandons the wait, not the screening, which still ends saved.
            task = asyncio.ensure_future(self._screen_once(lead, force=force))
            running = (task, force)
            self._in_flight[key] = running
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(running[0])

    def _forget(self, key: str, task: asyncio.Future[ScreeningRecord]) -> None:
        current = self._in_flight.get(key)
        if current is not None and current[0] is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter re-raises it; nothing else may log it

    async def _screen_once(self, lead: Lead, *, force: bool) -> ScreeningRecord:
        if not force:
            existing = await self._load(lead.lead_id)
            if existing is not None:
                return existing
        failures: list[Exception] = []
        self._hook_failures[lead.lead_id] = failures
        try:
            record = await self._screen_and_save(lead)
        finally:
            del self._hook_failures[lead.lead_id]
        if failures:
            # A host bug in an observer hook surfaces, but only once the record is saved.
            raise failures[0]
        if self._observer is not None:
            self._observer.on_decision(record)
        return record

    async def _load(self, lead_id: str) -> ScreeningRecord | None:
        try:
            return await self._store.load(lead_id)
        except Exception as exc:
            raise StorageError(f"could not load the record of lead {lead_id!r}: {exc}") from exc

    async def _screen_and_save(self, lead: Lead) -> ScreeningRecord:
        record = await self._screen(lead)
        try:
            await self._store.save(record)
        except Exception as exc:
            message = f"could not save the record of lead {lead.lead_id!r}; no decision is returned"
            raise StorageError(f"{message}: {exc}") from exc
        logger.info(
            "lead %s: %s (%s) in %.1f ms",
            lead.lead_id,
            record.decision.value,
            record.decided_by or "no rule",
            record.duration * 1000,
        )
        return record

    async def _screen(self, lead: Lead) -> ScreeningRecord:
        started_at = datetime.now(UTC)
        started = self._clock()
        try:
            campaign = await self._settings.get_campaign(lead.campaign_id)
            note = None if campaign is None else self._check(campaign)
        except SettingsError as exc:
            campaign, note = None, f"settings error: {exc}"
        if campaign is None or note is not None:
            note = note or f"no screening settings for campaign {lead.campaign_id!r}"
            # Without settings nothing can vouch for the lead: hold it for a person.
            return self._record(lead, started_at, started, (), Action.QA, note, settings_hash="")
        records = await self._plan.run(lead, campaign, started)
        return self._record(
            lead, started_at, started, records, None, None, settings_hash=campaign.settings_hash
        )

    def _check(self, campaign: CampaignSettings) -> str | None:
        """Check a campaign's settings against the integrations, once per settings version."""
        problems = self._checked.get(campaign.settings_hash)
        if problems is None:
            problems = []
            for settings in campaign.integrations:
                kind = self._kinds.get(settings.kind)
                if kind is None:
                    problems.append(f"{settings.id}: no integration of kind {settings.kind!r}")
                elif settings.enabled:
                    problems.extend(f"{settings.id}: {p}" for p in kind.check_settings(settings))
            self._checked[campaign.settings_hash] = problems
        return f"settings error: {'; '.join(problems)}" if problems else None

    def _guarded(self) -> Guards:
        if self._guards is None:
            self._guards = Guards(
                InMemoryStateBackend() if self._state is None else self._state,
                observer=self._observer,
                clock=self._clock,
                hook_failed=self._hook_failed,
            )
        return self._guards

    def _hook_failed(self, lead_id: str, exc: Exception) -> None:
        """Hold an observer hook's exception; it is raised once the lead's record is saved."""
        failures = self._hook_failures.get(lead_id)
        if failures is not None:
            failures.append(exc)

    def _emit(self, lead: Lead, record: IntegrationRecord) -> IntegrationRecord:
        if self._observer is not None:
            try:
                self._observer.on_integration_result(lead, record)
            except Exception as exc:
                logger.exception(
                    "lead %s: the observer's on_integration_result failed", lead.lead_id
                )
                self._hook_failed(lead.lead_id, exc)
        return record

    def _record(  # noqa: PLR0917 - private, two call sites
        self,
        lead: Lead,
        started_at: datetime,
        started: float,
        records: Iterable[IntegrationRecord],
        forced: Action | None,
        note: str | None,
        *,
        settings_hash: str,
    ) -> ScreeningRecord:
        records = tuple(records)
        decision = decide(records, forced=forced, note=note)
        return ScreeningRecord(
            lead_id=lead.lead_id,
            campaign_id=lead.campaign_id,
            decision=decision.action,
            reasons=decision.reasons,
            flags=decision.flags,
            decided_by=decision.decided_by,
            integrations=records,
            note=note,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            duration=self._clock() - started,
            library_version=_library_version(),
            settings_hash=settings_hash,
        )

    async def aclose(self) -> None:
        """Finish the screenings under way, then close every integration (pools and files).

        Screenings under way are waited for, not cancelled: their callers may be gone (a
        cancelled bulk run), but a call that may have reached a vendor ends with its record
        saved. Each is bounded by its campaign's deadline.

        The guards' state backend is closed too when the screener created it (the in-memory
        default); one passed as ``state`` is the caller's to close.
        """
        while self._in_flight:
            running = [task for task, _ in self._in_flight.values()]
            await asyncio.gather(*running, return_exceptions=True)
        guards, self._guards = self._guards, None
        if guards is not None:
            await guards.aclose()
            if self._state is None:
                await guards.state.aclose()
        for integration in self._kinds.values():
            await integration.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


def _check_lead(lead: object) -> None:
    # Typed callers cannot get these wrong; hosts feeding posted data through may.
    if not isinstance(lead, Lead):
        raise InvalidLeadError(f"expected a purecallerid.Lead, not {type(lead).__name__}")
    lead_id: object = lead.lead_id
    campaign_id: object = lead.campaign_id
    if not isinstance(lead_id, str) or not lead_id.strip():
        raise InvalidLeadError("the lead has no lead_id; a screening record needs one")
    if not isinstance(campaign_id, str):
        raise InvalidLeadError("the lead's campaign_id must be a string")


@functools.cache
def _library_version() -> str:
    return importlib.metadata.version("purecallerid")


class Screener:
    """The synchronous face of :class:`AsyncScreener`, with the same semantics.

    It runs an event loop in a private thread, so it works from plain threads and from a
    thread whose own event loop is running (a sync view inside an async web framework), and
    keeps integrations' connection pools alive across leads. Close it with :meth:`close` (or
    ``with``).

    Args:
        settings: See :class:`AsyncScreener`.
        store: See :class:`AsyncScreener`.
        integrations: See :class:`AsyncScreener`.
        observer: See :class:`AsyncScreener`; its hooks run on the private thread.
        state: See :class:`AsyncScreener`; used from the private thread.
    """

    def __init__(
        self,
        *,
        settings: SettingsProvider,
        store: ResultStore,
        integrations: Iterable[Integration],
        observer: Observer | None = None,
        state: StateBackend | None = None,
    ) -> None:
        """Create the screener and start its event loop thread."""
        self._async = AsyncScreener(
            settings=settings,
            store=store,
            integrations=integrations,
            observer=observer,
            state=state,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="purecallerid-screener", daemon=True
        )
        self._thread.start()
        # Guards _closed and _pending: a screen() racing close() either gets in before the
        # close begins (and is waited for) or is refused; it never waits on a dead loop.
        self._lock = threading.Lock()
        self._closed = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._shut = threading.Event()

    def screen(self, lead: Lead, *, force: bool = False) -> ScreeningRecord:
        """Screen *lead*; see :meth:`AsyncScreener.screen`."""
        return self._run(self._async.screen(lead, force=force))

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("Screener.screen was called from its own loop; use AsyncScreener")
        with self._lock:
            if self._closed:
                coroutine.close()
                raise RuntimeError("this Screener is closed")
            future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
            self._pending.add(future)
        try:
            return future.result()
        finally:
            with self._lock:
                self._pending.discard(future)

    def close(self) -> None:
        """Finish the screenings under way, close the integrations, stop the loop thread.

        Idempotent and safe to call from several threads: every caller returns once the
        screener is shut.
        """
        with self._lock:
            first = not self._closed
            self._closed = True
            pending = list(self._pending)
        if not first:
            self._shut.wait()
            return
        try:
            # Screenings under way end on their own deadlines; waiting lets them be recorded.
            concurrent.futures.wait(pending)
            asyncio.run_coroutine_threadsafe(self._async.aclose(), self._loop).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            self._shut.set()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
