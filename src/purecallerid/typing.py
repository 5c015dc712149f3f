"""The protocols a host implements to embed the library, and those integrations implement.

The host owns its settings UI and its database; the library owns the flow. The host plugs
its pieces in at the composition root, where it builds a :class:`purecallerid.AsyncScreener`
or :class:`purecallerid.Screener`:

- a :class:`SettingsProvider` (campaign id -> :class:`purecallerid.CampaignSettings`),
- a :class:`ResultStore` (save and load :class:`purecallerid.ScreeningRecord`),
- the :class:`Integration` implementations its campaigns use, by kind,
- optionally an :class:`Observer` or an :class:`EventObserver` for metrics and traces,
- optionally a :class:`StateBackend` where the guards (quota, rate limit, circuit breaker,
  cache) keep state shared by its workers.

Reference implementations: :class:`purecallerid.InMemorySettings`,
:class:`purecallerid.FileSettings`, :class:`purecallerid.InMemoryResultStore`,
:class:`purecallerid.SQLiteResultStore`, :class:`purecallerid.PureCallerIDIntegration`,
:class:`purecallerid.SuppressionIntegration`, :class:`purecallerid.CallingWindowIntegration`,
:class:`purecallerid.InMemoryStateBackend`, :class:`purecallerid.SQLiteStateBackend`,
:class:`purecallerid.RedisStateBackend`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from attrs import field, frozen

from ._models import Attempt, RequestRecord

if TYPE_CHECKING:
    from ._models import Lead
    from ._observe.events import ObserverEvent
    from ._records import IntegrationRecord, ScreeningRecord
    from ._rules.fields import FieldRegistry
    from ._settings import CampaignSettings, IntegrationSettings

__all__ = [
    "BreakerAdmission",
    "BreakerChange",
    "BreakerOutcome",
    "Claim",
    "EventObserver",
    "FieldsFromSettings",
    "Integration",
    "IntegrationAnswer",
    "Observer",
    "QuotaReservation",
    "RecommendsRules",
    "RecordHistory",
    "RecordQuery",
    "ResultStore",
    "SettingsProvider",
    "StateBackend",
]


def _as_dict(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class IntegrationAnswer:
    """What an integration's vendor (or list) answered, before any rule is applied.

    Attributes:
        answer: The facts the rules read: field name to value (``status``, ``reason``,
            ``extra``...), as declared in the integration's field registry.
        raw: The raw answer as received (no secrets), for the record.
        request: The request sent (token masked), for the record.
        attempts: The HTTP attempts made, for the record.
        cacheable: Whether the answer is definitive, so that a result cache (when the
            integration has one) may keep it. ``False`` for an answer such as "unknown, the
            vendor itself timed out", which is worth asking again.
    """

    answer: Mapping[str, Any] = field(converter=_as_dict)
    raw: str | None = None
    request: RequestRecord | None = None
    attempts: tuple[Attempt, ...] = ()
    cacheable: bool = True


@runtime_checkable
class Integration(Protocol):
    """One kind of check a campaign can switch on (PureCallerID, a suppression list...).

    Implemented by the library's integrations and by hosts adding their own; see "writing an
    integration" in the docs. The screener calls :meth:`check_settings` when it first sees a
    campaign's settings and :meth:`screen` once per lead, concurrently for integrations that
    share a sort number. Nothing in the screener knows what a kind does.
    """

    @property
    def kind(self) -> str:
        """The kind name that campaign settings use to select this integration."""
        ...

    @property
    def fields(self) -> FieldRegistry:
        """The answer fields rules may read, with their types and known values."""
        ...

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Return every problem with *settings* (missing credentials...), empty when fine.

        Called at load, so that a campaign enabling this integration without what it needs
        is a settings error, not a failed lead.
        """
        ...

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        """Screen *lead*; *deadline* is the seconds this call may take, retries included.

        Raise a :class:`purecallerid.PureCallerIDError` (``MappingError``, ``APIError``...)
        for a failure: the screener records it and applies the failure policy. Any other
        exception is a bug and propagates to the host.
        """
        ...

    async def aclose(self) -> None:
        """Release connection pools and files. Called when the screener closes."""
        ...


