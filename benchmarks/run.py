"""`make bench`: the issue's performance targets, met or missed, as figures of this one run.

It measures, in this order:

1. **HTTP contenders.** A minimal asyncio server (``_server.py``) runs in its own process on its
   own core; this process (pinned to another core) runs the contenders in interleaved rounds
   (``BENCH_ROUNDS``, default 3, of ``BENCH_SECONDS``, default 1.0 s, per contender and
   concurrency) at 1, 4, 16 and 64 in flight:

   - ``floor``: a minimal raw asyncio HTTP/1.1 client (what the machine can do at all);
   - ``httpx``: a bare ``httpx.AsyncClient`` posting the same JSON (what a host would write),
     with httpx's default limits;
   - ``httpx-sized``: the same with its pool sized to the concurrency (the setup of the
     figures in the project's performance notes, where httpx falls to about 55 requests/s
     at 64);
   - ``aiohttp``: a bare ``aiohttp.ClientSession``;
   - ``library``: one screening through the library's whole single-integration path
     (``AsyncScreener`` + ``PureCallerIDIntegration``: mapping, request, answer, rules,
     record in memory), with the library's defaults;
   - ``library-httpx8``: the same with httpx's own transport and a pool of 8 (the
     alternative the defaults were chosen against).

   Then the orchestrator with three integrations answering after 20 ms, in one parallel
   stage and in three sequential stages, against the 20 ms vendor as the floor client sees it;
   in the same rounds, bare aiohttp making the same three calls at once and one after the
   other (the stages' lower bound: what bare aiohttp and the event loop take with no
   library). Then two reference
   figures, no targets (see below): the collector's share of the library at 64 in flight,
   and cold calls.
2. **Import time.** ``python -X importtime -c "import purecallerid"`` in 5 fresh processes
   (after one that fills the bytecode cache): the median of the cumulative time on the
   ``purecallerid`` line; and, from that median run, the library's own modules' self time
   against the other packages they import, with the 8 of those packages costing most
   (cumulative), who imports each and the costliest other package under it. (Every line
   sorted by cumulative time would list one chain of nested wrappers instead.)
3. **Bulk screening.** ``purecallerid screen`` against the simulator
   (``bench_cli_memory.py``: a fresh process per run, 16 in flight), at ``BENCH_SCREEN_ROWS``
   rows (default 100,000) and a tenth of that, with the SQLite records store; then at
   ``BENCH_SCREEN_SERVER_ROWS`` rows (default 20,000, to keep ``make bench`` within a few
   minutes) and a tenth of that, with a throwaway PostgreSQL as the records store and Redis
   guards (quota, rate limit and circuit breaker on a throwaway redis-server, limits never
   reached). rows/s is the larger run's; memory is flat when its peak RSS is at most 15 MiB
   above the smaller run's for 90,000 more rows, in proportion for other sizes (3 MiB for
   the 18,000 of the PostgreSQL row): under 175 bytes per added row, see
   ``bench_cli_memory.py``. Without PostgreSQL's server programs or redis-server that row is
   skipped, not failed. Each store is followed by its bare pipeline (a reference figure, see
   below), against the same simulator.
4. **Reference scripts** (``BENCH_SCRIPTS=0`` leaves them out): the costs of the parts, each
   printing its own figures (mapping, rules, orchestrator, records, lists, observers).

It prints the table (medians, min-max over rounds) with reference ratios that are no targets,
then, last, the targets of the performance issue (#18), each ``met`` or ``MISS`` (``skip``
for the row whose servers are missing), and writes every figure to
``benchmarks/results/latest.json``:

- library CPU per screened lead at 64 in flight <= bare aiohttp's CPU per request + 120 us;
- library CPU per lead at 1 in flight <= bare httpx's x 0.8;
- parallel stage of three 20 ms vendors <= the slowest + 2 ms; sequential <= the sum + 2 ms;
- ``screen`` with the SQLite records store >= 5,000 rows/s, and memory flat;
- ``import purecallerid`` <= 150 ms cumulative;
- ``screen`` with PostgreSQL records and Redis guards: the same two.

Under the targets they explain, and in ``latest.json``, five reference figures of this machine's
limits, measured in the same run (no targets: neither met nor missed):

- the stages' lower bound (``orchestrator.bare_aiohttp_*``): bare aiohttp making the plan's
  three 20 ms calls (at once; one after the other), 20 per round beside the library's plans
  (which of the two goes first alternates by round), minus the round's vendor p50 (three
  times for the sequential plan); under each stage target, with the library's own time above
  it (the median over rounds of each round's difference).
- ``screen`` ceiling (``screen.sqlite_bare``, ``screen.postgres_redis_bare``): a hand-written
  bare pipeline doing the least a ``screen`` row must (``_ceiling.py``: the same leads CSV
  streamed, a bare ``aiohttp.ClientSession`` posting the library's JSON body to the same
  simulator, a record of the size of one the library wrote in the SQLite run, a result CSV
  row), at the same concurrency, in a fresh process timed from its main: with SQLite (WAL,
  ``synchronous=NORMAL``, batches of 128 written by ``asyncio.to_thread``) on up to 20,000
  rows, and with PostgreSQL (one ``INSERT`` a row) after two Redis round trips (the
  library's guards make two a lead) on up to 10,000 (never more than the library's
  screen). Its rows/s and CPU per row, and the library's rows/s as a fraction of its.
- The records store's share of a ``screen`` row (``screen.records_in_memory``): the SQLite
  run's screen once more, on as many rows as its bare pipeline, with the records kept in an
  ``InMemoryResultStore`` (the benchmark swaps the store the command opens; no CLI option
  does): its rows/s and CPU per row, the SQLite run's rows/s as a fraction of it, and the CPU
  per row the SQLite store adds.
- The collector at 64 in flight (``gc_64``): after the rounds, ``BENCH_ROUNDS`` pairs of
  ``BENCH_SECONDS`` runs of the ``library`` contender, one timing every collection by
  generation (``gc.callbacks``; wall time per screened lead, with the collections' counts),
  one with the collector disabled (``gc.disable()``, re-enabled after); the in-memory store
  keeps every record of a run, as in the rounds.
- Cold calls (``cold_calls``), beside the stage targets, which are measured after the
  vendor's 20 ms wait: the CPU of one screening (campaign ``one``, one integration, 0 ms
  vendor; ``time.process_time`` around the screening only), 100 back to back and 100 each
  after ``asyncio.sleep(0.02)``, per round, and their ratio: on a VM, a screening after 20 ms
  idle costs a few times the CPU of one back to back (the processor's caches).

A per-round figure (a difference or a ratio of two contenders in the same round) is taken
as the median over rounds. Most of a default run is the HTTP table (about 1.5 min), the
reference scripts (about 1.5 min) and the 110,000 rows screened with SQLite (over a minute
at the issue's 1,400 rows/s, and as long again for every halving of that rate); the five
reference figures add some 45 s; six to seven minutes in all on two idle cores, more on a
loaded machine. ``BENCH_ROUNDS=1 BENCH_SECONDS=0.3 BENCH_SCREEN_ROWS=5000
BENCH_SCREEN_SERVER_ROWS=2000 BENCH_SCRIPTS=0`` is a quick check of the machinery, not of the
targets (over a few thousand rows, the memory figure is the allocator's noise; in runs of
0.3 s, the collector seldom reaches its oldest generation).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import httpx

import _ceiling
import bench_cli_memory
from purecallerid import (
    AsyncScreener,
    CampaignSettings,
    InMemoryResultStore,
    InMemorySettings,
    Lead,
    PureCallerIDIntegration,
    load_settings,
)

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the throwaway servers the tests use

from _postgres import PostgresMissingError, PostgresServer  # noqa: E402
from _redis import RedisMissingError, RedisServer  # noqa: E402

CONCURRENCY = (1, 4, 16, 64)
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "1.0"))  # per contender, concurrency and round
SCREEN_ROWS = int(os.environ.get("BENCH_SCREEN_ROWS", "100000"))
SERVER_ROWS = int(os.environ.get("BENCH_SCREEN_SERVER_ROWS", "20000"))
RUN_SCRIPTS = os.environ.get("BENCH_SCRIPTS", "1") != "0"
COLD_CALLS = 100  # screenings per kind of call and round, for the cold-call reference
COLD_IDLE = 0.02  # seconds idle before each cold screening: the stage targets' vendor wait
GC_CONCURRENCY = 64
# Rows of the bare pipelines at most (fewer when the library's screen has fewer): SQLite's,
# and PostgreSQL + Redis's (about 2,000 rows/s on two cores: 5 s).
CEILING_ROWS = 20_000
CEILING_SERVER_ROWS = 10_000
IMPORT_RUNS = 5  # odd: the median is one run, whose module list is printed
IMPORT_TOP = 8
SCRIPTS = (
    "bench_mapping.py",
    "bench_rules.py",
    "bench_orchestrator.py",
    "bench_records.py",
    "bench_lists.py",
    "bench_observe.py",
)
PORT = int(os.environ.get("BENCH_PORT", "18799"))
BASE = f"http://127.0.0.1:{PORT}"
PAYLOAD = {
    "campaignId": "C1",
    "listName": "Main",
    "apiToken": "bench-token",
    "phone": "2125550000",
    "zip": "02134",
}
RULES = [
    'reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG")',
    'qa when status = "Accepted" and reason = "SUPPRESSED"',
]

Call = Callable[[int], Awaitable[None]]


def _integration_settings(identifier: str, sort: int, prefix: str = "") -> dict[str, Any]:
    return {
        "id": identifier,
        "kind": "purecallerid",
        "sort": sort,
        "base_url": BASE + prefix,
        "credentials": {"api_token": "bench-token", "campaign_id": "C1", "list_name": "Main"},
        "rules": RULES,
        "timeout": 10.0,
    }


def _campaigns(integration: PureCallerIDIntegration) -> InMemorySettings:
    doc = {
        "campaigns": {
            "one": {"deadline": 30, "integrations": [_integration_settings("pcid", 1)]},
            "par": {
                "deadline": 30,
                "integrations": [_integration_settings(f"p{n}", 1, "/20") for n in range(3)],
            },
            "seq": {
                "deadline": 30,
                "integrations": [_integration_settings(f"s{n}", n, "/20") for n in range(3)],
            },
        }
    }
    loaded: dict[str, CampaignSettings] = load_settings(doc, kinds=[integration])
    return InMemorySettings(loaded.values())


class Contenders:
    """Each contender: an async function making one request (or one screening)."""

    def __init__(self) -> None:
        self.httpx = httpx.AsyncClient()
        self.httpx_sized: dict[int, httpx.AsyncClient] = {
            c: httpx.AsyncClient(
                limits=httpx.Limits(max_connections=c, max_keepalive_connections=c)
            )
            for c in CONCURRENCY
        }
        self.aiohttp = aiohttp.ClientSession()
        self.library_integration = PureCallerIDIntegration()
        self.stores = (InMemoryResultStore(), InMemoryResultStore())
        self.library = AsyncScreener(
            settings=_campaigns(self.library_integration),
            store=self.stores[0],
            integrations=[self.library_integration],
        )
        pool8 = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8)
        )
        self.httpx8_integration = PureCallerIDIntegration(transport=pool8, max_connections=8)
        self.library_httpx8 = AsyncScreener(
            settings=_campaigns(self.httpx8_integration),
            store=self.stores[1],
            integrations=[self.httpx8_integration],
        )
        self.serial = 0
        self.raw_pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        body = json.dumps(PAYLOAD).encode()
        self.raw_request = (
            b"POST /singleLeadLoading HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            b"content-type: application/json\r\ncontent-length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def lead(self, campaign: str) -> Lead:
        self.serial += 1
        return Lead(
            lead_id=f"{campaign}-{self.serial}",
            campaign_id=campaign,
            fields={"phone": "(212) 555-0000", "zip": "02134", "first_name": "Ann"},
        )

    async def floor(self, _: int) -> None:
        if self.raw_pool.empty():
            self.raw_pool.put_nowait(await asyncio.open_connection("127.0.0.1", PORT))
        reader, writer = await self.raw_pool.get()
        writer.write(self.raw_request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        json.loads(await reader.readexactly(length))
        self.raw_pool.put_nowait((reader, writer))

    async def bare_httpx(self, _: int) -> None:
        response = await self.httpx.post(BASE + "/singleLeadLoading", json=PAYLOAD)
        response.json()

    async def sized_httpx(self, concurrency: int) -> None:
        response = await self.httpx_sized[concurrency].post(
            BASE + "/singleLeadLoading", json=PAYLOAD
        )
        response.json()

    async def bare_aiohttp(self, _: int) -> None:
        async with self.aiohttp.post(BASE + "/singleLeadLoading", json=PAYLOAD) as response:
            await response.json()

    async def bare_vendor(self) -> None:
        """One bare aiohttp call to the 20 ms vendor (the stage ceilings' building block)."""
        async with self.aiohttp.post(BASE + "/20/singleLeadLoading", json=PAYLOAD) as response:
            await response.json()

    async def screen(self, _: int) -> None:
        record = await self.library.screen(self.lead("one"))
        assert record.decision.value == "accept", record

    async def screen_httpx8(self, _: int) -> None:
        record = await self.library_httpx8.screen(self.lead("one"))
        assert record.decision.value == "accept", record

    async def close(self) -> None:
        await self.httpx.aclose()
        for client in self.httpx_sized.values():
            await client.aclose()
        await self.aiohttp.close()
        await self.library.aclose()
        await self.library_httpx8.aclose()
        while not self.raw_pool.empty():
            _, writer = self.raw_pool.get_nowait()
            writer.close()


async def closed_loop(call: Call, concurrency: int, seconds: float) -> dict[str, float]:
    """Run *concurrency* workers calling *call* back to back for *seconds*."""
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await call(concurrency)
            latencies.append(time.perf_counter() - started)

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    latencies.sort()
    count = len(latencies)
    return {
        "rps": count / wall,
        "cpu_us": cpu / count * 1e6,
        "p50_ms": latencies[count // 2] * 1000,
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000,
        "requests": count,
    }


async def vendor_latency(count: int) -> list[float]:
    """What the 20 ms vendor takes as seen by the floor client (timer resolution included)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
    body = json.dumps(PAYLOAD).encode()
    request = (
        b"POST /20/singleLeadLoading HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    times = []
    for _ in range(count):
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        times.append((time.perf_counter() - started) * 1000)
    writer.close()
    return times


async def orchestrated(contenders: Contenders, campaign: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await contenders.library.screen(contenders.lead(campaign))
        times.append((time.perf_counter() - started) * 1000)
    return times


async def bare_stages(contenders: Contenders, campaign: str, count: int) -> list[float]:
    """The stage ceiling: bare aiohttp making the plan's three 20 ms calls, nothing else.

    ``par``: the three at once (``asyncio.gather``); ``seq``: one after the other. What a
    plan costs above this is the library's own work (mapping, request, answer, rules,
    evidence, record); what this costs above the vendor is the HTTP layer's.
    """
    times = []
    for _ in range(count):
        started = time.perf_counter()
        if campaign == "par":
            await asyncio.gather(*(contenders.bare_vendor() for _ in range(3)))
        else:
            for _ in range(3):
                await contenders.bare_vendor()
        times.append((time.perf_counter() - started) * 1000)
    return times


class GCTimer:
    """Through ``gc.callbacks``: the collections of each generation and their wall time."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.counts[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started


async def gc_share(contenders: Contenders) -> list[dict[str, Any]]:
    """The library at 64 in flight: the collector's time per lead, and its CPU without it.

    Per round, one run timing the collections, then one with the collector disabled; the
    in-memory store is emptied and the garbage collected before each (outside the timing).
    """
    store = contenders.stores[0]
    runs = []

    async def timed() -> tuple[dict[str, float], GCTimer]:
        timer = GCTimer()
        gc.callbacks.append(timer)
        try:
            return await closed_loop(contenders.screen, GC_CONCURRENCY, SECONDS), timer
        finally:
            gc.callbacks.remove(timer)

    async def disabled() -> dict[str, float]:
        gc.disable()
        try:
            return await closed_loop(contenders.screen, GC_CONCURRENCY, SECONDS)
        finally:
            gc.enable()

    for round_number in range(ROUNDS):
        # The two runs' order alternates, so that neither always follows the other.
        for first in (round_number % 2 == 0, round_number % 2 == 1):
            store.clear()
            gc.collect()
            if first:
                with_gc, timer = await timed()
            else:
                without_gc = await disabled()
        store.clear()
        gc.collect()
        leads = with_gc["requests"]
        runs.append(
            {
                "leads": leads,
                "cpu_us": with_gc["cpu_us"],
                "cpu_us_gc_disabled": without_gc["cpu_us"],
                "gc_us_by_generation": [t / leads * 1e6 for t in timer.seconds],
                "gc_us": sum(timer.seconds) / leads * 1e6,
                "collections_by_generation": timer.counts,
            }
        )
    return runs


async def cold_calls(contenders: Contenders) -> list[dict[str, float]]:
    """CPU of one screening (campaign ``one``, 0 ms vendor) back to back and after idling.

    Only the screening is timed (``time.process_time`` around it), not the idle wait before it.
    """
    await orchestrated(contenders, "one", 5)
    runs = []
    for _ in range(ROUNDS):
        contenders.stores[0].clear()
        one: dict[str, float] = {}
        for kind, idle in (("back_to_back", 0.0), ("after_idle", COLD_IDLE)):
            cpu = wall = 0.0
            for _ in range(COLD_CALLS):
                if idle:
                    await asyncio.sleep(idle)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                await contenders.library.screen(contenders.lead("one"))
                cpu += time.process_time() - cpu0
                wall += time.perf_counter() - wall0
            one[f"{kind}_cpu_us"] = cpu / COLD_CALLS * 1e6
            one[f"{kind}_wall_us"] = wall / COLD_CALLS * 1e6
        one["ratio"] = one["after_idle_cpu_us"] / one["back_to_back_cpu_us"]
        runs.append(one)
    contenders.stores[0].clear()
    return runs


async def stage_rounds(contenders: Contenders) -> list[dict[str, list[float]]]:
    """Per round: the vendor as the floor client sees it, the library's plans, bare aiohttp's."""
    orchestra: list[dict[str, list[float]]] = []
    for campaign in ("par", "seq"):
        await orchestrated(contenders, campaign, 3)
        await bare_stages(contenders, campaign, 3)
    for _ in range(ROUNDS):
        one = {"vendor": await vendor_latency(20)}
        for campaign in ("par", "seq"):
            # Which goes first alternates by round: no drift of the machine favours one.
            if len(orchestra) % 2:
                one[f"bare_{campaign}"] = await bare_stages(contenders, campaign, 20)
                one[campaign] = await orchestrated(contenders, campaign, 20)
            else:
                one[campaign] = await orchestrated(contenders, campaign, 20)
                one[f"bare_{campaign}"] = await bare_stages(contenders, campaign, 20)
        orchestra.append(one)
    return orchestra


async def measure() -> dict[str, Any]:
    contenders = Contenders()
    names: dict[str, Call] = {
        "floor": contenders.floor,
        "httpx": contenders.bare_httpx,
        "httpx-sized": contenders.sized_httpx,
        "aiohttp": contenders.bare_aiohttp,
        "library": contenders.screen,
        "library-httpx8": contenders.screen_httpx8,
    }
    rounds: dict[str, dict[int, list[dict[str, float]]]] = {
        n: {c: [] for c in CONCURRENCY} for n in names
    }
    for concurrency in CONCURRENCY:  # warm-up: connections, caches, JIT-free but imports
        for call in names.values():
            await closed_loop(call, concurrency, 0.1)
    order = list(names)
    for round_number in range(ROUNDS):
        for concurrency in CONCURRENCY:
            # Rotate who goes first, so that no contender always follows the same one.
            turn = order[round_number % len(order) :] + order[: round_number % len(order)]
            for name in turn:
                for store in contenders.stores:  # a record store that grows would tax later runs
                    store.clear()
                result = await closed_loop(names[name], concurrency, SECONDS)
                rounds[name][concurrency].append(result)
        print(f"round {round_number + 1}/{ROUNDS} done", file=sys.stderr, flush=True)
    orchestra = await stage_rounds(contenders)
    print("reference figures: the collector's share at 64, cold calls", file=sys.stderr)
    gc_runs = await gc_share(contenders)
    cold = await cold_calls(contenders)
    await contenders.close()
    return {"rounds": rounds, "orchestra": orchestra, "gc": gc_runs, "cold": cold}


def _median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass
class Target:
    """One of the issue's targets: the figure of each round (or the one figure) and its bound."""

    label: str
    op: str  # "<=" or ">="
    bound: float
    unit: str = ""
    values: list[float] = field(default_factory=list)
    skipped: str = ""  # why it was not measured; empty when it was
    digits: int = 2  # decimals shown
    notes: list[str] = field(default_factory=list)  # reference figures printed under it

    @property
    def value(self) -> float:
        return _median(self.values)

    @property
    def met(self) -> bool | None:
        if self.skipped:
            return None
        return self.value <= self.bound if self.op == "<=" else self.value >= self.bound

    def line(self) -> str:
        return "\n".join([self._line(), *(f"       reference, no target: {n}" for n in self.notes)])

    def _line(self) -> str:
        if self.skipped:
            return f"  skip {self.label}: skipped ({self.skipped})"
        unit = f" {self.unit}" if self.unit else ""
        digits = self.digits
        spread = (
            f" ({min(self.values):,.{digits}f} to {max(self.values):,.{digits}f})"
            if len(self.values) > 1
            else ""
        )
        return (
            f"  {'met ' if self.met else 'MISS'} {self.label}: {self.value:,.{digits}f}{unit}"
            f"{spread}; target {self.op} {self.bound:,.{digits}f}{unit}"
        )

    def as_json(self) -> dict[str, Any]:
        measured = {} if self.skipped else {"value": self.value, "values": self.values}
        return {
            "target": self.label,
            "bound": f"{self.op} {self.bound:g}",
            "unit": self.unit,
            **measured,
            "met": self.met,
            "status": "skipped" if self.skipped else ("met" if self.met else "MISS"),
            **({"skipped": self.skipped} if self.skipped else {}),
        }


def _gc_figures(runs: list[dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """Print the collector's share of the library's CPU at 64 in flight; its figures and note."""
    by_generation = [_median([r["gc_us_by_generation"][g] for r in runs]) for g in range(3)]
    figures = {
        "concurrency": GC_CONCURRENCY,
        "cpu_us": _median([r["cpu_us"] for r in runs]),
        "cpu_us_gc_disabled": _median([r["cpu_us_gc_disabled"] for r in runs]),
        "gc_us": _median([r["gc_us"] for r in runs]),
        "gc_us_by_generation": by_generation,
        "runs": runs,
    }
    generations = ", ".join(f"gen{g} {us:.0f}" for g, us in enumerate(by_generation))
    collections = "/".join(
        f"{_median([r['collections_by_generation'][g] for r in runs]):.0f}" for g in range(3)
    )
    leads = _median([r["leads"] for r in runs])
    print(
        f"\nthe collector, library at {GC_CONCURRENCY} in flight ({ROUNDS} extra runs of "
        f"{SECONDS} s each way; no target):\n"
        f"  with it: CPU {figures['cpu_us']:.0f} us/lead, of which collections "
        f"{figures['gc_us']:.0f} us/lead of wall time ({generations}; {collections} collections of "
        f"gen0/1/2 over {leads:,.0f} leads, medians)\n"
        f"  with it disabled (gc.disable()): CPU {figures['cpu_us_gc_disabled']:.0f} us/lead"
    )
    note = (
        f"the collector at {GC_CONCURRENCY} in flight takes {figures['gc_us']:.0f} us/lead "
        f"of wall time ({generations}; CPython's defaults, as in a host); the library's "
        f"CPU/lead {figures['cpu_us']:.0f} us with it, "
        f"{figures['cpu_us_gc_disabled']:.0f} us without"
    )
    return figures, note


def _cold_figures(runs: list[dict[str, float]]) -> tuple[dict[str, Any], str]:
    """Print the CPU of a screening back to back and after idling; its figures and note."""
    figures: dict[str, Any] = {key: _median([r[key] for r in runs]) for key in runs[0]} | {
        "calls": COLD_CALLS,
        "idle_ms": COLD_IDLE * 1000,
        "runs": runs,
    }
    idle = f"after {COLD_IDLE * 1000:.0f} ms idle"
    print(
        f"\none screening (campaign one, 0 ms vendor), CPU of the screening only, "
        f"{COLD_CALLS} each per round (no target):\n"
        f"  back to back: {figures['back_to_back_cpu_us']:.0f} us "
        f"(wall {figures['back_to_back_wall_us']:.0f} us); {idle}: "
        f"{figures['after_idle_cpu_us']:.0f} us (wall {figures['after_idle_wall_us']:.0f} us); "
        f"x{figures['ratio']:.2f}"
    )
    note = (
        f"CPU of one screening back to back {figures['back_to_back_cpu_us']:.0f} us, {idle} "
        f"{figures['after_idle_cpu_us']:.0f} us (x{figures['ratio']:.2f}); the stages' "
        f"screenings follow the vendors' {COLD_IDLE * 1000:.0f} ms wait"
    )
    return figures, note


def report(data: dict[str, Any]) -> tuple[dict[str, Any], list[Target]]:
    """Print the table and the reference ratios; the summary and the HTTP-side targets."""
    rounds = data["rounds"]
    summary: dict[str, Any] = {}
    header = f"{'contender':16} {'in flight':>9} {'req/s':>16} {'CPU us/req':>16}"
    print(f"\n{header} {'p50 ms':>8} {'p99 ms':>8}")
    for name, by_conc in rounds.items():
        summary[name] = {}
        for concurrency, results in by_conc.items():
            rps = [r["rps"] for r in results]
            cpu = [r["cpu_us"] for r in results]
            row = {
                "rps": _median(rps),
                "rps_min": min(rps),
                "rps_max": max(rps),
                "cpu_us": _median(cpu),
                "cpu_us_min": min(cpu),
                "cpu_us_max": max(cpu),
                "p50_ms": _median([r["p50_ms"] for r in results]),
                "p99_ms": _median([r["p99_ms"] for r in results]),
            }
            summary[name][concurrency] = row
            print(
                f"{name:16} {concurrency:>9} "
                f"{row['rps']:>7.0f} ({row['rps_min']:.0f}-{row['rps_max']:.0f})".ljust(44)
                + f"{row['cpu_us']:>6.0f} ({row['cpu_us_min']:.0f}-{row['cpu_us_max']:.0f})".ljust(
                    17
                )
                + f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
            )
    for name in rounds:
        low, high = summary[name][4]["rps"], summary[name][64]["rps"]
        summary[name]["retention"] = high / low
    print(
        "\nretention (req/s at 64 / at 4): "
        + ", ".join(f"{n} {summary[n]['retention']:.2f}" for n in rounds)
    )

    # Per round: the p50 of each plan, and the vendor's latency as the floor client sees it
    # (20 ms plus the server's timer resolution: asyncio rounds waits up to the millisecond,
    # which is no cost of the library's).
    per_round = [{key: _median(values) for key, values in one.items()} for one in data["orchestra"]]
    par_p50 = _median([r["par"] for r in per_round])
    seq_p50 = _median([r["seq"] for r in per_round])
    vendor = _median([r["vendor"] for r in per_round])
    # Per round, each plan over the round's vendor figure (three times for the sequential).
    over = {
        "par": [r["par"] - r["vendor"] for r in per_round],
        "seq": [r["seq"] - 3 * r["vendor"] for r in per_round],
        "bare_par": [r["bare_par"] - r["vendor"] for r in per_round],
        "bare_seq": [r["bare_seq"] - 3 * r["vendor"] for r in per_round],
    }
    own = {
        name: [lib - bare for lib, bare in zip(over[name], over[f"bare_{name}"], strict=True)]
        for name in ("par", "seq")
    }
    summary["orchestrator"] = {
        "bare_aiohttp_parallel_over_vendor_ms": _median(over["bare_par"]),
        "bare_aiohttp_parallel_over_vendor_by_round_ms": over["bare_par"],
        "bare_aiohttp_sequential_over_vendor_ms": _median(over["bare_seq"]),
        "bare_aiohttp_sequential_over_vendor_by_round_ms": over["bare_seq"],
        "library_over_bare_parallel_ms": _median(own["par"]),
        "library_over_bare_parallel_by_round_ms": own["par"],
        "library_over_bare_sequential_ms": _median(own["seq"]),
        "library_over_bare_sequential_by_round_ms": own["seq"],
        "parallel_p50_ms": par_p50,
        "parallel_p50_by_round_ms": [r["par"] for r in per_round],
        "sequential_p50_ms": seq_p50,
        "sequential_p50_by_round_ms": [r["seq"] for r in per_round],
        "vendor_p50_ms": vendor,
        "latency_ms": 20,
        "integrations": 3,
    }
    print(
        f"\none 20 ms vendor call through the floor client: p50 {vendor:.2f} ms"
        f"\norchestrator, 3 integrations at 20 ms: parallel p50 {par_p50:.1f} ms, "
        f"sequential p50 {seq_p50:.1f} ms"
        f"\nbare aiohttp, the same three calls (no library; no target): parallel "
        f"+{_median(over['bare_par']):.2f} ms over the vendor, sequential "
        f"+{_median(over['bare_seq']):.2f} ms over the sum"
    )
    stage_notes = {
        name: (
            f"bare aiohttp making the same three calls: +{_median(over[f'bare_{name}']):.2f} ms "
            f"({min(over[f'bare_{name}']):.2f} to {max(over[f'bare_{name}']):.2f}); the "
            f"library's own time above it, per round: +{_median(own[name]):.2f} ms "
            f"({min(own[name]):.2f} to {max(own[name]):.2f})"
        )
        for name in ("par", "seq")
    }

    def per_round_of(
        top: str, bottom: str, top_conc: int, bottom_conc: int, key: str
    ) -> list[tuple[float, float]]:
        # Both figures of a round come from the same minutes of the machine's load.
        return [
            (rounds[top][top_conc][n][key], rounds[bottom][bottom_conc][n][key])
            for n in range(ROUNDS)
        ]

    def ratio(top: str, bottom: str, top_conc: int, bottom_conc: int, key: str) -> list[float]:
        return [a / b for a, b in per_round_of(top, bottom, top_conc, bottom_conc, key)]

    # Figures the earlier benchmark issue set bounds on; the current issue does not: shown so
    # that a change in them is seen, but neither met nor missed.
    reference = {
        "library CPU/lead vs bare httpx at 16 in flight": ratio(
            "library", "httpx", 16, 16, "cpu_us"
        ),
        "library retention (req/s at 64 / at 4)": ratio("library", "library", 64, 4, "rps"),
        "library req/s at 64 vs httpx with its pool sized to 64 (the notes' setup)": ratio(
            "library", "httpx-sized", 64, 64, "rps"
        ),
        "library req/s at 64 vs httpx with default limits": ratio(
            "library", "httpx", 64, 64, "rps"
        ),
    }
    print("\nreference ratios (no targets; median of the rounds, min-max over rounds):")
    for label, values in reference.items():
        print(f"  {label}: {_median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
    summary["reference"] = [
        {"figure": label, "value": _median(values), "values": values}
        for label, values in reference.items()
    ]

    summary["gc_64"], gc_note = _gc_figures(data["gc"])
    summary["cold_calls"], cold_note = _cold_figures(data["cold"])

    targets = [
        Target(
            "library CPU/lead at 64 in flight minus bare aiohttp's CPU/request",
            "<=",
            120,
            "us",
            [a - b for a, b in per_round_of("library", "aiohttp", 64, 64, "cpu_us")],
            digits=0,
            notes=[gc_note],
        ),
        Target(
            "library CPU/lead over bare httpx's CPU/request at 1 in flight (ratio)",
            "<=",
            0.8,
            "",
            ratio("library", "httpx", 1, 1, "cpu_us"),
        ),
        Target(
            "parallel stage of three 20 ms vendors: p50 minus the slowest vendor",
            "<=",
            2.0,
            "ms",
            over["par"],
            notes=[stage_notes["par"], cold_note],
        ),
        Target(
            "sequential plan of three 20 ms vendors: p50 minus the sum of the vendors",
            "<=",
            2.0,
            "ms",
            over["seq"],
            notes=[stage_notes["seq"], cold_note],
        ),
    ]
    return summary, targets


class ImportLine(NamedTuple):
    """One line of ``-X importtime``, with the line of the module that imported it."""

    name: str
    depth: int
    self_us: int
    cumulative_us: int
    parent: int | None  # index of the importing module's line; None for the top


def _importtime_lines(stderr: str) -> list[ImportLine]:
    """The ``-X importtime`` lines of *stderr*, in their order: a module after its imports."""
    lines: list[ImportLine] = []
    waiting: dict[int, list[int]] = {}  # by depth: lines whose importer is not printed yet
    for text in stderr.splitlines():
        _, _, rest = text.partition("import time:")
        parts = rest.split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header, or anything else on stderr
        name = parts[2].rstrip()
        # One space after the bar, then two per level of nesting.
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        index = len(lines)
        for child in waiting.pop(depth + 1, []):
            lines[child] = lines[child]._replace(parent=index)
        waiting.setdefault(depth, []).append(index)
        lines.append(ImportLine(name.strip(), depth, int(parts[0]), int(parts[1]), None))
    return lines


def _own(name: str) -> bool:
    return name == "purecallerid" or name.startswith("purecallerid.")


def _package(name: str) -> str:
    return name.partition(".")[0]


def _costliest_foreign_import(lines: list[ImportLine], index: int) -> ImportLine | None:
    """The costliest module of another package imported (at any depth) under line *index*.

    Names what a package's time goes to (httpx's command line pulling in rich, say), which its
    own costliest child (a submodule of the same package) would hide.
    """
    package = _package(lines[index].name)
    found: list[ImportLine] = []
    for line in lines:
        if line.parent is None or _package(line.name) == package:
            continue
        if _package(lines[line.parent].name) != package:
            continue  # nested in another package's module: counted there
        ancestor: int | None = line.parent
        while ancestor is not None and ancestor != index:
            ancestor = lines[ancestor].parent
        if ancestor == index:
            found.append(line)
    return max(found, key=lambda line: line.cumulative_us, default=None)


def import_time() -> tuple[dict[str, Any], Target]:
    """``import purecallerid`` in fresh processes: the median cumulative time and its costs."""
    command = [sys.executable, "-X", "importtime", "-c", "import purecallerid"]
    # A first run fills the bytecode cache, which the others (and any host) then read.
    subprocess.run(command, capture_output=True, check=True)
    runs = []
    for _ in range(IMPORT_RUNS):
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        lines = _importtime_lines(done.stderr)
        top = next(line for line in lines if line.name == "purecallerid" and not line.depth)
        runs.append((top.cumulative_us, lines))
    runs.sort(key=lambda run: run[0])
    total, lines = runs[len(runs) // 2]
    # Sorting every line by cumulative time lists one chain of wrappers (the library's module,
    # the module it imports, ...). What a reader acts on is which other package costs and
    # who imports it: the first module of another package under each of the library's own.
    # Those never nest, so their times add up, with the library's own self times, to the total.
    entries = [
        line
        for line in lines
        if not _own(line.name) and line.parent is not None and _own(lines[line.parent].name)
    ]
    entries.sort(key=lambda line: line.cumulative_us, reverse=True)
    own_self = sum(line.self_us for line in lines if _own(line.name))
    others = sum(entry.cumulative_us for entry in entries)
    print(
        f"\nimport purecallerid, {IMPORT_RUNS} fresh processes: median {total / 1000:.0f} ms "
        f"cumulative (runs: {', '.join(f'{t / 1000:.0f}' for t, _ in runs)} ms)\n"
        f"  in the median run: purecallerid's own modules {own_self / 1000:.1f} ms (self), "
        f"the other packages they import {others / 1000:.1f} ms; the {IMPORT_TOP} of those "
        "costing most (cumulative), with their importer and the costliest other package under them:"
    )
    listed = []
    for entry in entries[:IMPORT_TOP]:
        largest = _costliest_foreign_import(lines, lines.index(entry))
        inner = (
            f"; of which {largest.name} {largest.cumulative_us / 1000:.1f} ms" if largest else ""
        )
        assert entry.parent is not None
        importer = lines[entry.parent].name
        print(
            f"  {entry.cumulative_us / 1000:>6.1f} ms  {entry.name} (imported by {importer}{inner})"
        )
        listed.append(
            {
                "module": entry.name,
                "cumulative_ms": entry.cumulative_us / 1000,
                "imported_by": importer,
                "costliest_import": largest.name if largest else None,
                "costliest_import_ms": largest.cumulative_us / 1000 if largest else None,
            }
        )
    figures = {
        "cumulative_ms": total / 1000,
        "runs_ms": [t / 1000 for t, _ in runs],
        "own_self_ms": own_self / 1000,
        "top": listed,
    }
    target = Target(
        '`python -X importtime -c "import purecallerid"`, cumulative',
        "<=",
        150,
        "ms",
        [t / 1000 for t, _ in runs],
        digits=0,
    )
    return figures, target


def _screen_targets(
    label: str, rows: int, figures: dict[str, Any] | None, skipped: str = ""
) -> list[Target]:
    speed = Target(f"`screen` of {rows:,} rows, {label}", ">=", 5000, "rows/s", digits=0)
    flat = Target(
        f"`screen`, {label}: peak RSS growth from {rows // 10:,} to {rows:,} rows (memory flat)",
        "<=",
        bench_cli_memory.flat_bound_mib(rows // 10, rows),
        "MiB",
        digits=1,
    )
    if figures is None:
        speed.skipped = flat.skipped = skipped
    else:
        speed.values = [figures["rows_per_s"]]
        flat.values = [figures["peak_growth_mib"]]
    return [speed, flat]


def _bare_pipeline(
    what: str, library: dict[str, Any], url: str, rows: int, record: str, **stores: str
) -> tuple[dict[str, Any], str]:
    """Run the bare pipeline (``_ceiling.py``) beside the library's screen; its figures, note.

    A failure is printed and written, not raised: a reference figure must not lose the run.
    """
    label = f"bare pipeline ({what}, no library), {rows:,} rows"
    try:
        bare = _ceiling.run(url, rows, record, **stores)
    except RuntimeError as exc:
        print(f"  {label}: failed ({exc})", flush=True)
        return {"failed": str(exc)}, f"{label}: failed"
    bare["library_fraction"] = library["rows_per_s"] / bare["rows_per_s"]
    note = (
        f"{label}: {bare['rows_per_s']:,.0f} rows/s, CPU {bare['cpu_us_per_row']:.0f} us/row; "
        f"the library's {library['rows_per_s']:,.0f} rows/s (CPU "
        f"{library['cpu_us_per_row']:.0f} us/row, its own row count, collector tuned) is "
        f"{bare['library_fraction']:.2f} of it"
    )
    print(f"  {note}", flush=True)
    return bare, note


def _records_in_memory(sqlite: dict[str, Any], url: str, rows: int) -> tuple[dict[str, Any], str]:
    """The SQLite screen again with its records in memory: the store's share of a row; note.

    A failure is printed and written, not raised: a reference figure must not lose the run.
    """
    label = f"the same screen with its records in memory (no store), {rows:,} rows"
    try:
        memory = bench_cli_memory.screen_records_in_memory(rows, url)
    except (RuntimeError, AssertionError) as exc:
        print(f"  {label}: failed ({exc})", flush=True)
        return {"failed": str(exc)}, f"{label}: failed"
    memory["sqlite_fraction"] = sqlite["rows_per_s"] / memory["rows_per_s"]
    memory["store_cpu_us_per_row"] = sqlite["cpu_us_per_row"] - memory["cpu_us_per_row"]
    note = (
        f"{label}: {memory['rows_per_s']:,.0f} rows/s, CPU {memory['cpu_us_per_row']:.0f} "
        f"us/row; with SQLite the library makes {memory['sqlite_fraction']:.2f} of that, and "
        f"the store adds {memory['store_cpu_us_per_row']:.0f} us of CPU per row"
    )
    print(f"  {note}", flush=True)
    return memory, note


def bulk_screening() -> tuple[dict[str, Any], list[Target]]:
    """``purecallerid screen`` with SQLite, then with PostgreSQL and Redis guards.

    Each beside its bare pipeline against the same simulator: the machine's ceiling.
    """
    print(
        f"\npurecallerid screen against the simulator, {bench_cli_memory.CONCURRENCY} in flight "
        "(a fresh process per run; seconds from its main, imports excluded), and the bare "
        "pipeline of each store (no target):",
        flush=True,
    )
    with bench_cli_memory.simulator() as url:
        return _bulk_screening(url)


def _bulk_screening(url: str) -> tuple[dict[str, Any], list[Target]]:
    figures: dict[str, Any] = {}
    sqlite = bench_cli_memory.measure(
        (SCREEN_ROWS // 10, SCREEN_ROWS), label="SQLite records", url=url
    )
    figures["sqlite"] = sqlite
    targets = _screen_targets("SQLite records", SCREEN_ROWS, sqlite)
    # A record the library wrote, for the bare pipelines to write one of the same size (the
    # PostgreSQL run's records stay in its server).
    record: str = sqlite.pop("record_sample")
    figures["sqlite_bare"], note = _bare_pipeline(
        "aiohttp + SQLite + CSV", sqlite, url, min(SCREEN_ROWS, CEILING_ROWS), record
    )
    targets[0].notes.append(note)
    figures["records_in_memory"], note = _records_in_memory(
        sqlite, url, min(SCREEN_ROWS, CEILING_ROWS)
    )
    targets[0].notes.append(note)

    label = "PostgreSQL records + Redis guards"
    servers: list[PostgresServer | RedisServer] = []
    missing: list[str] = []
    broken: list[str] = []  # installed, but would not start: said, rather than the run lost
    try:
        try:
            postgres = PostgresServer()
            servers.append(postgres)
        except PostgresMissingError:
            missing.append("postgres")
        except (subprocess.SubprocessError, OSError) as exc:
            broken.append(f"PostgreSQL did not start: {exc}")
        try:
            redis = RedisServer()
            servers.append(redis)
        except RedisMissingError:
            missing.append("redis-server")
        except RuntimeError as exc:
            broken.append(str(exc))
        if missing or broken:
            reason = "; ".join([f"no {'/'.join(missing)}"] * bool(missing) + broken)
            print(f"  {label}: skipped ({reason})")
            figures["postgres_redis"] = {"skipped": reason}
            return figures, targets + _screen_targets(label, SERVER_ROWS, None, reason)
        served = bench_cli_memory.measure(
            (SERVER_ROWS // 10, SERVER_ROWS),
            db_for=postgres.new_database,
            redis_url=redis.url,
            label=label,
            url=url,
        )
        figures["postgres_redis_bare"], note = _bare_pipeline(
            "aiohttp + PostgreSQL + 2 Redis round trips + CSV",
            served,
            url,
            min(SERVER_ROWS, CEILING_SERVER_ROWS),
            record,
            db=postgres.new_database(),
            redis_url=redis.url,
        )
    finally:
        for server in servers:
            server.stop()
    figures["postgres_redis"] = served
    server_targets = _screen_targets(label, SERVER_ROWS, served)
    server_targets[0].notes.append(note)
    return figures, targets + server_targets


def main() -> None:
    cores = sorted(os.sched_getaffinity(0))
    server_cmd = [sys.executable, str(HERE / "_server.py"), str(PORT)]
    if len(cores) > 1:
        server_cmd.append(str(cores[-1]))
        os.sched_setaffinity(0, {cores[0]})
    server = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, text=True)
    started = time.perf_counter()
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the benchmark server did not start")
        data = asyncio.run(measure())
    finally:
        server.kill()
        server.wait()
        # Every process started from here on inherits this one's cores: all of them, as
        # the command line and its servers would have in use.
        os.sched_setaffinity(0, cores)
    summary, targets = report(data)
    summary["import_time"], imports = import_time()
    summary["screen"], screening = bulk_screening()
    targets += [imports, *screening]
    if RUN_SCRIPTS:
        for script in SCRIPTS:
            print(f"\n$ python benchmarks/{script}", flush=True)
            subprocess.run([sys.executable, str(HERE / script)], check=True)
    seconds = round(time.perf_counter() - started, 1)
    summary["machine"] = {
        "python": sys.version.split()[0],
        "cores": len(cores),
        "pinned": len(cores) > 1,
        "httpx": httpx.__version__,
        "aiohttp": aiohttp.__version__,
        "seconds": seconds,
        "rounds": ROUNDS,
        "seconds_per_round": SECONDS,
        "screen_rows": SCREEN_ROWS,
        "screen_server_rows": SERVER_ROWS,
    }
    print(
        "\ntargets of the performance issue (figures from this run; per round: median of the "
        "rounds, min-max in brackets):"
    )
    for target in targets:
        print(target.line())
    summary["targets"] = [target.as_json() for target in targets]
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str))
    met = sum(target.met is True for target in targets)
    print(f"\n{met} of {len(targets)} targets met; figures written to {out} ({seconds} s)")


if __name__ == "__main__":
    main()
