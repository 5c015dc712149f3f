"""Rows per second and peak memory of ``purecallerid screen`` at two sizes: memory should stay flat.

Run with ``.venv/bin/python benchmarks/bench_cli_memory.py`` (about two minutes; ``make bench``
runs the same measurement through :func:`measure`). The simulator runs in its own process
(``purecallerid simulate --port 0``); each screen runs in a fresh process, which reports its
peak resident set size (``getrusage``'s ``ru_maxrss``) right after its imports and at the end,
and the seconds and CPU seconds its ``main`` took (imports excluded). The CSV is streamed,
results are written through a bounded window and records go to SQLite (or to the PostgreSQL
URL given as ``db``), so the peak should not grow with the row count.

Memory counts as flat when the peak at the larger size is at most 15 MiB above the peak at
the smaller one for 90,000 more rows (the issue's 10,000 and 100,000), in proportion for other
sizes: under 175 bytes per added row. Bytes per row rather than a percentage of the peak: the
peak is mostly the imports, which a percentage would scale with, while what matters is what is
kept per row; and in proportion, so that a run of fewer rows is held to the same rate.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import AbstractContextManager, closing, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SIZES = (10_000, 100_000)
CONCURRENCY = 16
FLAT_MIB = 15.0  # allowed peak RSS growth ...
FLAT_ROWS = 90_000  # ... for this many more rows
TOKEN = "bench-token-123456"  # noqa: S105 - the simulator accepts any token
# With BENCH_RECORDS=memory the child keeps its records in an InMemoryResultStore instead of
# the database given: what the records store costs a row, by difference (no CLI option does
# this; the benchmark swaps the store the command opens).
CHILD = """
import contextlib, json, os, resource, sys, time
from purecallerid.cli import main
from purecallerid._cli import commands as _cli_commands  # its imports, before the baseline
if os.environ.get("BENCH_RECORDS") == "memory":
    from purecallerid import InMemoryResultStore
    from purecallerid._cli import screen as _cli_screen
    @contextlib.asynccontextmanager
    async def _in_memory(db):
        yield InMemoryResultStore()
    _cli_screen.open_records = _in_memory
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started, cpu = time.perf_counter(), time.process_time()
code = main(sys.argv[1:])
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("BENCH " + json.dumps({"code": code, "seconds": seconds, "cpu_s": cpu,
                            "baseline_kb": baseline, "peak_kb": peak}))
"""
# Guards that each touch the state backend on every call, with limits no run reaches: what
# they cost, not what they refuse. No cache: it must stay off for PureCallerID (a cached
# answer is a lead never loaded into the dialer list).
REDIS_GUARDS = """quota = { daily = 100000000 }
rate_limit = { per_second = 1000000, burst = 1000 }
circuit_breaker = { failures = 1000, cooldown = 30 }
"""


def write_leads(path: Path, rows: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip", "first_name", "last_name", "email"])
        for n in range(rows):
            phone = f"212-{300 + n // 10000}-{n % 10000:04d}"
            writer.writerow([f"L{n:06d}", phone, "10001", "Ada", f"Row{n}", f"r{n}@example.com"])


def write_settings(path: Path, base_url: str, redis_url: str | None = None) -> None:
    """The campaign ``bulk``; with *redis_url*, Redis-backed guards on its integration."""
    state = f'[state]\nbackend = "redis"\nurl = "{redis_url}"\n\n' if redis_url else ""
    guards = REDIS_GUARDS if redis_url else ""
    path.write_text(
        f"""{state}
