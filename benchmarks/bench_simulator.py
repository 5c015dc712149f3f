"""Capacity of the simulator: requests per second it serves, so that it never limits a benchmark.

Run with ``.venv/bin/python benchmarks/bench_simulator.py``. The simulator runs in its own
process (pinned to CPU 0 with ``taskset`` when available); the load comes from a minimal
asyncio client in this process (pinned to CPU 1) holding N keep-alive connections in a closed
loop, each sending a leadexec screening and reading the answer. Figures are the median of
rounds (min-max in brackets), plus the simulator's own CPU time per request (from
``/proc``): its capacity on one core is about one second divided by that, whatever the client.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SECONDS = 1.5
ROUNDS = 3
CONCURRENCY = (1, 4, 16, 64)
SERVER = (
    "from purecallerid.testing import Simulator\n"
    "Simulator().run(on_ready=lambda s: print(s.url, flush=True))\n"
)


def _request(host: str, port: int, n: int) -> bytes:
    body = json.dumps(
        {
            "campaignId": "C1",
            "listName": "Main",
            "apiToken": "bench-token",
            "phone": f"212555{n % 100:04d}"[-10:],
            "zip": "02134",
        }
    ).encode()
    head = (
        f"POST /singleLeadLoading HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _worker(host: str, port: int, stop: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = _request(host, port, 50)  # an unlisted line: "Accepted, no reason"
    done = 0
    while time.perf_counter() < stop:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        done += 1
    counts.append(done)
    writer.close()
    await writer.wait_closed()


async def _round(host: str, port: int, concurrency: int) -> tuple[float, int]:
    counts: list[int] = []
    started = time.perf_counter()
    stop = started + SECONDS
    await asyncio.gather(*(_worker(host, port, stop, counts) for _ in range(concurrency)))
    return sum(counts) / (time.perf_counter() - started), sum(counts)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process *pid* (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> dict[str, Any]:
    taskset = shutil.which("taskset")
    cpus = os.cpu_count() or 1
    pin_server = [taskset, "-c", "0"] if taskset and cpus > 1 else []
    if taskset and cpus > 1:
        os.sched_setaffinity(0, {1})
    server = subprocess.Popen(
        [*pin_server, sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        host, port = url.removeprefix("http://").split(":")
        results: dict[str, Any] = {}
        asyncio.run(_round(host, int(port), 4))  # warm-up
        for concurrency in CONCURRENCY:
            cpu_before = _cpu_seconds(server.pid)
            runs = [asyncio.run(_round(host, int(port), concurrency)) for _ in range(ROUNDS)]
            cpu_per_request = (_cpu_seconds(server.pid) - cpu_before) / sum(n for _, n in runs)
            rates = [rate for rate, _ in runs]
            median = statistics.median(rates)
            print(
                f"{concurrency:>3} connections: {median:8,.0f} req/s "
                f"[{min(rates):,.0f}-{max(rates):,.0f}]; simulator CPU "
                f"{cpu_per_request * 1e6:.0f} us/request (capacity ~{1 / cpu_per_request:,.0f} "
                "req/s per core)"
            )
            results[str(concurrency)] = {"rate": median, "cpu_us": cpu_per_request * 1e6}
        return results
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
