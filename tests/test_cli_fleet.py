"""Many ``purecallerid screen`` workers sharing one records database: one vendor call per lead."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from purecallerid import (
    Action,
    IntegrationRecord,
    IntegrationStatus,
    ScreeningRecord,
    SQLiteResultStore,
)
from purecallerid.cli import main
from purecallerid.testing import Simulator

TOKEN = "tok-FLEET-SECRET-77"
LEADS = 300


def write_leads(path: Path, rows: int = LEADS) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip"])
        for n in range(rows):
            phone = "212-555-0102" if n % 50 == 0 else f"212-{300 + n // 10000}-{n % 10000:04d}"
            writer.writerow([f"L{n:05d}", phone, "10001"])
    return path


def write_settings(folder: Path, base_url: str, deadline: float = 15) -> Path:
    path = folder / "settings.toml"
    path.write_text(
        f"""
[campaigns.bulk]
deadline = {deadline}
[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{base_url}"
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
rules = ['dnc: reject when status = "Rejected" and reason = "DNC"']
"""
    )
    return path


def worker(
    folder: Path,
    number: int,
    db: str,
    *extra: str,
    out: str | None = None,
    sigint_ignored: bool = False,
) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own module
        [
            sys.executable, "-m", "purecallerid", "screen", str(folder / "leads.csv"),
            "--settings", str(folder / "settings.toml"), "--campaign", "bulk",
            "--out", out or str(folder / f"out{number}.csv"), "--db", db,
            "--concurrency", "16", "--no-progress", *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        # As a script's `command &` starts it: SIGINT ignored, which Python keeps.
        preexec_fn=ignore_sigint if sigint_ignored else None,  # noqa: PLW1509 - no threads here
    )  # fmt: skip


def ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def finish(processes: list[subprocess.Popen[str]], timeout: float = 120) -> None:
    try:
        for process in processes:
            _, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, err
    finally:
        for process in processes:  # a failed worker must not leave the others running
            if process.poll() is None:
                process.kill()
                process.communicate()


def outputs(folder: Path, workers: int | list[int]) -> list[list[dict[str, str]]]:
    found = []
    for number in range(workers) if isinstance(workers, int) else workers:
        with (folder / f"out{number}.csv").open(newline="") as file:
            found.append(list(csv.DictReader(file)))
    return found


def db_for(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "shared.db")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize("workers", [2, 4])
def test_workers_sharing_records_call_the_vendor_once_per_lead(
    kind: str, workers: int, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """N workers given the same leads: vendor calls = leads, every row of every output decided."""
    write_leads(tmp_path / "leads.csv")
    db = db_for(kind, tmp_path, request)
    with Simulator(api_token=TOKEN, latency=0.01) as sim:
        write_settings(tmp_path, sim.url)
        summaries = [tmp_path / f"summary{n}.json" for n in range(workers)]
        finish(
            [worker(tmp_path, n, db, "--summary-json", str(summaries[n])) for n in range(workers)]
        )
        calls = sim.stats()["total_requests"]
    assert calls == LEADS
    # Each worker counts what it screened itself: the others' records are found, not made.
    counts = [json.loads(path.read_text()) for path in summaries]
    assert sum(count["screened_now"] for count in counts) == LEADS
    assert all(count["screened_now"] + count["recorded_earlier"] == LEADS for count in counts)
    for rows in outputs(tmp_path, workers):
        assert len(rows) == LEADS
        assert all(row["decision"] in {"accept", "reject"} for row in rows)
        assert sum(row["decision"] == "reject" for row in rows) == LEADS // 50
    out = tmp_path / "export.jsonl"
    assert main(["records", "export", "--db", db, "--out", str(out)]) == 0
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(exported) == LEADS
    assert {record["version"] for record in exported} == {1}


def test_a_killed_workers_leads_are_finished_by_the_others(tmp_path: Path) -> None:
    """A worker SIGKILLed mid-run: the others take its leads over after the lease."""
    write_leads(tmp_path / "leads.csv")
    db = str(tmp_path / "shared.db")
    with Simulator(api_token=TOKEN, latency=0.05) as sim:
        write_settings(tmp_path, sim.url, deadline=2)
        doomed = worker(tmp_path, 0, db, "--claim-lease", "3")
        deadline = time.monotonic() + 30
        while sim.stats()["total_requests"] < 40 and time.monotonic() < deadline:
            time.sleep(0.005)
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate()
        killed_at = sim.stats()["total_requests"]
        finish([worker(tmp_path, n, db, "--claim-lease", "3") for n in (1, 2)])
        calls = sim.stats()["total_requests"]
    # At most the killed worker's calls in flight (16) are made twice.
    assert LEADS <= calls <= LEADS + 16
    assert killed_at >= 40
    for rows in outputs(tmp_path, [1, 2]):
        assert len(rows) == LEADS
        assert all(row["decision"] in {"accept", "reject"} for row in rows)


def test_a_repeated_lead_id_is_a_duplicate_of_its_first_line(tmp_path: Path) -> None:
    """The second row of a lead id gets the first row's decision, and says so."""
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,phone,zip\nL1,212-300-0001,10001\nL1,212-555-0102,10001\n")
    db = str(tmp_path / "r.db")
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        finish([worker(tmp_path, 0, db)])
        calls = sim.stats()["total_requests"]
    (first, second), = outputs(tmp_path, 1)  # fmt: skip
    assert calls == 1
    assert (first["decision"], first["error"]) == ("accept", "")
    assert (second["decision"], second["error"]) == ("accept", "duplicate of line 2")
    assert second["line"] == "3"


def test_records_show_prints_the_history_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`records show` prints every version of a lead, its phone masked."""
    write_leads(tmp_path / "leads.csv", 3)
    db = str(tmp_path / "r.db")
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        finish([worker(tmp_path, 0, db)])
        finish([worker(tmp_path, 0, db, "--rescreen")])
    capsys.readouterr()
    assert main(["records", "show", "L00001", "--db", db, "--campaign", "bulk"]) == 0
    shown = capsys.readouterr().out
    assert shown.count('"version"') == 2
    assert "2123000001" not in shown
    assert "+12123000001" not in shown
    assert main(["records", "show", "nobody", "--db", db]) == 1


def test_records_export_writes_csv(tmp_path: Path) -> None:
    """`records export --format csv` writes one row per lead, phones masked."""
    write_leads(tmp_path / "leads.csv", 5)
    db = str(tmp_path / "r.db")
    with Simulator(api_token=TOKEN) as sim:
        write_settings(tmp_path, sim.url)
        finish([worker(tmp_path, 0, db)])
    out = tmp_path / "export.csv"
    argv = ["records", "export", "--db", db, "--format", "csv", "--out", str(out)]
    assert main([*argv, "--since", "2000-01-01"]) == 0
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["lead_id"] for row in rows] == sorted(row["lead_id"] for row in rows) or rows
    assert len(rows) == 5
    assert all(row["phone"].endswith(row["phone"][-4:]) and "*" in row["phone"] for row in rows)
    assert main([*argv, "--since", "2999-01-01"]) == 0
    with out.open(newline="") as file:
        assert list(csv.DictReader(file)) == []


def test_records_output_masks_every_phone_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Phones a vendor echoed in any format (text or number) are masked in show and export."""
    db = tmp_path / "r.db"
    now = datetime.now(UTC)
    answer = {"phone": 2125550105, "message": "call (212) 555-0105 or +1 212.555.0105"}
    record = ScreeningRecord(
        lead_id="L1",
        campaign_id="c",
        decision=Action.ACCEPT,
        integrations=(
            IntegrationRecord(
                integration_id="p", kind="purecallerid", sort=1,
                status=IntegrationStatus.COMPLETED, action=Action.ACCEPT, answer=answer,
                raw=json.dumps(answer),
            ),
        ),
        started_at=now, finished_at=now, duration=0.1, library_version="0",
        settings_hash="h", phone="+12125550105",
    )  # fmt: skip
    store = SQLiteResultStore(db)
    asyncio.run(store.save(record))
    store.close()
    capsys.readouterr()
    assert main(["records", "show", "L1", "--db", str(db)]) == 0
    out = tmp_path / "x.jsonl"
    assert main(["records", "export", "--db", str(db), "--out", str(out)]) == 0
    shown = capsys.readouterr().out + out.read_text()
    digits = "".join(ch if ch.isdigit() else " " for ch in shown)
    assert "2125550105" not in digits.replace(" ", "")
    assert all("555" not in run or len(run) < 7 for run in digits.split())
    assert "***0105" in shown


@pytest.mark.parametrize("sigint_ignored", [False, True], ids=["foreground", "background"])
def test_sigterm_stops_a_worker_as_ctrl_c_does(tmp_path: Path, sigint_ignored: bool) -> None:
    """SIGTERM (docker stop, systemd, timeout): the leads under way end recorded, exit 130,
    and the re-run sends no lead to the vendor a second time (no claim left to expire).

    Also for a worker started with SIGINT ignored, as a script's background job is.
    """
    write_leads(tmp_path / "leads.csv")
    db = str(tmp_path / "shared.db")
    with Simulator(api_token=TOKEN, latency=0.2) as sim:
        write_settings(tmp_path, sim.url)
        stopped = worker(tmp_path, 0, db, sigint_ignored=sigint_ignored)
        deadline = time.monotonic() + 30
        while sim.stats()["total_requests"] < 40 and time.monotonic() < deadline:
            time.sleep(0.005)
        stopped.send_signal(signal.SIGTERM)
        _, err = stopped.communicate(timeout=60)
        assert stopped.returncode == 130, err
        assert "interrupted" in err
        assert "Traceback" not in err
        with contextlib.closing(SQLiteResultStore(db)) as store:
            recorded = store.count()
        assert recorded == sim.stats()["total_requests"]  # every call made is recorded
        started = time.monotonic()
        finish([worker(tmp_path, 1, db)])
        calls = sim.stats()["total_requests"]
    assert calls == LEADS  # none twice
    assert time.monotonic() - started < 30  # no claim of the stopped worker waited out
    (rows,) = outputs(tmp_path, [1])
    assert len(rows) == LEADS


def test_workers_given_the_same_output_each_write_it_whole(tmp_path: Path) -> None:
    """Each worker writes its own partial file and renames it over the output: both succeed."""
    write_leads(tmp_path / "leads.csv")
    db = str(tmp_path / "shared.db")
    out = str(tmp_path / "out.csv")
    with Simulator(api_token=TOKEN, latency=0.01) as sim:
        write_settings(tmp_path, sim.url)
        finish([worker(tmp_path, n, db, out=out) for n in range(2)])
        calls = sim.stats()["total_requests"]
    assert calls == LEADS
    with (tmp_path / "out.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == LEADS
    assert not list(tmp_path.glob("*.partial"))
