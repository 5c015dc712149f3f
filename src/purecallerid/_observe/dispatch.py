"""The screener's hooks: how its observers are told what happens, at no cost without them.

The screener, the plan and the guards call the hooks of one :class:`Hooks` object at the
places where something happens. Without an event observer that object is :data:`NO_HOOKS`,
whose hooks return at once (no event is built). With one, a :class:`Dispatcher` builds each
event once and tells every observer in turn; an observer that raises does not stop the others,
and its exception is raised to the caller of ``screen()`` once the record is saved (a host bug
surfaces, as the :class:`~purecallerid.typing.Observer` hooks' do).
"""

from __future__ import annotations

import contextvars
import logging
import time
import warnings
from typing import TYPE_CHECKING, Any, Final

from ..typing import EventObserver
from .events import (
    BreakerState,
    GuardEvent,
    IntegrationEnded,
    IntegrationStarted,
    QuotaUsed,
    ScreeningEnded,
    ScreeningStarted,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping, Sequence

    from .._models import Lead
    from .._records import IntegrationRecord, ScreeningRecord
    from .._settings import IntegrationSettings
    from ..typing import Observer
    from .events import BreakerStateName, ObserverEvent

__all__ = ["NO_HOOKS", "CompositeObserver", "Dispatcher", "Hooks", "observing"]

logger: Final = logging.getLogger("purecallerid.screener")


class Hooks:
    """The hooks with no event observer: each returns at once and builds nothing."""

    __slots__ = ()

    def screening(
        self, lead: Lead, work: Coroutine[Any, Any, ScreeningRecord]
    ) -> Coroutine[Any, Any, ScreeningRecord]:
        """*work*, the screening of *lead*, wrapped to tell its start and end (here: as is)."""
        del lead
        return work

    def saved(self, record: ScreeningRecord) -> None:
        """The screening's record was saved: the lead was screened, not answered from a record."""

    def integration_started(self, lead: Lead, settings: IntegrationSettings, budget: float) -> None:
        """An integration is about to be called for *lead* with *budget* seconds."""

    def integration_ended(self, lead: Lead, record: IntegrationRecord) -> None:
        """An integration's record is made (answered, failed, skipped or cancelled)."""

    def guard_event(
        self, name: str, settings: IntegrationSettings, lead_id: str, details: Mapping[str, Any]
    ) -> None:
        """A guard's event (``quota_warning``...), with its figures."""

    def quota_used(  # noqa: PLR0917 - mirrors QuotaUsed
        self, settings: IntegrationSettings, lead_id: str, key: str, day: str, used: int, limit: int
    ) -> None:
        """A quota reservation's count (granted or refused)."""

    def breaker_state(
        self, settings: IntegrationSettings, lead_id: str, key: str, state: BreakerStateName
    ) -> None:
        """The state a breaker was found in, or changed to, around a call."""


NO_HOOKS: Final = Hooks()
"""The hooks of a screener without event observers."""


class _Screening:
    """What the dispatcher keeps while one lead's ``screen()`` runs (in a context variable)."""

    __slots__ = ("failures", "saved")

    def __init__(self) -> None:
        self.saved: ScreeningRecord | None = None
        self.failures: list[Exception] = []


_CURRENT: Final[contextvars.ContextVar[_Screening | None]] = contextvars.ContextVar(
    "purecallerid_observed_screening", default=None
)
"""The screening running in this context (its integrations' tasks inherit it)."""


class Dispatcher(Hooks):
    """Tells every event observer each event, in order.

    Args:
        observers: The event observers.
        on_event: The deprecated ``on_event(name, details)`` methods of observers that have
            no ``observe``: told the guards' events as before.
        clock: Monotonic seconds, for the screening's duration.
    """

    __slots__ = ("_clock", "_observers", "_on_event")

    def __init__(
        self,
        observers: Sequence[EventObserver],
        on_event: Sequence[Callable[[str, Mapping[str, Any]], None]] = (),
        *,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Keep the observers; see the class docstring."""
        self._observers = tuple(observers)
        self._on_event = tuple(on_event)
        self._clock = clock

    def screening(
        self, lead: Lead, work: Coroutine[Any, Any, ScreeningRecord]
    ) -> Coroutine[Any, Any, ScreeningRecord]:
        """*work* wrapped: its start told first, its end (record or exception) told last."""
        return self._screening(lead, work)

    async def _screening(
        self, lead: Lead, work: Coroutine[Any, Any, ScreeningRecord]
    ) -> ScreeningRecord:
        state = _Screening()
        token = _CURRENT.set(state)
        started = self._clock()
        try:
            self._send(ScreeningStarted(lead=lead))
            try:
                record = await work
            except BaseException as exc:
                # The screening's own exception is what the caller gets; the end is still
                # told, so that a span is closed and the failure counted.
                self._send(
                    ScreeningEnded(
                        lead=lead,
                        record=state.saved,
                        reused=False,
                        duration=self._clock() - started,
                        error=exc,
                    )
                )
                raise
            reused = state.saved is None
            ended = ScreeningEnded(
                lead=lead, record=record, reused=reused, duration=self._clock() - started
            )
            self._send(ended)
        finally:
            _CURRENT.reset(token)
        if state.failures:
            raise state.failures[0]
        return record

    def saved(self, record: ScreeningRecord) -> None:
        """Note that the running screening saved *record*."""
        state = _CURRENT.get()
        if state is not None:
            state.saved = record

    def integration_started(self, lead: Lead, settings: IntegrationSettings, budget: float) -> None:
        """Tell :class:`IntegrationStarted`."""
        if not self._observers:
            return  # only deprecated on_event methods: they hear guard events alone
        self._send(
            IntegrationStarted(
                lead=lead,
                integration_id=settings.id,
                kind=settings.kind,
                sort=settings.sort,
                budget=budget,
            )
        )

    def integration_ended(self, lead: Lead, record: IntegrationRecord) -> None:
        """Tell :class:`IntegrationEnded`."""
        if self._observers:
            self._send(IntegrationEnded(lead=lead, record=record))

    def guard_event(
        self, name: str, settings: IntegrationSettings, lead_id: str, details: Mapping[str, Any]
    ) -> None:
        """Tell :class:`GuardEvent`, and the deprecated ``on_event`` methods."""
        if self._observers:
            self._send(
                GuardEvent(
                    name=name,
                    lead_id=lead_id,
                    integration_id=settings.id,
                    kind=settings.kind,
                    details=details,
                )
            )
        if self._on_event:
            self._legacy(name, {"integration_id": settings.id, "kind": settings.kind, **details})

    def quota_used(  # noqa: PLR0917 - mirrors QuotaUsed
        self, settings: IntegrationSettings, lead_id: str, key: str, day: str, used: int, limit: int
    ) -> None:
        """Tell :class:`QuotaUsed`."""
        if self._observers:
            self._send(
                QuotaUsed(
                    lead_id=lead_id,
                    integration_id=settings.id,
                    kind=settings.kind,
                    key=key,
                    day=day,
                    used=used,
                    limit=limit,
                )
            )

    def breaker_state(
        self, settings: IntegrationSettings, lead_id: str, key: str, state: BreakerStateName
    ) -> None:
        """Tell :class:`BreakerState`."""
        if self._observers:
            self._send(
                BreakerState(
                    lead_id=lead_id,
                    integration_id=settings.id,
                    kind=settings.kind,
                    key=key,
                    state=state,
                )
            )

    def _send(self, event: ObserverEvent) -> None:
        # The screening's own events are built for nothing when only deprecated on_event
        # methods listen; they are few (two per lead), so they are not spared.
        for observer in self._observers:
            try:
                observer.observe(event)
            except Exception as exc:  # noqa: BLE001 - held, raised once the record is saved
                _failed(type(event).__name__, exc)

    def _legacy(self, name: str, details: Mapping[str, Any]) -> None:
        for on_event in self._on_event:
            try:
                on_event(name, details)
            except Exception as exc:  # noqa: BLE001 - held, raised once the record is saved
                _failed(name, exc)


def _failed(event: str, exc: Exception) -> None:
    """Log an observer's exception and hold it for the caller of ``screen()``.

    A host bug must not cost the lead its record, nor the other observers their event.
    """
    logger.error("an observer failed on %s", event, exc_info=exc, extra={"event": event})
    state = _CURRENT.get()
    if state is not None:
        state.failures.append(exc)


class CompositeObserver:
    """Several observers as one: each hook and event goes to every member that takes it.

    Members are :class:`~purecallerid.typing.Observer` objects (``on_integration_result``,
    ``on_decision``), :class:`~purecallerid.typing.EventObserver` objects (``observe``), or
    both: logs, OpenTelemetry and Prometheus at once, say. Pass it as a screener's
    ``observer``. Every member hears every hook even when one raises; the first exception is
    raised afterwards (by the screener: once the lead's record is saved).

    Args:
        *observers: The members, told in this order.
    """

    def __init__(self, *observers: Observer | EventObserver) -> None:
        """Keep the members; see the class docstring."""
        self.observers: tuple[Observer | EventObserver, ...] = observers
        # Sorted once: a protocol check per event would cost more than most observers do.
        self._observe = [m.observe for m in observers if isinstance(m, EventObserver)]
        hooks: list[Any] = [m for m in observers if _is_hooks(m)]
        self._results = [m.on_integration_result for m in hooks]
        self._decisions = [m.on_decision for m in hooks]

    def observe(self, event: ObserverEvent) -> None:
        """Tell *event* to every member that observes events."""
        _each(self._observe, event)

    def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
        """Call every member's ``on_integration_result``."""
        _each(self._results, lead, record)

    def on_decision(self, record: ScreeningRecord) -> None:
        """Call every member's ``on_decision``."""
        _each(self._decisions, record)


def _each(hooks: list[Callable[..., None]], *args: Any) -> None:
    first: Exception | None = None
    for hook in hooks:
        try:
            hook(*args)
        except Exception as exc:  # noqa: BLE001 - raised below, once every member was told
            first = first or exc
    if first is not None:
        raise first


def _is_hooks(observer: object) -> bool:
    """Whether *observer* has the :class:`~purecallerid.typing.Observer` hooks."""
    return callable(getattr(observer, "on_integration_result", None)) and callable(
        getattr(observer, "on_decision", None)
    )


def observing(
    observer: Observer | EventObserver | None, *, stacklevel: int = 3
) -> tuple[Observer | None, Hooks]:
    """A screener's observer split into its two kinds of hooks.

    Returns the :class:`~purecallerid.typing.Observer` to call ``on_integration_result`` and
    ``on_decision`` on (or ``None``), and the :class:`Hooks` that tell the event observers
    among it (a :class:`CompositeObserver`'s members each on their own).

    An observer with a legacy ``on_event(name, details)`` and no ``observe`` still hears the
    guards' events, with a :class:`DeprecationWarning`.
    """
    if observer is None:
        return None, NO_HOOKS
    members = observer.observers if isinstance(observer, CompositeObserver) else (observer,)
    observers: list[EventObserver] = []
    legacy: list[Callable[[str, Mapping[str, Any]], None]] = []
    for member in members:
        if isinstance(member, EventObserver):
            observers.append(member)
        elif callable(on_event := getattr(member, "on_event", None)):
            warnings.warn(
                f"{type(member).__name__}.on_event(name, details) is deprecated: implement "
                "purecallerid.typing.EventObserver (observe(event)) and handle GuardEvent",
                DeprecationWarning,
                stacklevel=stacklevel,
            )
            legacy.append(on_event)
    hooks = _hooks_of(observer)
    if not observers and not legacy:
        return hooks, NO_HOOKS
    return hooks, Dispatcher(observers, legacy)


def _hooks_of(observer: Observer | EventObserver) -> Observer | None:
    if isinstance(observer, CompositeObserver):
        return observer if any(_is_hooks(m) for m in observer.observers) else None
    return observer if _is_hooks(observer) else None  # type: ignore[return-value]
