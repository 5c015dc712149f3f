"""Workers sharing one records database: vendor calls per lead, and a worker killed mid-run.

Run with ``.venv/bin/python benchmarks/bench_fleet.py`` (about a minute; not part of
``make bench``). 2 and 4 ``purecallerid screen`` processes get the same 400 leads and one
records database (a SQLite file, then a throwaway local PostgreSQL), against the simulator;
then one worker is SIGKILLed mid-run and two others finish. It prints the vendor calls, the
callable leads and the rows decided in every output.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from _postgres import PostgresMissingError, PostgresServer
from purecallerid.testing import Simulator

TOKEN = "tok-bench-fleet-1"  # noqa: S105 - the simulator's test token
LEADS = 400
IN_FLIGHT = 16


def prepare(folder: Path, url: str) -> None:
    with (folder / "leads.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip"])
        for n in range(LEADS):
            writer.writerow([f"L{n:05d}", f"212-3{n // 1000:02d}-{n % 1000:04d}", "10001"])
    (folder / "settings.toml").write_text(
        f"""
[campaigns.bulk]
deadline = 2
[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{url}"
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
"""
    )


def worker(folder: Path, number: int, db: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "purecallerid", "screen", str(folder / "leads.csv"),
         "--settings", str(folder / "settings.toml"), "--campaign", "bulk",
         "--out", str(folder / f"out{number}.csv"), "--db", db, "--concurrency", str(IN_FLIGHT),
         "--no-progress", "--claim-lease", "5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def decided(folder: Path, number: int) -> int:
    with (folder / f"out{number}.csv").open(newline="") as file:
        return sum(1 for row in csv.DictReader(file) if row["decision"])


def run(label: str, db_for: object, workers: int, *, kill: bool = False) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    db = db_for() if callable(db_for) else str(folder / "shared.db")
    with Simulator(api_token=TOKEN, latency=0.03) as sim:
        prepare(folder, sim.url)
        started = time.perf_counter()
        killed = 0
        numbers = list(range(workers))
        if kill:
            doomed = worker(folder, 99, db)
            while sim.stats()["total_requests"] < LEADS // 4:
                time.sleep(0.005)
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
            killed = sim.stats()["total_requests"]
        processes = [worker(folder, n, db) for n in numbers]
        for process in processes:
            process.wait(timeout=300)
        seconds = time.perf_counter() - started
        calls = sim.stats()["total_requests"]
    rows = [decided(folder, n) for n in numbers]
    extra = f", worker killed after {killed} calls" if kill else ""
    print(
        f"fleet, {label}, {workers} workers{extra}: {calls} vendor calls for {LEADS} callable "
        f"leads (+{calls - LEADS}), rows decided per output {rows}, {seconds:.1f} s"
    )


def main() -> None:
    """Print the figures."""
    run("SQLite", None, 2)
    run("SQLite", None, 4)
    run("SQLite", None, 2, kill=True)
    try:
        server = PostgresServer()
    except PostgresMissingError as exc:
        print(f"PostgreSQL: skipped ({exc})")
        return
    try:
        run("PostgreSQL", server.new_database, 2)
        run("PostgreSQL", server.new_database, 4)
        run("PostgreSQL", server.new_database, 2, kill=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
