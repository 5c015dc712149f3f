"""``purecallerid screen`` over real loopback HTTP: a few thousand rows, resume, interruption."""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from _helpers import pcid_settings_file
from purecallerid import SQLiteResultStore
from purecallerid._cli.screen import ScreenJob, run_screen
from purecallerid.cli import main
from purecallerid.testing import Simulator

ROWS = 2000
TOKEN = "tok-SCREEN-SECRET-5"


@pytest.fixture(autouse=True)
def wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are checked by content: give them room whatever the caller's terminal."""
    monkeypatch.setenv("COLUMNS", "200")


def write_leads(path: Path, rows: int = ROWS) -> Path:
    """Distinct valid numbers, every 100th a DNC test number."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip", "first_name"])
        for n in range(rows):
            phone = "212-555-0102" if n % 100 == 0 else f"212-{300 + n // 10000}-{n % 10000:04d}"
            writer.writerow([f"L{n:05d}", phone, "10001", f"Name{n}"])
    return path


def write_settings(folder: Path, base_url: str) -> Path:
    return pcid_settings_file(folder, base_url, TOKEN, "bulk")


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def screen_argv(folder: Path, *extra: str) -> list[str]:
    return [
        "screen",
        str(folder / "leads.csv"),
        "--settings",
        str(folder / "settings.toml"),
        "--campaign",
        "bulk",
        "--out",
        str(folder / "out.csv"),
        "--concurrency",
        "16",
        *extra,
    ]


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    with Simulator(api_token=TOKEN) as sim:
        yield sim


def calls(sim: Simulator) -> int:
    return int(sim.stats()["total_requests"])


def test_screen_a_few_thousand_rows(
    tmp_path: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every row is screened once, written in input order, with progress and a summary."""
    write_leads(tmp_path / "leads.csv")
    write_settings(tmp_path, simulator.url)
    assert main(screen_argv(tmp_path)) == 0
    rows = read_output(tmp_path / "out.csv")
    assert [r["lead_id"] for r in rows] == [f"L{n:05d}" for n in range(ROWS)]
    assert [r["line"] for r in rows] == [str(n + 2) for n in range(ROWS)]
    assert sum(r["decision"] == "reject" for r in rows) == ROWS // 100
    assert {r["pcid.status"] for r in rows} == {"completed"}
    assert rows[0]["reasons"] == "dnc"
    assert rows[0]["pcid.answer"] == "Rejected"
    assert rows[0]["pcid.reason"] == "DNC"
    assert calls(simulator) == ROWS
    captured = capsys.readouterr()
    assert f"{ROWS:,}/{ROWS:,}" in captured.err  # the progress display's last frame
    assert "new/s" in captured.err
    assert f"accept {ROWS - ROWS // 100:,}  flag 0  qa 0  reject {ROWS // 100}" in captured.err
    assert f"{ROWS:,} rows: {ROWS:,} screened now, 0 recorded earlier, 0 invalid" in captured.out
    assert "new/s" in captured.out
    assert (tmp_path / "out.records.db").exists()


