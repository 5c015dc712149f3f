"""Peak memory of ``purecallerid screen`` for 10k and 100k rows: it should stay flat.

Run with ``.venv/bin/python benchmarks/bench_cli_memory.py`` (about two minutes; not part of
``make test``). The simulator runs in its own process (``purecallerid simulate --port 0``);
each screen runs in a fresh process, which reports its peak resident set size
(``getrusage``'s ``ru_maxrss``) right after its imports and at the end. The CSV is streamed,
results are written through a bounded window and records go to SQLite, so the peak should
not grow with the row count.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SIZES = (10_000, 100_000)
CONCURRENCY = 16
TOKEN = "bench-token-123456"  # noqa: S105 - the simulator accepts any token
CHILD = """
import json, resource, sys, time
from purecallerid.cli import main
from purecallerid._cli import commands as _cli_commands  # its imports, before the baseline
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
code = main(sys.argv[1:])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("BENCH " + json.dumps({"code": code, "seconds": seconds, "baseline_kb": baseline,
                            "peak_kb": peak}))
"""


def write_leads(path: Path, rows: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip", "first_name", "last_name", "email"])
        for n in range(rows):
            phone = f"212-{300 + n // 10000}-{n % 10000:04d}"
            writer.writerow([f"L{n:06d}", phone, "10001", "Ada", f"Row{n}", f"r{n}@example.com"])


def write_settings(path: Path, base_url: str) -> None:
    path.write_text(
        f"""
[campaigns.bulk]
[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{base_url}"
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
rules = ['reject when status = "Rejected" and reason in ("INACTIVE", "DNC", "TCPA_FLAG")']
"""
    )


def screen(folder: Path, rows: int) -> dict[str, Any]:
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
    ]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"screen failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH "))
    assert result["code"] == 0, done.stderr
    return result


def main() -> dict[int, dict[str, Any]]:
    script = shutil.which("purecallerid", path=str(Path(sys.executable).parent))
    assert script is not None, "install the project first (make test or pip install -e .)"
    simulator = subprocess.Popen(
        [script, "simulate", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    results: dict[int, dict[str, Any]] = {}
    try:
        assert simulator.stdout is not None
        url = simulator.stdout.readline().split()[-1]
        with tempfile.TemporaryDirectory() as folder:
            write_settings(Path(folder) / "settings.toml", url)
            for rows in SIZES:
                result = screen(Path(folder), rows)
                results[rows] = result
                print(
                    f"{rows:>7,} rows: peak RSS {result['peak_kb'] / 1024:6.1f} MiB "
                    f"(after imports {result['baseline_kb'] / 1024:.1f} MiB); "
                    f"{result['seconds']:.1f} s, {rows / result['seconds']:,.0f} rows/s"
                )
    finally:
        simulator.terminate()
        simulator.wait()
    small, large = (results[n]["peak_kb"] for n in SIZES)
    print(f"peak ratio {SIZES[1] // SIZES[0]}x rows: {large / small:.2f}x memory")
    return results


if __name__ == "__main__":
    main()