@runtime_checkable
class FieldsFromSettings(Protocol):
    """An integration whose answer fields depend on its settings (``kind = "http"``, presets).

    The loader reads an integration's rules against :meth:`fields_for` when its kind has it,
    and against :attr:`Integration.fields` otherwise. A host building settings in code
    compiles their rules the same way: ``RuleSet.from_text(text, kind.fields_for(settings))``.
    """

    def fields_for(self, settings: IntegrationSettings) -> FieldRegistry:
        """The fields rules may read with *settings*.

        Raises:
            ConfigurationError: The settings that declare the fields have problems.
        """
        ...


@runtime_checkable
class RecommendsRules(Protocol):
    """An integration with rules of its own for campaigns that set none (a vendor preset).

    The loader compiles :meth:`recommended_rules` for an integration whose settings have no
    ``rules`` key (``rules = ""`` still means none). Settings built in code pass rules
    themselves.
    """

    def recommended_rules(self, settings: IntegrationSettings) -> str:
        """The rules, in the text form, for *settings* that set none (empty: none)."""
        ...


@runtime_checkable
class SettingsProvider(Protocol):
    """Gives the screening settings of a campaign. Implemented by the host.

    Called once per lead, before any integration runs: cache what is expensive to load. Return
    ``None`` for a campaign it does not know; raise :class:`purecallerid.SettingsError` for
    settings that exist but are broken (the settings classes raise it for values they refuse):
    the lead is then recorded ``qa`` with the problems in its note. Return the current version,
    so that an admin's edit decides the next lead; when an edit is broken, keep returning the
    last good version (as :class:`purecallerid.FileSettings` does): the screener checks each
    version once, by its ``settings_hash`` (rules given as data against the kind's fields, with
    :func:`purecallerid.check_campaign`), and records that hash with the decision.
    """

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        """Return the settings of *campaign_id*, or ``None`` if there are none."""
        ...


@frozen(kw_only=True)
class Claim:
    """What :meth:`ResultStore.claim` answers.

    Attributes:
        granted: Whether the caller now owns the screening of the lead (and may call vendors).
        latest_version: The version of the lead's latest record (0: none). Greater than the
            version the caller had seen means another screening finished: load its record.
        taken_over: Granted over another owner's expired lease: that owner may have called
            the vendors before it died, so the new screening records ``outcome_unknown``.
        holder: When refused by a live claim: the owner holding it.
        expires_in: When refused by a live claim: seconds until its lease runs out.
    """

    granted: bool
    latest_version: int = 0
    taken_over: bool = False
    holder: str | None = None
    expires_in: float | None = None


@runtime_checkable
class ResultStore(Protocol):
    """Keeps screening records, append-only, keyed by (campaign id, lead id).

    Implemented by the host (for its own database) or the library
    (:class:`purecallerid.InMemoryResultStore`, :class:`purecallerid.SQLiteResultStore`,
    :class:`purecallerid.PostgresResultStore`). The screener, for each lead:

    1. :meth:`load` the latest record; return it when there is one (and it is fresh);
    2. :meth:`claim` the screening, atomically: exactly one owner at a time, anywhere; a
       refused caller waits for the owner's record (polling :meth:`load`), or takes over
       once the owner's lease has run out;
    3. screen, then :meth:`save` the record, which appends a new version and ends the claim
       in one transaction. A screening that ends without a record (a host bug, a
       cancellation) keeps its claim: a call may have left, so the lead goes to the next
       screening only as a takeover. (The library's stores also offer ``release`` for a
       host's own tools; the screener never needs it.)

    Nothing is ever overwritten: a forced or expired re-screening appends a version.
    Every method must be atomic across every process and machine sharing the store. Raise any
    exception on failure: the screener turns it into a :class:`purecallerid.StorageError`.
    """

    async def load(self, campaign_id: str, lead_id: str) -> ScreeningRecord | None:
        """The latest record of the lead (its ``version`` set), or ``None``."""
        ...

    async def claim(
        self, campaign_id: str, lead_id: str, *, owner: str, lease: float, seen_version: int
    ) -> Claim:
        """Take the screening of the lead for *owner*, for *lease* seconds, if it is free.

        Granted when the lead's latest record version is still *seen_version* and no other
        owner holds a claim whose lease is running (an expired one is taken over, and the
        claim says so). Otherwise refused, saying why (a newer record, or the live holder).
        """
        ...

    async def save(self, record: ScreeningRecord, *, owner: str | None = None) -> ScreeningRecord:
        """Append *record* as the lead's next version, ending *owner*'s claim, atomically.

        Returns the record as stored, its ``version`` set. When another owner holds the
        claim (it took the lead over from *owner*, whose lease had run out), the record is
        still appended, with ``outcome_unknown`` set and a note: the lead was screened twice.
        """
        ...


