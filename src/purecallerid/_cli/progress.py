"""The live progress of a ``screen`` run: counts per decision and errors, rate and ETA.

The rate and the ETA count **new screenings only**. A resumed run passes its recorded leads
in a burst (thousands a second, no call), then screens the rest at the vendor's pace: a rate
over every row would promise an ETA of seconds, then slide for minutes. :class:`Pace` charges
to a new screening only the time since the row before it was written, so the bursts of
recorded rows cost nothing, and keeps the last ``window`` seconds of that time for a current
rate (shown once a second of it has passed). It is fed in output order, with the time from
an injected clock (tests give their own).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Final

from rich.console import Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import RenderableType

__all__ = ["DECISIONS", "Pace", "clock_text", "render_pace"]

DECISIONS: Final = ("accept", "flag", "qa", "reject")
"""The decisions, in the order progress and summaries show them."""

_WINDOW_SECONDS: Final = 30.0
# New-screening time before a rate is shown: the first few screenings started while the
# recorded rows before them were written, and alone they would promise a pace too high.
_MIN_SECONDS: Final = 1.0


def clock_text(seconds: float) -> str:
    """*seconds* as ``M:SS``, or ``H:MM:SS`` from an hour."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Pace:
    """Counts of the rows written so far, and the pace of the new screenings among them.

    Args:
        total: The rows the run will write.
        clock: Seconds, monotonic (default :func:`time.monotonic`).
        window: Seconds of new-screening time the current rate is taken over.
    """

    def __init__(
        self,
        total: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = _WINDOW_SECONDS,
    ) -> None:
        """Start counting now."""
        self.total = total
        self.done = 0
        self.new = 0
        self.earlier = 0
        self.invalid = 0
        self.errors = 0
        self.by_decision: Counter[str] = Counter()
        self._clock = clock
        self._window = window
        self._started = clock()
        self._last = self._started
        self._spent: deque[float] = deque()  # seconds charged to each recent new screening
        self._spent_total = 0.0

    def add(
        self, decision: str | None, *, new: bool, earlier: bool = False, errored: bool = False
    ) -> None:
        """Count one written row.

        Args:
            decision: Its decision, or ``None`` for a row that could not be screened.
            new: Screened in this run (not recorded earlier, not a repeated lead id).
            earlier: Its record came from an earlier run (no call in this one).
            errored: An integration failed on the lead.
        """
        now = self._clock()
        self.done += 1
        if decision is None:
            self.invalid += 1
        else:
            self.by_decision[decision] += 1
        self.errors += errored
        if new:
            self.new += 1
            spent = max(now - self._last, 0.0)
            self._spent.append(spent)
            self._spent_total += spent
            # Keep at least one sample, however long it took (one lead held for 30 s).
            while len(self._spent) > 1 and self._spent_total - self._spent[0] >= self._window:
                self._spent_total -= self._spent.popleft()
        self.earlier += earlier
        self._last = now

    @property
    def rate(self) -> float | None:
        """New screenings per second, recently; ``None`` until a second of them has passed."""
        if not self._spent or self._spent_total < _MIN_SECONDS:
            return None
        return len(self._spent) / self._spent_total

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate; ``None`` while there is no rate."""
        left = self.total - self.done
        if left <= 0:
            return 0.0
        rate = self.rate
        return None if rate is None else left / rate

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return self._clock() - self._started


def render_pace(pace: Pace) -> RenderableType:
    """The progress display: a bar with the pace, then the counts (each line fits 80 columns).

    The counts wrap onto more lines on a narrower terminal; nothing is cut.
    """
    rate, eta = pace.rate, pace.eta
    bar = Table.grid(padding=(0, 1), expand=True)
    bar.add_column(no_wrap=True)
    bar.add_column(ratio=1, min_width=10)
    for _ in range(3):
        bar.add_column(no_wrap=True, justify="right")
    bar.add_row(
        "screening",
        ProgressBar(total=max(pace.total, 1), completed=pace.done),
        f"{pace.done:,}/{pace.total:,}",
        "- new/s" if rate is None else f"{rate:,.0f} new/s",
        "ETA -" if eta is None else f"ETA {clock_text(eta)}",
    )
    counts = [f"{name} {pace.by_decision.get(name, 0):,}" for name in DECISIONS]
    counts.append(f"errors {pace.errors:,}")
    if pace.invalid:
        counts.append(f"invalid {pace.invalid:,}")
    lines: list[RenderableType] = [bar, Text("  ".join(counts))]
    if pace.earlier:
        lines.append(Text(f"resumed: {pace.earlier:,} already recorded"))
    return Group(*lines)
