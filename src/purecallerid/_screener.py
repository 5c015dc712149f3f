"""The orchestrator: screen a lead with a campaign's integrations, decide, record, return.

The flow for one lead::

    lead -> settings -> plan (stages by sort) -> per integration: map -> call -> answer
         -> rules -> action ... -> decision (most severe) -> record saved -> returned

Stages run in ascending sort order; the integrations of one stage run concurrently. A reject
in a stage skips every later stage (unless the rejecting integration says otherwise). Every
failure of an integration becomes part of the record, with the integration's failure policy
deciding its action; only host bugs propagate.
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

import attrs

from ._errors import (
    APIError,
    ConfigurationError,
    ErrorClass,
    InvalidLeadError,
    PureCallerIDError,
    SettingsError,
    StorageError,
    error_class,
)
from ._guards.guards import GRACE, Guarded, Guards
from ._guards.memory import InMemoryStateBackend
from ._models import Lead
from ._records import IntegrationRecord, IntegrationStatus, ScreeningRecord
from ._rules.model import Action
from .typing import IntegrationAnswer

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable

    from ._settings import CampaignSettings, IntegrationSettings
    from .typing import (
        Integration,
        Observer,
        ResultStore,
        SettingsProvider,
        StateBackend,
    )

__all__ = ["AsyncScreener", "InvalidLeadError", "Screener", "error_class"]

logger: Final = logging.getLogger("purecallerid")

_T = TypeVar("_T")


def _now() -> datetime:
    return datetime.now(UTC)


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
        started_at = _now()
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
        records = await self._run_plan(lead, campaign, started)
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

    async def _run_plan(
        self, lead: Lead, campaign: CampaignSettings, started: float
    ) -> list[IntegrationRecord]:
        end = started + campaign.deadline
        done: dict[str, IntegrationRecord] = {}
        stopped_by: str | None = None
        for _sort, stage in campaign.stages():
            if stopped_by is not None:
                for settings in stage:
                    done[settings.id] = self._emit(
                        lead,
                        IntegrationRecord(
                            integration_id=settings.id,
                            kind=settings.kind,
                            sort=settings.sort,
                            status=IntegrationStatus.SKIPPED,
                            skip_reason=f"not called: {stopped_by} rejected the lead",
                        ),
                    )
                continue
            for record in await self._run_stage(lead, stage, end):
                done[record.integration_id] = record
            for settings in stage:
                record = done[settings.id]
                if record.action is Action.REJECT and settings.skip_remaining_on_reject:
                    stopped_by = stopped_by or settings.id
        ordered: list[IntegrationRecord] = []
        for settings in sorted(campaign.integrations, key=lambda s: s.sort):
            if settings.enabled:
                ordered.append(done[settings.id])
            else:
                ordered.append(
                    self._emit(
                        lead,
                        IntegrationRecord(
                            integration_id=settings.id,
                            kind=settings.kind,
                            sort=settings.sort,
                            status=IntegrationStatus.SKIPPED,
                            skip_reason="disabled for this campaign",
                        ),
                    )
                )
        return ordered

    async def _run_stage(
        self, lead: Lead, stage: tuple[IntegrationSettings, ...], end: float
    ) -> list[IntegrationRecord]:
        if len(stage) == 1:
            return [await self._run_one(lead, stage[0], end)]
        tasks = {
            asyncio.ensure_future(self._run_one(lead, settings, end)): settings
            for settings in stage
        }
        results: dict[str, IntegrationRecord] = {}
        pending = set(tasks)
        cancelled_by: str | None = None
        try:
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    settings = tasks[task]
                    if task.cancelled():
                        continue
                    record = task.result()  # a host bug re-raises here
                    results[settings.id] = record
                    if (
                        record.action is Action.REJECT
                        and settings.cancel_siblings_on_reject
                        and cancelled_by is None
                        and pending
                    ):
                        cancelled_by = settings.id
                        for other in pending:
                            other.cancel()
        finally:
            for task in pending:
                task.cancel()
        for task, settings in tasks.items():
            if settings.id not in results:
                results[settings.id] = self._emit(
                    lead,
                    IntegrationRecord(
                        integration_id=settings.id,
                        kind=settings.kind,
                        sort=settings.sort,
                        status=IntegrationStatus.CANCELLED,
                        skip_reason=f"cancelled: {cancelled_by} rejected the lead",
                        # The call may have reached the vendor before it was cancelled.
                        outcome_unknown=True,
                    ),
                )
                del task
        return [results[s.id] for s in stage]

    async def _run_one(
        self, lead: Lead, settings: IntegrationSettings, end: float
    ) -> IntegrationRecord:
        integration = self._kinds[settings.kind]
        started_at = _now()
        started = self._clock()
        budget = min(settings.timeout, end - started)
        outcome = Guarded()
        if budget <= 0:
            outcome.failure = TimeoutError(
                "the campaign's deadline ran out before this integration"
            )
        elif settings.guarded:
            outcome = await self._guarded().call(integration, lead, settings, budget)
        else:
            try:
                # The guard fires a little after the integration's own deadline, so that an
                # integration honouring it (the PureCallerID client) reports its own timeout,
                # with the attempts made as evidence; the guard is for those that do not.
                async with asyncio.timeout(budget + GRACE):
                    outcome.answer = await integration.screen(lead, settings, deadline=budget)
            except TimeoutError as exc:
                outcome.failure = exc
            except PureCallerIDError as exc:
                outcome.failure = exc
        duration = self._clock() - started
        if outcome.failure is None and not isinstance(outcome.answer, IntegrationAnswer):
            # A host bug: say what was returned rather than fail later on an attribute.
            raise TypeError(
                f"integration {settings.kind!r} returned {type(outcome.answer).__name__}, "
                "not an IntegrationAnswer"
            )
        record = _integration_record(lead, settings, outcome.answer, outcome.failure, budget)
        record = attrs.evolve(record, started_at=started_at, duration=duration)
        if outcome.cached:
            # Reused: the vendor's answer is the evidence; the request and the attempts were
            # another lead's (its name, its address), and none was made for this one.
            record = attrs.evolve(
                record, cached=True, fetched_at=outcome.fetched_at, request=None, attempts=()
            )
        return self._emit(lead, record)

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
        decision = (
            Action.most_severe(r.action for r in records if r.action is not None)
            if forced is None
            else forced
        )
        decider = next((r for r in records if r.action is decision), None)
        reasons: list[str] = []
        if decision is not Action.ACCEPT:
            for r in records:
                if r.action is decision:
                    reasons.extend(r.reasons)
            if note is not None:
                reasons.append(note)
        flags = [flag for r in records for flag in r.flags]
        return ScreeningRecord(
            lead_id=lead.lead_id,
            campaign_id=lead.campaign_id,
            decision=decision,
            reasons=tuple(dict.fromkeys(reasons)),
            flags=tuple(dict.fromkeys(flags)),
            decided_by=None
            if decider is None or (decision is Action.ACCEPT and decider.decided_by is None)
            else f"{decider.integration_id}:{decider.decided_by}",
            integrations=records,
            note=note,
            started_at=started_at,
            finished_at=_now(),
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


def _integration_record(
    lead: Lead,
    settings: IntegrationSettings,
    answer: IntegrationAnswer | None,
    failure: BaseException | None,
    budget: float,
) -> IntegrationRecord:
    """Judge an integration's answer (or failure) with its rules and failure policy."""
    verdict = settings.rules.evaluate(None if answer is None else answer.answer, lead.fields)
    base: dict[str, Any] = {
        "integration_id": settings.id,
        "kind": settings.kind,
        "sort": settings.sort,
        "rule_trace": tuple(verdict.trace_dicts()),
    }
    if answer is not None:
        return IntegrationRecord(
            **base,
            status=IntegrationStatus.COMPLETED,
            action=verdict.action,
            reasons=verdict.reasons,
            flags=verdict.flags,
            decided_by=verdict.decided_by,
            answer=answer.answer,
            request=answer.request,
            raw=answer.raw,
            attempts=answer.attempts,
        )
    assert failure is not None  # noqa: S101 - one of the two is always set
    name = error_class(failure)
    if isinstance(failure, PureCallerIDError):
        # One line: multi-line messages (a MappingError lists its problems) are folded.
        message = " ".join(str(failure).split()) or type(failure).__name__
        outcome_unknown = failure.outcome_unknown
    else:  # the screener's own timeout: the call was under way unless no time was left
        message = str(failure) or f"no answer within {budget:.3g} s"
        if budget <= 0:
            name = ErrorClass.DEADLINE_EXCEEDED
        outcome_unknown = budget > 0
    exchange = failure.exchange if isinstance(failure, APIError) else None
    # Rules may act on an errored integration too (a rule whose unknown means "match").
    action = Action.most_severe([settings.failure_policy, verdict.action])
    by_rule = (
        verdict.action is action
        and verdict.decided_by is not None
        and action is not settings.failure_policy
    )
    reason = f"{settings.id} {name}: {message}"
    logger.info("lead %s: %s failed (%s)", lead.lead_id, settings.id, name)
    return IntegrationRecord(
        **base,
        status=IntegrationStatus.ERROR,
        action=action,
        reasons=verdict.reasons if by_rule else (reason,),
        flags=verdict.flags,
        decided_by=verdict.decided_by if by_rule else "failure_policy",
        error_class=name,
        error_message=message,
        outcome_unknown=outcome_unknown,
        request=None if exchange is None else exchange.request,
        raw=getattr(failure, "body", None),
        attempts=() if exchange is None else exchange.attempts,
    )


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
