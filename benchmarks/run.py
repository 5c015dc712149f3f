"""`make bench`: the library against bare httpx and the floor, at 1, 4, 16 and 64 in flight.

A minimal asyncio server (``_server.py``) runs in its own process on its own core; this
process (pinned to another core) runs the contenders in interleaved rounds:

- ``floor``: a minimal raw asyncio HTTP/1.1 client (what the machine can do at all);
- ``httpx``: a bare ``httpx.AsyncClient`` posting the same JSON (what a host would write),
  with httpx's default limits;
- ``httpx-sized``: the same with its pool sized to the concurrency (the setup of the figures
  in the project's performance notes, where httpx falls to about 55 requests/s at 64);
- ``aiohttp``: a bare ``aiohttp.ClientSession`` (reference);
- ``library``: one screening through the library's whole single-integration path
  (``AsyncScreener`` + ``PureCallerIDIntegration``: mapping, request, answer, rules, record
  in memory), with the library's defaults;
- ``library-httpx8``: the same with httpx's own transport and a pool of 8 (the alternative
  the defaults were chosen against).

Then the orchestrator with three integrations answering after 20 ms, in one parallel stage
and in three sequential stages. It prints a table (medians, min-max over rounds), checks the
targets of the performance issue as ratios measured in this run, and writes the figures to
``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx

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
CONCURRENCY = (1, 4, 16, 64)
ROUNDS = 3
SECONDS = 1.0  # per contender, concurrency and round
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
    orchestra: list[dict[str, list[float]]] = []
    await orchestrated(contenders, "par", 3)
    await orchestrated(contenders, "seq", 3)
    for _ in range(ROUNDS):
        one = {"vendor": await vendor_latency(20)}
        for campaign in ("par", "seq"):
            one[campaign] = await orchestrated(contenders, campaign, 20)
        orchestra.append(one)
    await contenders.close()
    return {"rounds": rounds, "orchestra": orchestra}


def _median(values: list[float]) -> float:
    return statistics.median(values)


def report(data: dict[str, Any]) -> dict[str, Any]:
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
    orchestra: dict[str, Any] = {
        "parallel_p50_ms": par_p50,
        "parallel_p50_by_round_ms": [r["par"] for r in per_round],
        "sequential_p50_ms": seq_p50,
        "sequential_p50_by_round_ms": [r["seq"] for r in per_round],
        "vendor_p50_ms": vendor,
        "latency_ms": 20,
        "integrations": 3,
    }
    summary["orchestrator"] = orchestra
    print(
        f"\none 20 ms vendor call through the floor client: p50 {vendor:.2f} ms"
        f"\norchestrator, 3 integrations at 20 ms: parallel p50 {par_p50:.1f} ms, "
        f"sequential p50 {seq_p50:.1f} ms"
    )

    def ratio(top: str, bottom: str, top_conc: int, bottom_conc: int, key: str) -> list[float]:
        return [
            rounds[top][top_conc][n][key] / rounds[bottom][bottom_conc][n][key]
            for n in range(ROUNDS)
        ]

    targets: list[tuple[str, list[float], str, float]] = [
        (
            "library CPU/lead vs bare httpx at 1 in flight",
            ratio("library", "httpx", 1, 1, "cpu_us"),
            "<=",
            1.10,
        ),
        (
            "library CPU/lead vs bare httpx at 16 in flight",
            ratio("library", "httpx", 16, 16, "cpu_us"),
            "<=",
            1.10,
        ),
        (
            "parallel stage p50 minus the slowest vendor latency (ms)",
            [r["par"] - r["vendor"] for r in per_round],
            "<=",
            5.0,
        ),
        (
            "sequential plan p50 minus the sum of vendor latencies (ms)",
            [r["seq"] - 3 * r["vendor"] for r in per_round],
            "<=",
            5.0,
        ),
        (
            "library retention (req/s at 64 / at 4)",
            ratio("library", "library", 64, 4, "rps"),
            ">=",
            0.8,
        ),
        (
            "library req/s at 64 vs httpx with its pool sized to 64 (the notes' setup)",
            ratio("library", "httpx-sized", 64, 64, "rps"),
            ">=",
            5.0,
        ),
        (
            "library req/s at 64 vs httpx with default limits (for reference)",
            ratio("library", "httpx", 64, 64, "rps"),
            ">=",
            5.0,
        ),
    ]
    print("\ntargets (ratios from this run: median of the rounds, min-max over rounds):")
    checks = []
    for label, values, op, bound in targets:
        value = _median(values)
        ok = value <= bound if op == "<=" else value >= bound
        checks.append(
            {
                "target": label,
                "value": value,
                "min": min(values),
                "max": max(values),
                "bound": f"{op} {bound}",
                "met": ok,
            }
        )
        print(
            f"  {'met ' if ok else 'MISS'} {label}: {value:.2f} "
            f"({min(values):.2f}-{max(values):.2f}; target {op} {bound})"
        )
    summary["targets"] = checks
    return summary


def main() -> None:
    cores = sorted(os.sched_getaffinity(0))
    server_cmd = [sys.executable, str(HERE / "_server.py"), str(PORT)]
    if len(cores) > 1:
        server_cmd.append(str(cores[-1]))
        os.sched_setaffinity(0, {cores[0]})
    server = subprocess.Popen(server_cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("the benchmark server did not start")
        started = time.perf_counter()
        data = asyncio.run(measure())
        summary = report(data)
        summary["machine"] = {
            "python": sys.version.split()[0],
            "cores": len(cores),
            "pinned": len(cores) > 1,
            "httpx": httpx.__version__,
            "aiohttp": aiohttp.__version__,
            "seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        server.kill()
        server.wait()
    for script in (
        "bench_mapping.py",
        "bench_rules.py",
        "bench_orchestrator.py",
        "bench_records.py",
        "bench_lists.py",
        "bench_observe.py",
    ):
        print(f"\n$ python benchmarks/{script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(f"\nfigures written to {out} ({summary['machine']['seconds']} s)")


if __name__ == "__main__":
    main()
