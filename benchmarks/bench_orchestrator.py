"""Wall time of one screening with three integrations, in parallel and in sequence.

Run with ``.venv/bin/python benchmarks/bench_orchestrator.py``. Three fake integrations answer
after 20, 30 and 40 ms (``asyncio.sleep``, so no network noise). A parallel stage should cost
about the slowest latency (40 ms), a sequential plan about the sum (90 ms); the figures are the
median and max-min over rounds, interleaved so that both plans see the same machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING, Any

from purecallerid import (
    AsyncScreener,
    CampaignSettings,
    FieldRegistry,
    FieldSpec,
    FieldType,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    Lead,
    RuleSet,
)
from purecallerid.typing import IntegrationAnswer

if TYPE_CHECKING:
    from purecallerid import ScreeningRecord

LATENCIES = (0.020, 0.030, 0.040)
ROUNDS = 15
FIELDS = FieldRegistry(integration="sleepy", fields=(FieldSpec(name="ok", type=FieldType.BOOLEAN),))
RULES = RuleSet.from_text("reject when ok is false", FIELDS)


class Sleepy:
    """Answers ``ok`` after ``options["latency"]`` seconds."""

    kind = "sleepy"
    fields = FIELDS

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        await asyncio.sleep(float(settings.options["latency"]))
        return IntegrationAnswer(answer={"ok": True})

    async def aclose(self) -> None:
        return None


def campaign(name: str, *, parallel: bool) -> CampaignSettings:
    return CampaignSettings(
        campaign_id=name,
        integrations=[
            IntegrationSettings(
                id=f"i{n}",
                kind="sleepy",
                sort=1 if parallel else n,
                rules=RULES,
                options={"latency": latency},
            )
            for n, latency in enumerate(LATENCIES, 1)
        ],
    )


async def measure() -> dict[str, list[float]]:
    settings = InMemorySettings([campaign("par", parallel=True), campaign("seq", parallel=False)])
    screener = AsyncScreener(
        settings=settings, store=InMemoryResultStore(), integrations=[Sleepy()]
    )
    times: dict[str, list[float]] = {"par": [], "seq": []}
    for n in range(ROUNDS + 2):
        for name in ("par", "seq"):
            started = time.perf_counter()
            record: ScreeningRecord = await screener.screen(
                Lead(lead_id=f"{name}-{n}", campaign_id=name, fields={})
            )
            elapsed = time.perf_counter() - started
            assert record.decision.value == "accept"
            if n >= 2:  # two warm-up rounds
                times[name].append(elapsed * 1000)
    return times


def main() -> dict[str, Any]:
    times = asyncio.run(measure())
    slowest, total = max(LATENCIES) * 1000, sum(LATENCIES) * 1000
    results: dict[str, Any] = {}
    for name, label, target in (
        ("par", "parallel stage of 3", slowest),
        ("seq", "sequential, 3 stages", total),
    ):
        median = statistics.median(times[name])
        low, high = min(times[name]), max(times[name])
        print(
            f"{label}: p50 {median:.1f} ms (min {low:.1f}, max {high:.1f}); "
            f"slowest latency {slowest:.0f} ms, sum {total:.0f} ms; "
            f"overhead {median - target:+.1f} ms"
        )
        results[name] = {"p50_ms": median, "target_ms": target}
    return results


if __name__ == "__main__":
    main()
