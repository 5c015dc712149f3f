"""A screener wired for a host's tests: fake vendor, memory store and settings, instant time.

Screener-level tests are what a host writes (its own settings, rules, failure policies,
records), and they must not wait: a retry after a 429 with ``Retry-After: 1`` waits a second
for real. The harness gives the vendor's integration a :class:`FakeClock` and a sleep that
advances that clock and records the wait instead of waiting, so retries, backoff and
deadlines behave exactly as in production, in no time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Self

from .._integrations.purecallerid.fields import purecallerid_preset
from .._integrations.purecallerid.integration import PureCallerIDIntegration
from .._models import Lead
from .._screener import AsyncScreener
from .._settings import CampaignSettings, Credentials, InMemorySettings, IntegrationSettings
from .._stores.memory import InMemoryResultStore
from ._fake import FakePureCallerID

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._records import ScreeningRecord
    from ..typing import Integration, ResultStore

__all__ = ["DEMO_CAMPAIGN", "FakeClock", "ScreenerHarness"]

DEMO_CAMPAIGN: Final = "demo"
"""The campaign a :class:`ScreenerHarness` screens by default: PureCallerID, the preset rules."""


class FakeClock:
    """A monotonic clock that moves only when told (by a recording sleep, or :meth:`advance`).

    Args:
        start: Its first reading, in seconds.
    """

    def __init__(self, start: float = 1000.0) -> None:
        """Start the clock at *start*."""
        self.now = start

    def __call__(self) -> float:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock *seconds* forward."""
        self.now += seconds


class ScreenerHarness:
    """An :class:`~purecallerid.AsyncScreener` for tests, with everything around it in memory.

    PureCallerID is the fake's (:attr:`fake`, answering from the test number table), retries
    are instant (:attr:`slept` lists the waits, :attr:`clock` moved by them), records go to
    :attr:`store` and settings come from :attr:`settings`. Without *campaigns*, the campaign
    :data:`DEMO_CAMPAIGN` screens with PureCallerID and its preset rules.

    Args:
        campaigns: The campaigns' settings (PureCallerID's ``base_url`` is the fake's:
            :attr:`FakePureCallerID.base_url`).
        fake: The fake vendor (a fresh one otherwise).
        integrations: More integrations, besides PureCallerID (their own fakes' transports).
        store: The result store (a fresh :class:`~purecallerid.InMemoryResultStore`).
        **options: More arguments of :class:`~purecallerid.AsyncScreener`.

    Use it as ``async with ScreenerHarness() as harness:`` (or call :meth:`aclose`).
    """

    def __init__(
        self,
        *,
        campaigns: Iterable[CampaignSettings] | None = None,
        fake: FakePureCallerID | None = None,
        integrations: Iterable[Integration] = (),
        store: ResultStore | None = None,
        **options: Any,
    ) -> None:
        """Build the screener; see the class docstring for the arguments."""
        self.fake = fake or FakePureCallerID()
        self.clock = FakeClock()
        self.slept: list[float] = []
        self.purecallerid = PureCallerIDIntegration(
            transport=self.fake.async_transport(),
            sleep=self._sleep,
            clock=self.clock,
            random=lambda: 0.5,
        )
        chosen = list(campaigns) if campaigns is not None else [self.demo_campaign()]
        self.settings = InMemorySettings(chosen)
        self.store: ResultStore = store if store is not None else InMemoryResultStore()
        self.screener = AsyncScreener(
            settings=self.settings,
            store=self.store,
            integrations=[self.purecallerid, *integrations],
            clock=self.clock,
            **options,
        )

    async def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)

    def demo_campaign(self, campaign_id: str = DEMO_CAMPAIGN) -> CampaignSettings:
        """A campaign screening with the fake PureCallerID and the preset rules."""
        return CampaignSettings(
            campaign_id=campaign_id,
            integrations=[
                IntegrationSettings(
                    id="purecallerid",
                    kind="purecallerid",
                    base_url=self.fake.base_url,
                    credentials=Credentials(
                        api_token=self.fake.api_token or "test-token-0123",
                        campaign_id="C-TEST",
                        list_name="Test list",
                    ),
                    rules=purecallerid_preset(),
                )
            ],
        )

    async def screen(
        self,
        phone: str,
        *,
        lead_id: str | None = None,
        campaign_id: str = DEMO_CAMPAIGN,
        **fields: Any,
    ) -> ScreeningRecord:
        """Screen a lead with *phone* (and *fields*; a ZIP is added when none is given)."""
        values = {"phone": phone, "zip": "10001", **fields}
        lead = Lead(lead_id=lead_id or f"lead-{phone}", campaign_id=campaign_id, fields=values)
        return await self.screener.screen(lead)

    async def aclose(self) -> None:
        """Close the screener (and the integrations' pools)."""
        await self.screener.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()
