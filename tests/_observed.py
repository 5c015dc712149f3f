"""A campaign with a parallel stage and one failing vendor, screened under observers.

Stage 1: the house DNC list (local). Stage 2, in parallel: PureCallerID (``pcid``, answers
after the other vendor gave up) and a second PureCallerID account (``backup``) whose endpoint
answers 503 to every attempt (three, retried at once), echoing the canary token and the
lead's phone in its body and headers. The run is ordered by events, not by timers, so that
the spans' order (and the docs' picture of them) is the same on every machine.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx

from purecallerid import (
    PURECALLERID_FIELDS,
    SUPPRESSION_FIELDS,
    AsyncScreener,
    CampaignSettings,
    CircuitBreakerSettings,
    Credentials,
    InMemoryResultStore,
    InMemorySettings,
    InMemorySuppressionList,
    IntegrationSettings,
    Lead,
    PureCallerIDIntegration,
    QuotaSettings,
    RuleSet,
    ScreeningRecord,
    SuppressionIntegration,
)
from purecallerid.testing import FakePureCallerID

if TYPE_CHECKING:
    from purecallerid.typing import EventObserver, Observer

CANARY = "cAnArY-t0k+en/x7Q9"
PHONE = "2125550123"
BACKUP_LATENCY = 0.004
PCID_LATENCY = 0.002  # well under the backup's three attempts: it waits for them


def lead(number: int = 1) -> Lead:
    return Lead(
        lead_id=f"L-{number}",
        campaign_id="solar",
        fields={"phone": f"({PHONE[:3]}) {PHONE[3:6]}-{PHONE[6:]}", "zip": "02134"},
    )


def _vendor(identifier: str, url: str, **settings: Any) -> IntegrationSettings:
    settings.setdefault("sort", 2)
    return IntegrationSettings(
        id=identifier,
        kind="purecallerid",
        base_url=url,
        credentials=Credentials(api_token=CANARY, campaign_id="C-1", list_name="Main"),
        rules=RuleSet.from_text('reject when status = "Rejected"', PURECALLERID_FIELDS),
        **settings,
    )


def campaign(**backup: Any) -> CampaignSettings:
    """The campaign; *backup* adds settings (guards) to the failing vendor."""
    house = IntegrationSettings(
        id="house-dnc",
        kind="suppression",
        sort=1,
        options={"list": "house"},
        rules=RuleSet.from_text("reject when suppressed is true", SUPPRESSION_FIELDS),
    )
    return CampaignSettings(
        campaign_id="solar",
        deadline=10,
        integrations=[
            house,
            _vendor("pcid", "https://purecallerid.test"),
            _vendor("backup", "https://backup.test", failure_policy="flag", **backup),
        ],
    )


class Vendors:
    """Both endpoints behind one mock transport: the fake vendor, and a backup that fails."""

    def __init__(self) -> None:
        self.fake = FakePureCallerID(base_url="https://purecallerid.test", api_token=CANARY)
        self.backup_calls = 0
        self._gave_up: asyncio.Event | None = None
        self._called_backup = False

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self._gave_up is None:
            self._gave_up = asyncio.Event()
        if request.url.host == "backup.test":
            return await self._backup()
        # PureCallerID answers once the backup endpoint has failed its last attempt: the two
        # overlap, and they end in the same order on every run. (The backup's first attempt
        # starts in the same turn of the loop as this one, unless its breaker refused it.)
        await asyncio.sleep(PCID_LATENCY)
        if self._called_backup:
            await self._gave_up.wait()
        return await self.fake.ahandle(request)

    async def _backup(self) -> httpx.Response:
        assert self._gave_up is not None
        self.backup_calls += 1
        self._called_backup = True
        await asyncio.sleep(BACKUP_LATENCY)
        if self.backup_calls % 3 == 0:
            self._gave_up.set()
        echo = f"token {CANARY} phone +1{PHONE}"
        return httpx.Response(503, json={"error": echo}, headers={"X-Echo": echo})

    def reset(self) -> None:
        """Ready for the next lead (the backup's three attempts start over)."""
        self._gave_up = None
        self._called_backup = False


async def _no_wait(_: float) -> None:
    return None


def screener(
    observer: Observer | EventObserver | None, vendors: Vendors, **backup: Any
) -> AsyncScreener:
    integration = PureCallerIDIntegration(
        transport=httpx.MockTransport(vendors.handle), sleep=_no_wait
    )
    return AsyncScreener(
        settings=InMemorySettings([campaign(**backup)]),
        store=InMemoryResultStore(),
        integrations=[integration, SuppressionIntegration({"house": InMemorySuppressionList()})],
        observer=observer,
    )


def screen(
    observer: Observer | EventObserver | None, leads: int = 1, **backup: Any
) -> list[ScreeningRecord]:
    """Screen *leads* leads one after the other; their records."""
    vendors = Vendors()

    async def go() -> list[ScreeningRecord]:
        records = []
        async with screener(observer, vendors, **backup) as running:
            for number in range(1, leads + 1):
                vendors.reset()
                records.append(await running.screen(lead(number)))
        return records

    return asyncio.run(go())


GUARDS: dict[str, Any] = {
    "quota": QuotaSettings(daily=3, warn_at=0.5),
    "circuit_breaker": CircuitBreakerSettings(failures=2, cooldown=60),
}
"""Guards for the failing vendor: its breaker opens at the second failed lead."""
