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
import contextvars
import logging
import math
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from ._bounds import RecordBounds
from ._errors import (
    ConfigurationError,
    ForkedError,
    InvalidLeadError,
    RuleValidationError,
    StorageError,
)
from ._fork import check_process, forked
from ._guards.guards import Guards
from ._guards.memory import InMemoryStateBackend
from ._mapping import DEFAULT_FIELD_MAPPING
from ._models import Lead
from ._observe.dispatch import observing
from ._plan import PlanRunner
from ._records import ScreeningRecord
from ._rules.model import Action
from ._settings_loader import campaign_problems
from ._verdict import decide, flow_verdicts
from ._version import __version__
from .typing import RecordHistory

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable

    from ._records import IntegrationRecord
    from ._settings import CampaignSettings
    from .typing import (
        Claim,
        EventObserver,
        Integration,
        Observer,
        ResultStore,
        SettingsProvider,
        StateBackend,
    )

__all__ = ["AsyncScreener", "Screener"]

logger: Final = logging.getLogger("purecallerid.screener")

_T = TypeVar("_T")


class AsyncScreener:
    """Screens leads with their campaigns' integrations: the library's main entry point.

    Build one at the host's composition root and reuse it: integrations keep their connection
    pools across leads. Close it with :meth:`aclose` (or ``async with``). It belongs to the
    process that built it: in a forked child, :meth:`screen` raises
    :class:`~purecallerid.ForkedError` (build one per worker, after the fork).

    Args:
        settings: Campaign id -> settings (:class:`~purecallerid.typing.SettingsProvider`).
        store: Where records are kept (:class:`~purecallerid.typing.ResultStore`).
        integrations: The integrations on offer, one per kind.
        observer: Optional metrics hooks (:class:`~purecallerid.typing.Observer`), or an
            :class:`~purecallerid.typing.EventObserver` told each screening's events (both:
            a :class:`~purecallerid.CompositeObserver`); see "Observability" in the docs.
        state: Where the guards of integrations (quota, rate limit, circuit breaker, cache)
            keep their state (:class:`~purecallerid.typing.StateBackend`): share one
            :class:`~purecallerid.SQLiteStateBackend` or
            :class:`~purecallerid.RedisStateBackend` between worker processes. By default an
            :class:`~purecallerid.InMemoryStateBackend`, created when first needed and closed
            with the screener; a backend passed here is the caller's to close.
        clock: A monotonic clock in seconds (injectable for tests).
        claim_lease: Seconds a claim on a lead holds before another worker may take the lead
            over (its owner presumed dead). By default the campaign's deadline plus 30 s:
            longer than any screening of that campaign takes.
        owner: This screener's name in claims (default: host name, process id and a random
            suffix, unique per screener).
        record_bounds: The caps an answer is cut to before it is recorded
            (:class:`~purecallerid.RecordBounds`; its defaults otherwise).
    """

    def __init__(
        self,
        *,
        settings: SettingsProvider,
        store: ResultStore,
        integrations: Iterable[Integration],
        observer: Observer | EventObserver | None = None,
        state: StateBackend | None = None,
        clock: Callable[[], float] = time.monotonic,
        claim_lease: float | None = None,
        owner: str | None = None,
        record_bounds: RecordBounds | None = None,
    ) -> None:
        """Create the screener; see the class docstring for the arguments."""
        self._pid = os.getpid()
        self._settings = settings
        self._store = store
        self._kinds: dict[str, Integration] = {}
        for integration in integrations:
            if integration.kind in self._kinds:
                raise ConfigurationError(f"two integrations of kind {integration.kind!r}")
            self._kinds[integration.kind] = integration
        self._observer, self._hooks = observing(observer)
        self._clock = clock
        self._bound_loop: asyncio.AbstractEventLoop | None = None
        self._loop_closed = False
        self._state = state
        self._guards: Guards | None = None
        if claim_lease is not None and not (math.isfinite(claim_lease) and claim_lease > 0):
            raise ConfigurationError(
                f"claim_lease must be a number of seconds > 0, not {claim_lease!r}"
            )
        self._claim_lease = claim_lease
        # Always unique: two screeners given one name would both hold a lead's claim.
        name = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._owner = f"{name}:{uuid.uuid4().hex[:8]}"
        # Settings hash -> the campaign as given, and as checked (its rules compiled) or the note
        # saying why it cannot screen: each settings version is checked once.
        self._checked: dict[str, tuple[CampaignSettings, CampaignSettings | str]] = {}
        # (Campaign id, lead id) -> (the screening task, whether it was forced).
        self._in_flight: dict[tuple[str, str], tuple[asyncio.Future[ScreeningRecord], bool]] = {}
        # Leads whose claim this screener holds without a record (a host bug, a cancellation or
        # a failed save after calls may have left): screening one again is a takeover.
        self._unsettled: set[tuple[str, str]] = set()
        self._plan = PlanRunner(
            kinds=self._kinds,
            guards=self._guarded,
            clock=clock,
            emit=self._emit,
            bounds=record_bounds or RecordBounds(),
            started=self._hooks.integration_started,
        )

    async def screen(
        self, lead: Lead, *, force: bool = False, force_version: int | None = None
    ) -> ScreeningRecord:
        """Screen *lead* and return the saved record; ``record.decision`` is the decision.

        A lead (campaign id and lead id) that already has a record gets that record back,
        without any vendor call, unless *force* is true or the record is older than the
        campaign's ``max_age``: then it is screened again and the new record is appended as
        the next version (nothing is overwritten). One screening per lead runs at a time
        anywhere the store is shared: concurrent callers in this process share it, and
        workers elsewhere wait for its record (see :class:`~purecallerid.typing.ResultStore`).

        *force_version* forces a new screening only while the lead's latest record is still
        that version: a re-screening decided on a record read earlier (it was a failure)
        must not call the vendor again when another worker has re-screened the lead since.
        That newer record is returned instead.

        Raises:
            InvalidLeadError: The lead has no usable id.
            StorageError: The record could not be loaded or saved; no decision is returned.
            ForkedError: The screener, or its store, was built in another process (this one
                is a fork of it): build it after the fork.
        """
        check_process(self._pid, type(self).__name__)
        self._check_loop()
        _check_lead(lead)
        force = force or force_version is not None
        key = (lead.campaign_id, lead.lead_id)
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
            task = asyncio.ensure_future(
                self._hooks.screening(
                    lead, self._screen_once(lead, force=force, force_version=force_version)
                )
            )
            running = (task, force)
            self._in_flight[key] = running
            task.add_done_callback(lambda done: self._forget(key, done))
        return await asyncio.shield(running[0])

    async def load(self, lead_id: str, campaign_id: str) -> ScreeningRecord | None:
        """The latest record of a lead, or ``None``: what a host shows for ``GET /leads/<id>``.

        Raises:
            StorageError: The store failed.
        """
        return await self._load(Lead(lead_id=lead_id, campaign_id=campaign_id))

    async def history(self, lead_id: str, campaign_id: str) -> list[ScreeningRecord]:
        """Every version of a lead's record, oldest first.

        Raises:
            TypeError: The store keeps no history (it does not implement
                :class:`~purecallerid.typing.RecordHistory`).
            StorageError: The store failed.
        """
        if not isinstance(self._store, RecordHistory):
            raise TypeError(
                f"{type(self._store).__name__} keeps no history: it does not implement "
                "purecallerid.typing.RecordHistory (history and find)"
            )
        try:
            return await self._store.history(campaign_id, lead_id)
        except Exception as exc:
            raise StorageError(f"could not read the history of lead {lead_id!r}: {exc}") from exc

    def _forget(self, key: tuple[str, str], task: asyncio.Future[ScreeningRecord]) -> None:
        current = self._in_flight.get(key)
        if current is not None and current[0] is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter re-raises it; nothing else may log it

    async def _screen_once(
        self, lead: Lead, *, force: bool, force_version: int | None = None
    ) -> ScreeningRecord:
        existing = await self._load(lead)
        campaign, note = await self._campaign(lead)
        if existing is not None and not force and _fresh(existing, campaign):
            return existing
        if force_version is not None and existing is not None and existing.version != force_version:
            return existing  # re-screened elsewhere since the caller decided to force
        # The claim below is taken against this version: a screening saved meanwhile wins.
        seen = 0 if existing is None else existing.version
        claim = await self._claim(lead, campaign, seen)
        if isinstance(claim, ScreeningRecord):
            return claim  # another worker screened the lead meanwhile: its record stands
        key = (lead.campaign_id, lead.lead_id)
        taken_over = claim.taken_over or key in self._unsettled
        failures: list[Exception] = []
        # Until the record is saved the claim is kept whatever happens: a host bug or a
        # cancellation may come after a billed call, and the claim's expiry (or this
        # screener's next attempt) then screens the lead with the doubt recorded.
        self._unsettled.add(key)
        token = _HOOK_FAILURES.set(failures)
        try:
            record = await self._screen(lead, campaign, note, taken_over=taken_over)
        finally:
            _HOOK_FAILURES.reset(token)
        record = await self._save(record)
        self._unsettled.discard(key)
        if failures:
            # A host bug in an observer hook surfaces, but only once the record is saved.
            raise failures[0]
        if self._observer is not None:
            self._observer.on_decision(record)
        return record

    async def _load(self, lead: Lead) -> ScreeningRecord | None:
        try:
            return await self._store.load(lead.campaign_id, lead.lead_id)
        except ForkedError:
            raise  # the host's set-up, not the store's failure: said as it is
        except Exception as exc:
            raise StorageError(
                f"could not load the record of lead {lead.lead_id!r}: {exc}"
            ) from exc

    async def _claim(
        self, lead: Lead, campaign: CampaignSettings | None, seen: int
    ) -> Claim | ScreeningRecord:
        """Claim the lead's screening, or wait for the record of the worker that holds it.

        Returns the granted claim, or the newer record another worker saved meanwhile. A
        holder that dies leaves its claim to expire: the wait then ends in a takeover.
        """
        deadline = campaign.deadline if campaign else 0.0
        lease = self._claim_lease or (_CLAIM_MARGIN + deadline)
        # A lease the screening can outlive would hand a live lead to another worker.
        lease = max(lease, deadline + _LEASE_OVER_DEADLINE)
        give_up = self._clock() + 2 * lease
        pause = _FIRST_POLL
        while True:
            try:
                claim = await self._store.claim(
                    lead.campaign_id,
                    lead.lead_id,
                    owner=self._owner,
                    lease=lease,
                    seen_version=seen,
                )
            except ForkedError:
                raise
            except Exception as exc:
                raise StorageError(f"could not claim lead {lead.lead_id!r}: {exc}") from exc
            if claim.granted:
                return claim
            if claim.latest_version != seen:
                newer = await self._load(lead)
                if newer is not None:
                    return newer
            if self._clock() > give_up:
                raise StorageError(
                    f"lead {lead.lead_id!r} is still claimed by {claim.holder} after"
                    f" {2 * lease:.0f} s; no decision is returned"
                )
            wait = pause if claim.expires_in is None else min(pause, claim.expires_in + 0.01)
            await asyncio.sleep(max(wait, 0.0))
            pause = min(pause * 2, _LAST_POLL)

    async def _save(self, record: ScreeningRecord) -> ScreeningRecord:
        try:
            saved = await self._store.save(record, owner=self._owner)
        except ForkedError:
            raise
        except Exception as exc:
            message = (
                f"could not save the record of lead {record.lead_id!r}; no decision is returned"
            )
            raise StorageError(f"{message}: {exc}") from exc
        if logger.isEnabledFor(logging.INFO):  # the fields are built for every lead else
            logger.info(
                "lead %s: %s (%s) in %.1f ms",
                record.lead_id,
                record.decision.value,
                record.decided_by or "no rule",
                record.duration * 1000,
                extra={
                    "lead_id": record.lead_id,
                    "campaign_id": record.campaign_id,
                    "decision": record.decision.value,
                    "decided_by": record.decided_by,
                    "duration_ms": round(record.duration * 1000, 1),
                },
            )
        self._hooks.saved(saved)
        return saved

    async def _campaign(self, lead: Lead) -> tuple[CampaignSettings | None, str | None]:
        """The lead's campaign settings, checked, or ``None`` with the note that says why not.

        Settings a provider cannot build (a :class:`SettingsError`, or any other settings
        error: a mapping or rules it built itself) hold the lead for QA, as broken settings do.
        """
        try:
            campaign = await self._settings.get_campaign(lead.campaign_id)
        except (ConfigurationError, RuleValidationError) as exc:
            return None, f"settings error: {exc}"
        if campaign is None:
            return None, f"no screening settings for campaign {lead.campaign_id!r}"
        checked = self._check(campaign)
        return (None, checked) if isinstance(checked, str) else (checked, None)

    async def _screen(
        self,
        lead: Lead,
        campaign: CampaignSettings | None,
        note: str | None,
        *,
        taken_over: bool,
    ) -> ScreeningRecord:
        started_at = datetime.now(UTC)
        started = self._clock()
        extra: dict[str, Any] = {"phone": _phone(lead, campaign)}
        if taken_over:  # said in the note, not in the reasons: it is not why the lead was decided
            extra.update(taken_over_note=_TAKEN_OVER, outcome_unknown=True)
        if campaign is None:
            # Without settings nothing can vouch for the lead: hold it for a person.
            return self._record(lead, started_at, started, (), Action.QA, note, settings_hash="",
                                **extra)  # fmt: skip
        records = await self._plan.run(lead, campaign, started)
        return self._record(lead, started_at, started, records, None, note,
                            settings_hash=campaign.settings_hash, campaign=campaign,
                            **extra)  # fmt: skip

    def _check(self, campaign: CampaignSettings) -> CampaignSettings | str:
        """The campaign checked against the integrations (rules compiled), or the note why not.

        Once per settings version: the same campaign again (or an equal one, a provider that
        builds it anew for each lead) is a dictionary lookup. Settings with the same hash but
        other tokens are not equal, so they are checked on their own.
        """
        seen = self._checked.get(campaign.settings_hash)
        if seen is not None and (seen[0] is campaign or seen[0] == campaign):
            return seen[1]
        checked, found = campaign_problems(campaign, self._kinds)
        result: CampaignSettings | str = checked
        if found:
            problems = []
            for index, where, what in found:
                name = "" if index is None else campaign.integrations[index].id
                place = ".".join(filter(None, [name, where]))
                problems.append(f"{place}: {what}")
            result = f"settings error: {'; '.join(problems)}"
        self._checked[campaign.settings_hash] = (campaign, result)
        return result

    def _guarded(self) -> Guards:
        if self._guards is None:
            self._guards = Guards(
                InMemoryStateBackend() if self._state is None else self._state,
                hooks=self._hooks,
                clock=self._clock,
            )
        return self._guards

    def _hook_failed(self, exc: Exception) -> None:
        """Hold an observer hook's exception; it is raised once the lead's record is saved."""
        failures = _HOOK_FAILURES.get()
        if failures is not None:
            failures.append(exc)

    def _emit(self, lead: Lead, record: IntegrationRecord) -> IntegrationRecord:
        if self._observer is not None:
            try:
                self._observer.on_integration_result(lead, record)
            except Exception as exc:
                logger.exception(
                    "lead %s: the observer's on_integration_result failed",
                    lead.lead_id,
                    extra={"lead_id": lead.lead_id, "campaign_id": lead.campaign_id},
                )
                self._hook_failed(exc)
        self._hooks.integration_ended(lead, record)
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
        campaign: CampaignSettings | None = None,
        phone: str | None = None,
        outcome_unknown: bool = False,
        taken_over_note: str | None = None,
    ) -> ScreeningRecord:
        records = tuple(records)
        rules = shadow = None
        if campaign is not None and campaign.has_flow:
            rules, shadow = flow_verdicts(campaign, records, lead, note)
        decision = decide(records, forced=forced, note=note, rules=rules)
        return ScreeningRecord(
            campaign_rules=rules,
            shadow=shadow,
            phone=phone,
            outcome_unknown=outcome_unknown,
            lead_id=lead.lead_id,
            campaign_id=lead.campaign_id,
            decision=decision.action,
            reasons=decision.reasons,
            flags=decision.flags,
            decided_by=decision.decided_by,
            integrations=records,
            note=" ".join(filter(None, [note, taken_over_note])) or None,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            duration=self._clock() - started,
            library_version=__version__,
            settings_hash=settings_hash,
        )

    def _check_loop(self) -> None:
        """Refuse a closed screener, or one first used on another event loop.

        Its integrations' pools, its stores' connections and its guards' clients belong to
        the loop that first used them; on another they fail deep inside a driver, and only
        in production (fakes have no loop state). Reopening after :meth:`aclose` would leak
        pools nobody closes.
        """
        if self._loop_closed:
            raise RuntimeError(f"{type(self).__name__} is closed: build a new one")
        loop = asyncio.get_running_loop()
        if self._bound_loop is None:
            self._bound_loop = loop
        elif loop is not self._bound_loop:
            raise RuntimeError(
                f"{type(self).__name__} was first used on another event loop, to which its "
                "pools and connections belong: build one per event loop (in the coroutine "
                "given to asyncio.run, or the host's startup hook) and close it there"
            )

    async def aclose(self) -> None:
        """Finish the screenings under way, then close every integration (pools and files).

        The screener is closed for good: :meth:`screen` then raises ``RuntimeError``.

        Screenings under way are waited for, not cancelled: their callers may be gone (a
        cancelled bulk run), but a call that may have reached a vendor ends with its record
        saved. Each is bounded by its campaign's deadline.

        The guards' state backend is closed too when the screener created it (the in-memory
        default); one passed as ``state`` is the caller's to close.

        In a forked child of the process that built it, this does nothing: the pools and files
        are the parent's, still in use there.
        """
        if forked(self._pid):
            return
        self._loop_closed = True
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