[campaigns.bulk]
[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{base_url}"
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
rules = ['reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG")']
{guards}"""
    )


def screen(
    folder: Path, rows: int, db: str | None = None, *, records_in_memory: bool = False
) -> dict[str, Any]:
    """Screen *rows* leads in a fresh process; its seconds and peak RSS (KiB).

    *records_in_memory* keeps the records in the child's memory instead of *db* (see
    ``CHILD``); then no record sample is read back.
    """
    leads = folder / f"leads-{rows}.csv"
    write_leads(leads, rows)
    argv = [
        "screen",
        str(leads),
        "--settings",
        str(folder / "settings.toml"),
        "--campaign",
        "bulk",
        "--out",
        str(folder / f"out-{rows}.csv"),
        "--concurrency",
        str(CONCURRENCY),
        "--no-progress",
        *(["--db", db] if db else []),
    ]
    environ = {**os.environ, "BENCH_RECORDS": "memory" if records_in_memory else ""}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv],
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"screen failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    assert result["code"] == 0, done.stderr
    result["rows"] = rows
    result["rows_per_s"] = rows / result["seconds"]
    result["cpu_us_per_row"] = result["cpu_s"] / rows * 1e6
    if db is None and not records_in_memory:  # the SQLite file next to the output: a sample
        with closing(sqlite3.connect(folder / f"out-{rows}.records.db")) as records:
            result["record_sample"] = records.execute(
                "SELECT record FROM lead_records LIMIT 1"
            ).fetchone()[0]
    return result


@contextmanager
def simulator() -> Iterator[str]:
    """``purecallerid simulate`` in its own process: its URL."""
    script = shutil.which("purecallerid", path=str(Path(sys.executable).parent))
    assert script is not None, "install the project first (make test or pip install -e .)"
    process = subprocess.Popen(
        [script, "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},  # the URL on one line
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().split()[-1]
    finally:
        process.terminate()
        process.wait()


def screen_records_in_memory(rows: int, url: str) -> dict[str, Any]:
    """The SQLite run's screen of *rows* leads with its records kept in memory instead."""
    with tempfile.TemporaryDirectory() as folder:
        write_settings(Path(folder) / "settings.toml", url)
        return screen(Path(folder), rows, records_in_memory=True)


def flat_bound_mib(small: int, large: int) -> float:
    """The peak RSS growth (MiB) allowed from *small* to *large* rows for memory to be flat."""
    return FLAT_MIB * (large - small) / FLAT_ROWS


def measure(
    sizes: tuple[int, int] = SIZES,
    *,
    db_for: Callable[[], str] | None = None,
    redis_url: str | None = None,
    label: str = "SQLite",
    url: str | None = None,
) -> dict[str, Any]:
    """Screen each size in turn; rows/s at the larger, peak RSS growth from the smaller.

    *db_for* gives a fresh records database URL per size (default: a SQLite file next to the
    output, and then ``record_sample`` is the JSON text of one record of the larger run);
    *redis_url* configures Redis-backed guards; *url* is a running simulator's (default: one
    of its own).
    """
    runs: dict[int, dict[str, Any]] = {}
    running: AbstractContextManager[str] = simulator() if url is None else nullcontext(url)
    with running as served, tempfile.TemporaryDirectory() as folder:
        write_settings(Path(folder) / "settings.toml", served, redis_url)
        for rows in sizes:
            result = screen(Path(folder), rows, db_for() if db_for else None)
            runs[rows] = result
            print(
                f"  {label}, {rows:>7,} rows: peak RSS {result['peak_kb'] / 1024:6.1f} MiB "
                f"(after imports {result['baseline_kb'] / 1024:.1f} MiB); "
                f"{result['seconds']:.1f} s, {result['rows_per_s']:,.0f} rows/s, "
                f"CPU {result['cpu_us_per_row']:.0f} us/row",
                flush=True,
            )
    small, large = (runs[n] for n in sizes)
    growth = (large["peak_kb"] - small["peak_kb"]) / 1024
    per_row = growth * 1024 * 1024 / (sizes[1] - sizes[0])
    bound = flat_bound_mib(*sizes)
    print(
        f"  {label}: peak RSS {growth:+.1f} MiB from {sizes[0]:,} to {sizes[1]:,} rows, "
        f"{per_row:.0f} bytes per added row (flat: <= +{bound:.1f} MiB)",
        flush=True,
    )
    sample = {"record_sample": large.pop("record_sample")} if "record_sample" in large else {}
    small.pop("record_sample", None)
    return {
        "label": label,
        "rows": sizes[1],
        "rows_per_s": large["rows_per_s"],
        "cpu_us_per_row": large["cpu_us_per_row"],
        "peak_growth_mib": growth,
        "peak_growth_bytes_per_row": per_row,
        "flat_bound_mib": bound,
        "concurrency": CONCURRENCY,
        "runs": {str(n): r for n, r in runs.items()},
        **sample,
    }


if __name__ == "__main__":
    measure()