def _utc(value: datetime | None) -> datetime | None:
    # Every store reads a naive time the same way: as UTC (not each its own local time).
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@frozen(kw_only=True)
class RecordQuery:
    """Which records :meth:`RecordHistory.find` returns (every given filter applies).

    Attributes:
        phone: The lead's phone in E.164 (``+12125550102``).
        campaign_id: The host's campaign.
        decision: ``accept``, ``flag``, ``qa`` or ``reject``.
        since: Records finished at or after this time (a time without a zone is UTC).
        until: Records finished before this time (a time without a zone is UTC).
        latest_only: Only the latest version of each lead (the default), or every version.
        limit: At most this many records, oldest first; ``None`` for all.
    """

    phone: str | None = None
    campaign_id: str | None = None
    decision: str | None = None
    since: datetime | None = field(default=None, converter=_utc)
    until: datetime | None = field(default=None, converter=_utc)
    latest_only: bool = True
    limit: int | None = None


@runtime_checkable
class RecordHistory(Protocol):
    """Reading records back: a lead's every version, and records found by phone, time, decision.

    Implemented by the library's stores; used by ``purecallerid records``. Optional for a
    host's own store (the screener needs only :class:`ResultStore`).
    """

    async def history(self, campaign_id: str, lead_id: str) -> list[ScreeningRecord]:
        """Every version of the lead's record, oldest first."""
        ...

    async def find(self, query: RecordQuery) -> list[ScreeningRecord]:
        """The records *query* selects, oldest first (by finish time, then version)."""
        ...


class Observer(Protocol):
    """Hooks for the host's metrics. They are called synchronously, in the event loop.

    Implement both methods (either may do nothing); keep them fast, since they run on the
    lead's path. For the start and end of each screening and integration call and for the
    guards' events, implement :class:`EventObserver` as well (or instead).

    Deprecated: an ``on_event(name: str, details: Mapping[str, Any]) -> None`` method, looked
    up with ``getattr``, still hears the guards' events, with a :class:`DeprecationWarning`
    when the screener is built; :class:`EventObserver` tells them as
    :class:`~purecallerid.GuardEvent` (same names and details).

    An exception raised here propagates to the caller of ``screen``, once the record has been
    saved (it is a host bug).
    """

    def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
        """Called as each integration finishes (or is skipped), before the decision."""
        ...

    def on_decision(self, record: ScreeningRecord) -> None:
        """Called once per screening, after the record is saved."""
        ...


@runtime_checkable
class EventObserver(Protocol):
    """Told each event of a screening, typed: what logs, traces and metrics are built from.

    Pass one as a screener's ``observer`` (several at once in a
    :class:`~purecallerid.CompositeObserver`). The library's own are
    :class:`purecallerid.otel.OpenTelemetryObserver` and
    :class:`purecallerid.prometheus.PrometheusObserver`. For one lead, in order:

    - :class:`~purecallerid.ScreeningStarted`, in the task that screens the lead;
    - per integration called: :class:`~purecallerid.IntegrationStarted`, in the task that
      calls it, then the guards' :class:`~purecallerid.BreakerState`,
      :class:`~purecallerid.QuotaUsed` and :class:`~purecallerid.GuardEvent` when it has
      guards; every integration, called or not, ends with an
      :class:`~purecallerid.IntegrationEnded` holding its record;
    - :class:`~purecallerid.ScreeningEnded`, with the record (or the exception), last.

    A lead answered from its existing record has only the first and the last
    (``reused``). Nothing is built when no event observer is configured.

    :meth:`observe` is called synchronously, in the event loop, on the lead's path: keep it
    fast and non-blocking (hand exports to a background thread, as the OpenTelemetry SDK's
    batch processor does). An exception raised in it is logged, does not stop the other
    observers, and is raised to the caller of ``screen`` once the record is saved.
    """

    def observe(self, event: ObserverEvent) -> None:
        """Take one event (match on its class; ignore those of no interest)."""
        ...


@frozen(kw_only=True)
class QuotaReservation:
    """What :meth:`StateBackend.reserve_quota` answers.

    Attributes:
        granted: Whether a call was reserved (and counted).
        used: The calls counted for the period after this reservation (the limit when
            refused).
    """

    granted: bool
    used: int