_CLAIM_MARGIN: Final = 30.0
"""Seconds a claim's default lease adds to the campaign's deadline (saving, clock skew)."""
_LEASE_OVER_DEADLINE: Final = 1.0
"""Seconds a lease lasts at least past the campaign's deadline, whatever was asked."""
_MAX_ID: Final = 256
"""Characters of a lead or campaign id at most (databases index them)."""
_HOOK_FAILURES: Final[contextvars.ContextVar[list[Exception] | None]] = contextvars.ContextVar(
    "purecallerid_hook_failures", default=None
)
"""The observer hook exceptions of the screening running in this context (and its tasks)."""
_FIRST_POLL: Final = 0.01
_LAST_POLL: Final = 0.25
_TAKEN_OVER: Final = (
    "An earlier screening of this lead by another worker did not finish (its claim expired):"
    " it may have reached the vendors and been billed."
)


def _fresh(record: ScreeningRecord, campaign: CampaignSettings | None) -> bool:
    """Whether *record* still stands under the campaign's ``max_age``."""
    if campaign is None or campaign.max_age is None:
        return True
    age = (datetime.now(UTC) - record.finished_at).total_seconds()
    return age <= campaign.max_age


def _phone(lead: Lead, campaign: CampaignSettings | None) -> str | None:
    """The lead's phone in E.164, read by the first mapping that finds one."""
    mappings = [] if campaign is None else [s.mapping for s in campaign.integrations if s.mapping]
    for mapping in [*mappings, DEFAULT_FIELD_MAPPING]:
        phone = mapping.phone_e164(lead)
        if phone is not None:
            return phone
    return None


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
    for name, value in (("lead_id", lead_id), ("campaign_id", campaign_id)):
        if "\x00" in value or len(value) > _MAX_ID:
            # No database keeps a NUL in a key, and an index entry has a size limit.
            raise InvalidLeadError(
                f"the lead's {name} must be at most {_MAX_ID} characters, without NUL"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidLeadError(
                f"the lead's {name} is not valid text (a lone surrogate)"
            ) from None


class Screener:
    """The synchronous face of :class:`AsyncScreener`, with the same semantics.

    It runs an event loop in a private thread, so it works from plain threads and from a
    thread whose own event loop is running (a sync view inside an async web framework), and
    keeps integrations' connection pools alive across leads. Close it with :meth:`close` (or
    ``with``).

    Its loop thread does not survive ``fork()``: in a forked child of the process that built
    it, :meth:`screen` raises :class:`~purecallerid.ForkedError` at once instead of waiting on
    a loop that no thread runs. Build one per worker process, after the fork (see
    *Synchronous hosts* in the guide "Embedding in a host").

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
        observer: Observer | EventObserver | None = None,
        state: StateBackend | None = None,
    ) -> None:
        """Create the screener and start its event loop thread."""
        self._pid = os.getpid()
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

    def load(self, lead_id: str, campaign_id: str) -> ScreeningRecord | None:
        """The latest record of a lead; see :meth:`AsyncScreener.load` (no asyncio needed)."""
        return self._run(self._async.load(lead_id, campaign_id))

    def history(self, lead_id: str, campaign_id: str) -> list[ScreeningRecord]:
        """Every version of a lead's record; see :meth:`AsyncScreener.history`."""
        return self._run(self._async.history(lead_id, campaign_id))

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        if forked(self._pid):
            # First: in a fork the loop thread is gone and the lock may be held for ever.
            coroutine.close()
            check_process(self._pid, type(self).__name__)
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
        screener is shut. In a forked child of the process that built it, this does nothing
        (the loop thread is not there to stop; the pools are the parent's).
        """
        if forked(self._pid):
            return
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
