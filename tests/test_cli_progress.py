"""The live progress of ``purecallerid screen``: counts, and a pace from new screenings only.

Issue 19: on a resumed run the rate and ETA counted the rows already recorded (6,041/s and
ETA 3 s, then 111/s and ETA 1:23). :class:`Pace` is tested with a clock of its own on that
20,000-row run, and once end to end over the simulator with a smaller file.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from _helpers import pcid_settings_file
from purecallerid._cli.progress import Pace, clock_text, render_pace
from purecallerid._cli.screen import ScreenJob, run_screen
from purecallerid.cli import main
from purecallerid.testing import Simulator

TOKEN = "tok-PROGRESS-SECRET-8"


class Clock:
    """Seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_resumed_run_paces_its_new_screenings_only() -> None:
    """6,041 recorded rows in one second, then 111 new ones a second: rate 111, ETA from it."""
    clock = Clock()
    pace = Pace(20_000, clock=clock)
    for _ in range(6041):  # the recorded leads pass in a burst, spending no call
        clock.now += 1 / 6041
        pace.add("accept", new=False, earlier=True)
    assert pace.rate is None  # no new screening yet: no pace to promise
    assert pace.eta is None
    for n in range(1110):  # ten seconds of new screenings, 111 a second
        clock.now += 1 / 111
        pace.add("reject" if n % 10 == 0 else "accept", new=True)
    assert pace.rate == pytest.approx(111, rel=1e-6)
    left = 20_000 - 6041 - 1110
    assert pace.eta == pytest.approx(left / 111, rel=1e-6)  # about 1:56, not 3 s
    assert (pace.done, pace.new, pace.earlier) == (7151, 1110, 6041)
    assert pace.by_decision == {"accept": 6041 + 999, "reject": 111}


def test_recorded_rows_between_new_ones_cost_nothing() -> None:
    """Time spent writing recorded rows is not charged to the new screenings."""
    clock = Clock()
    pace = Pace(100, clock=clock)
    for _ in range(10):
        clock.now += 0.5  # a new screening every half second...
        pace.add("accept", new=True)
        for _ in range(5):  # ...each followed by recorded rows written at once
            pace.add("accept", new=False, earlier=True)
    assert pace.rate == pytest.approx(2.0)
    assert pace.eta == pytest.approx((100 - 60) / 2.0)


def test_the_rate_follows_the_recent_window() -> None:
    """A vendor that slows down shows in the rate within the window, not averaged away."""
    clock = Clock()
    pace = Pace(10_000, clock=clock, window=10.0)
    for _ in range(1000):  # 100 a second for 10 s
        clock.now += 0.01
        pace.add("accept", new=True)
    for _ in range(200):  # then 10 a second for 20 s
        clock.now += 0.1
        pace.add("accept", new=True)
    assert pace.rate == pytest.approx(10.0)


def test_a_slow_lead_alone_still_gives_a_rate() -> None:
    """One lead held for 30 s, longer than the window: the rate is 1 in 30 s, not nothing."""
    clock = Clock()
    pace = Pace(3, clock=clock, window=10.0)
    clock.now += 30
    pace.add("qa", new=True, errored=True)
    assert pace.rate == pytest.approx(1 / 30)
    assert pace.errors == 1


def test_no_rate_is_promised_from_the_first_instants() -> None:
    """Two screenings ending together are no pace: the rate waits for a second of them."""
    clock = Clock()
    pace = Pace(1000, clock=clock)
    clock.now += 0.02
    pace.add("accept", new=True)
    pace.add("accept", new=True)
    assert pace.rate is None
    assert pace.eta is None
    for _ in range(50):
        clock.now += 0.02
        pace.add("accept", new=True)
    assert pace.rate == pytest.approx(52 / 1.02)


def test_counts_invalid_rows_and_duplicates() -> None:
    pace = Pace(4, clock=Clock())
    pace.add(None, new=False)  # an invalid row
    pace.add("accept", new=True)
    pace.add("accept", new=False)  # a repeated lead id: its first row's decision
    pace.add("qa", new=True, errored=True)
    assert (pace.invalid, pace.new, pace.earlier, pace.errors) == (1, 2, 0, 1)
    assert pace.eta == 0.0


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (59.4, "0:59"), (83, "1:23"), (3725, "1:02:05")]
)
def test_clock_text(seconds: float, text: str) -> None:
    assert clock_text(seconds) == text


def rendered(pace: Pace, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(render_pace(pace))
    return out.getvalue().splitlines()


@pytest.mark.parametrize("width", [80, 60])
def test_the_display_fits_the_terminal_and_cuts_nothing(width: int) -> None:
    """At 80 columns (and narrower) every count is shown whole."""
    clock = Clock()
    pace = Pace(20_000, clock=clock)
    for _ in range(6041):
        pace.add("accept", new=False, earlier=True)
    for n in range(1234):
        clock.now += 1 / 111
        pace.add(("accept", "flag", "qa", "reject")[n % 4], new=True, errored=n % 7 == 0)
    pace.add(None, new=False)
    lines = rendered(pace, width)
    assert all(len(line) <= width for line in lines)
    text = " ".join(" ".join(lines).split())
    assert "7,276/20,000 111 new/s ETA 1:55" in text  # 12,724 left at 111 a second
    for count in ("accept 6,350", "flag 309", "qa 308", "reject 308", "errors 177", "invalid 1"):
        assert count in text
    assert "resumed: 6,041 already recorded" in text
    assert "…" not in text


def write_leads(path: Path, rows: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip"])
        for n in range(rows):
            phone = "212-555-0102" if n % 10 == 0 else f"212-300-{n:04d}"
            writer.writerow([f"L{n:04d}", phone, "10001"])


def write_settings(folder: Path, base_url: str) -> Path:
    return pcid_settings_file(folder, base_url, TOKEN, "bulk")


def test_a_resumed_run_shows_live_counts_and_the_pace_of_new_screenings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 rows, 150 recorded earlier: frames show the counts and a rate of new ones only."""
    monkeypatch.setenv("COLUMNS", "80")
    write_leads(tmp_path / "first.csv", 150)
    write_leads(tmp_path / "leads.csv", 300)
    # 2 at a time, 20 ms each: at most 100 new screenings a second. A rate over every row
    # (150 of them recorded, passed in an instant) would show about twice that.
    with Simulator(api_token=TOKEN, latency=0.02) as sim:
        settings = write_settings(tmp_path, sim.url)
        first = ["screen", str(tmp_path / "first.csv"), "--settings", str(settings)]
        assert main([*first, "--campaign", "bulk", "--out", str(tmp_path / "out.csv")]) == 0
        job = ScreenJob(
            leads=tmp_path / "leads.csv",
            settings=settings,
            campaign="bulk",
            out=tmp_path / "out.csv",
            concurrency=2,
        )
        out = io.StringIO()
        console = Console(file=out, width=80, force_terminal=True, color_system=None)
        summary = asyncio.run(run_screen(job, console))
    assert (summary.earlier, summary.screened_now) == (150, 150)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", out.getvalue())  # frames, cursor moves cut
    frames = re.findall(r"screening .*? ([\d,]+)/300 (\S+) new/s ETA (\S+)", text)
    assert len([f for f in frames if f[0] != "300"]) >= 2  # redrawn while it ran
    assert all(len(line) <= 80 for line in text.splitlines())
    rates = [float(rate.replace(",", "")) for _, rate, _ in frames if rate != "-"]
    assert rates
    assert max(rates) <= 110
    assert frames[-1][0] == "300"
    assert "accept 270  flag 0  qa 0  reject 30  errors 0" in text
    assert "resumed: 150 already recorded" in text