@frozen(kw_only=True)
class BreakerAdmission:
    """What :meth:`StateBackend.breaker_admit` answers.

    Attributes:
        decision: ``call`` (closed: go), ``probe`` (the cool-down is over and this caller is
            the one probe) or ``reject`` (open, or another caller is probing).
        retry_in: For a reject: seconds until a probe may be tried (0 while a probe is out).
    """

    decision: Literal["call", "probe", "reject"]
    retry_in: float = 0.0


BreakerOutcome = Literal["success", "failure", "neutral"]
"""How a call ended, for the breaker: the endpoint answered, failed (timeout, 5xx,
connection error), or the call said nothing about the endpoint (it was never sent)."""

BreakerChange = Literal["opened", "reopened", "closed"]
"""A change of a breaker's state: opened after consecutive failures, reopened by a failed
probe, closed by a successful one."""


@runtime_checkable
class StateBackend(Protocol):
    """Where the guards keep their counters: one process, one host, or many hosts.

    Implemented by the library (:class:`purecallerid.InMemoryStateBackend`,
    :class:`purecallerid.SQLiteStateBackend`, :class:`purecallerid.RedisStateBackend`) or by a
    host for a store of its own. Passed once to the screener (``AsyncScreener(state=...)``),
    which calls it around each call of an integration that has guards: before the call
    :meth:`cache_get`, :meth:`breaker_admit`, :meth:`reserve_quota`, :meth:`acquire_rate`;
    after it :meth:`release_quota` (a call that never left), :meth:`breaker_record`,
    :meth:`slow_down` (a vendor 429) and :meth:`cache_put`.

    Every method must be atomic across every process sharing the backend: two workers
    reserving the last unit of a quota at once must not both get it. Keys are opaque texts
    built by the screener (hashed: never a token, never a phone). Time is the backend's own
    clock (a shared one, for a backend shared by hosts), and turns, cool-downs, leases and
    cache TTLs are intervals on it: a step back of the wall clock must not hold calls up for
    the length of the step. Use a monotonic clock, or store with each state when it was
    written and undo a step back as the library's Redis backend does.

    Raise any exception on failure: before the call, the screener turns it into a
    :class:`purecallerid.StateUnavailableError` (class ``state_unavailable``) and the
    integration's failure policy decides the lead; after the call it is logged and the answer
    kept.
    """

    async def reserve_quota(
        self, key: str, *, period: str, limit: int, expires_at: float
    ) -> QuotaReservation:
        """Count one call for *key* in *period* (a vendor day) unless *limit* is reached.

        *expires_at* (Unix time) is when the period's count may be forgotten.
        """
        ...

    async def release_quota(self, key: str, *, period: str) -> None:
        """Give back one call counted for *key* in *period* (it never left)."""
        ...

    async def acquire_rate(
        self, key: str, *, rate: float, burst: int, max_wait: float
    ) -> float | None:
        """Reserve the next turn of the limiter *key*: the seconds to wait for it.

        At most *burst* turns at once, then *rate* per second. Return ``None``, reserving
        nothing, when the turn is more than *max_wait* seconds away.
        """
        ...

    async def slow_down(self, key: str, *, rate: float, burst: int, wait: float) -> None:
        """Give no turn of the limiter *key* for *wait* seconds (the vendor said 429)."""
        ...

    async def breaker_admit(self, key: str, *, probe_lease: float) -> BreakerAdmission:
        """Whether a call may go to the endpoint of breaker *key*.

        A probe holds its slot for at most *probe_lease* seconds, so that a worker dying
        mid-probe cannot hold the breaker open for ever.
        """
        ...

    async def breaker_record(
        self,
        key: str,
        *,
        outcome: BreakerOutcome,
        probe: bool,
        threshold: int,
        cooldown: float,
    ) -> BreakerChange | None:
        """Record how a call admitted by :meth:`breaker_admit` ended; return a state change.

        *threshold* consecutive failures open the breaker for *cooldown* seconds; a probe's
        success closes it, its failure reopens it, a neutral outcome frees the probe slot.
        """
        ...

    async def cache_get(self, key: str) -> str | None:
        """The cached text under *key*, or ``None`` when absent or expired."""
        ...

    async def cache_put(self, key: str, value: str, *, ttl: float) -> None:
        """Keep *value* under *key* for *ttl* seconds."""
        ...

    async def aclose(self) -> None:
        """Release connections and files. Called by whoever created the backend."""
        ...