def test_rerun_spends_no_vendor_call(
    tmp_path: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second run over recorded leads calls nobody and rewrites the full output."""
    write_leads(tmp_path / "leads.csv", 300)
    write_settings(tmp_path, simulator.url)
    assert main(screen_argv(tmp_path, "--no-progress")) == 0
    first = read_output(tmp_path / "out.csv")
    before = calls(simulator)
    (tmp_path / "out.csv").unlink()
    assert main(screen_argv(tmp_path, "--no-progress")) == 0
    assert calls(simulator) == before == 300
    assert read_output(tmp_path / "out.csv") == first
    assert "300 rows: 0 screened now, 300 recorded earlier" in capsys.readouterr().out


def test_rescreen_calls_again(tmp_path: Path, simulator: Simulator) -> None:
    """--rescreen screens recorded leads again."""
    write_leads(tmp_path / "leads.csv", 50)
    write_settings(tmp_path, simulator.url)
    assert main(screen_argv(tmp_path, "--no-progress")) == 0
    assert main(screen_argv(tmp_path, "--no-progress", "--rescreen")) == 0
    assert calls(simulator) == 100


def test_cancelled_run_resumes_without_second_calls(
    tmp_path: Path, simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cancelled midway, then re-run: only the leads without a record reach the vendor."""
    leads = write_leads(tmp_path / "leads.csv")
    settings = write_settings(tmp_path, simulator.url)
    out = tmp_path / "out.csv"
    job = ScreenJob(
        leads=leads, settings=settings, campaign="bulk", out=out, concurrency=16, progress=False
    )

    async def interrupted() -> None:
        task = asyncio.create_task(run_screen(job, Console(quiet=True)))
        # The simulator counts in its own thread: polling its stats is the only signal.
        while calls(simulator) < ROWS // 4:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    first_calls = calls(simulator)
    store = SQLiteResultStore(tmp_path / "out.records.db")
    recorded = store.count()
    store.close()
    assert 0 < recorded < ROWS
    assert not out.exists()
    assert not list(tmp_path.glob("out.csv*.partial"))

    assert main(screen_argv(tmp_path, "--no-progress")) == 0
    assert calls(simulator) - first_calls == ROWS - recorded
    assert len(read_output(out)) == ROWS
    assert f"{ROWS - recorded:,} screened now, {recorded:,} recorded earlier" in (
        capsys.readouterr().out
    )


def test_killed_console_script_resumes(tmp_path: Path) -> None:
    """Ctrl-C stops `purecallerid screen` with exit 130; the re-run finishes the rest."""
    script = shutil.which("purecallerid", path=str(Path(sys.executable).parent))
    assert script is not None, "the console script is not installed in this environment"
    write_leads(tmp_path / "leads.csv", 400)
    with Simulator(api_token=TOKEN, latency=0.02) as sim:
        write_settings(tmp_path, sim.url)
        with subprocess.Popen(  # noqa: S603 - our own console script
            [script, *screen_argv(tmp_path, "--no-progress")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "COLUMNS": "300"},
        ) as process:
            try:
                deadline = time.monotonic() + 20
                while calls(sim) < 50 and time.monotonic() < deadline:
                    time.sleep(0.01)
                process.send_signal(signal.SIGINT)
                _, err = process.communicate(timeout=30)
            finally:
                # Whatever failed above, never leave the run going (Popen's exit waits).
                if process.poll() is None:
                    process.kill()
        first_calls = calls(sim)
        assert process.returncode == 130, err
        assert "interrupted: the leads screened so far are recorded in" in err
        assert "Traceback" not in err
        store = SQLiteResultStore(tmp_path / "out.records.db")
        recorded = store.count()
        store.close()
        assert main(screen_argv(tmp_path, "--no-progress")) == 0
        assert calls(sim) - first_calls == 400 - recorded
    assert len(read_output(tmp_path / "out.csv")) == 400


def test_screen_tunes_the_collector_for_the_run_only(
    tmp_path: Path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run goes with start-up objects frozen and a larger young generation; then as before."""
    import gc  # noqa: PLC0415 - this test alone reads the collector

    from purecallerid._cli import commands  # noqa: PLC0415 - patched below

    seen: list[tuple[tuple[int, int, int], int]] = []

    async def observed(job: ScreenJob, console: Console) -> object:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return await run_screen(job, console)

    monkeypatch.setattr(commands, "run_screen", observed)
    before = (gc.get_threshold(), gc.get_freeze_count())
    write_leads(tmp_path / "leads.csv", 40)
    write_settings(tmp_path, simulator.url)
    assert main(screen_argv(tmp_path, "--no-progress")) == 0
    [(threshold, frozen)] = seen
    assert threshold == (commands.SCREEN_GC_THRESHOLD, *before[0][1:])
    assert frozen > 0  # the imports' objects, out of every collection
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
    assert len(read_output(tmp_path / "out.csv")) == 40


def test_an_interrupted_screen_puts_the_collector_back(
    tmp_path: Path, simulator: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during the run: exit 130, and the collector is as it was before the command."""
    import gc  # noqa: PLC0415 - this test alone reads the collector

    from purecallerid._cli import commands  # noqa: PLC0415 - patched below

    async def interrupted(job: ScreenJob, console: Console) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "run_screen", interrupted)
    before = (gc.get_threshold(), gc.get_freeze_count())
    write_leads(tmp_path / "leads.csv", 5)
    write_settings(tmp_path, simulator.url)
    assert main(screen_argv(tmp_path, "--no-progress")) == 130
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_the_collector_tuning_leaves_a_hosts_state_alone() -> None:
    """Objects a host froze stay frozen; overlapping runs put back the host's threshold."""
    import gc  # noqa: PLC0415 - this test alone reads the collector

    from purecallerid._cli.commands import SCREEN_GC_THRESHOLD, collector_tuned  # noqa: PLC0415

    threshold = gc.get_threshold()
    gc.freeze()
    try:
        outer = collector_tuned()
        inner = collector_tuned()
        outer.__enter__()
        inner.__enter__()
        outer.__exit__(None, None, None)  # the first run ends while the second still goes
        assert gc.get_threshold() == (SCREEN_GC_THRESHOLD, *threshold[1:])
        inner.__exit__(None, None, None)
        assert gc.get_threshold() == threshold
        assert gc.get_freeze_count() > 0  # unfreezing would have thawed them all
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
