"""The protocols a host implements to embed the library, and those integrations implement.

The host owns its settings UI and its database; the library owns the flow. The host plugs
its pieces in at the composition root, where it builds a :class:`purecallerid.AsyncScreener`
or :class:`purecallerid.Screener`:

- a :class:`SettingsProvider` (campaign id -> :class:`purecallerid.CampaignSettings`),
- a :class:`ResultStore` (save and load :class:`purecallerid.ScreeningRecord`),
- the :class:`Integration` implementations its campaigns use, by kind,
- optionally an :class:`Observer` for metrics.

Reference implementations: :class:`purecallerid.InMemorySettings`,
:class:`purecallerid.FileSettings`, :class:`purecallerid.InMemoryResultStore`,
:class:`purecallerid.SQLiteResultStore`, :class:`purecallerid.PureCallerIDIntegration`,
:class:`purecallerid.SuppressionIntegration`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import field, frozen

from ._models import Attempt, RequestRecord

if TYPE_CHECKING:
    from ._models import Lead
    from ._records import IntegrationRecord, ScreeningRecord
    from ._rules_fields import FieldRegistry
    from ._settings import CampaignSettings, IntegrationSettings

__all__ = [
    "Integration",
    "IntegrationAnswer",
    "Observer",
    "ResultStore",
    "SettingsProvider",
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
    """

    answer: Mapping[str, Any] = field(converter=_as_dict)
    raw: str | None = None
    request: RequestRecord | None = None
    attempts: tuple[Attempt, ...] = ()


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
class SettingsProvider(Protocol):
    """Gives the screening settings of a campaign. Implemented by the host.

    Called once per lead, before any integration runs: cache what is expensive to load. Return
    ``None`` for a campaign it does not know; raise :class:`purecallerid.SettingsError` for
    settings that exist but are broken.
    """

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        """Return the settings of *campaign_id*, or ``None`` if there are none."""
        ...


@runtime_checkable
class ResultStore(Protocol):
    """Keeps screening records, one per lead id. Implemented by the host or the library.

    :meth:`save` is called once per screening, before the decision is returned; it must be
    atomic (a record is stored whole or not at all) and replace any record of the same lead
    id. :meth:`load` is called before screening, to return an existing record instead of
    calling vendors again. Raise any exception on failure: the screener turns it into a
    :class:`purecallerid.StorageError`.
    """

    async def save(self, record: ScreeningRecord) -> None:
        """Store *record* atomically, replacing any record with the same lead id."""
        ...

    async def load(self, lead_id: str) -> ScreeningRecord | None:
        """Return the record of *lead_id*, or ``None``."""
        ...


class Observer(Protocol):
    """Hooks for the host's metrics. Both are called synchronously, in the event loop.

    Implement both (either may do nothing); keep them fast, since they run on the lead's path.

    An exception raised here propagates to the caller of ``screen`` (it is a host bug); the
    record has been saved by then.
    """

    def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
        """Called as each integration finishes (or is skipped), before the decision."""
        ...

    def on_decision(self, record: ScreeningRecord) -> None:
        """Called once per screening, after the record is saved."""
        ...
