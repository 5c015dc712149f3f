"""The end of a ``screen`` run: counting the rows as they are written, and the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from attrs import frozen
from rich.table import Table

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console

    from .._records import ScreeningRecord

__all__ = ["ScreenSummary", "Tally", "print_summary"]

_MAX_REASONS: Final = 1000  # distinct reasons tallied; the rest count as "(other reasons)"
_SHOWN_INVALID: Final = 10


@frozen(kw_only=True)
class ScreenSummary:
    """What a ``screen`` run did.

    Attributes:
        rows: Data rows read (blank lines excepted).
        by_decision: Leads by decision.
        by_reason: Leads by reason text (capped at 1,000 distinct reasons).
        errors: Integration errors by ``"<integration id> <error class>"``.
        invalid: Rows that could not be screened (wrong column count, no lead id, not
            UTF-8, over the size limit, an unterminated quote).
        invalid_lines: The first few of those problems, one line each.
        earlier: Leads whose record came from an earlier run (no vendor call).
        duplicates: Rows repeating an earlier row's lead id (given that row's decision).
        vendor_calls: HTTP attempts recorded in this run (an attempt cut short by the
            integration's timeout leaves no attempt in the record).
        seconds: Wall time of the run.
        out: The output file.
        db: The records database.
    """

    rows: int
    by_decision: Mapping[str, int]
    by_reason: Mapping[str, int]
    errors: Mapping[str, int]
    invalid: int
    invalid_lines: tuple[str, ...]
    earlier: int
    vendor_calls: int
    seconds: float
    out: Path
    db: Path | str
    duplicates: int = 0

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class Tally:
    """Counts of a run, kept as rows are written (bounded, however many rows)."""

    def __init__(self, run_started: datetime) -> None:
        """Start counting; records started before *run_started* come from earlier runs."""
        self.run_started = run_started
        self.rows = 0
        self.by_decision: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.invalid = 0
        self.invalid_lines: list[str] = []
        self.earlier = 0
        self.vendor_calls = 0
        self.duplicates = 0

    def add(
        self,
        line: int,
        record: ScreeningRecord | None,
        error: str | None,
        *,
        duplicate: bool = False,
    ) -> None:
        """Count one output row: its record, or the error of a row that was not screened."""
        self.rows += 1
        if duplicate:
            # The lead was counted on its first row: its decision, not a second screening.
            self.duplicates += 1
        if record is None:
            self.invalid += 1
            if len(self.invalid_lines) < _SHOWN_INVALID:
                self.invalid_lines.append(f"line {line}: {error}")
            return
        self.by_decision[record.decision.value] += 1
        for reason in record.reasons:
            crowded = len(self.by_reason) >= _MAX_REASONS and reason not in self.by_reason
            self.by_reason["(other reasons)" if crowded else reason] += 1
        for integration in record.integrations:
            if integration.error_class is not None:
                self.errors[f"{integration.integration_id} {integration.error_class}"] += 1
        if duplicate:
            return
        if record.started_at < self.run_started:
            self.earlier += 1
        else:
            self.vendor_calls += sum(len(i.attempts) for i in record.integrations)

    def summary(self, *, seconds: float, out: Path, db: Path | str) -> ScreenSummary:
        """The counts as a :class:`ScreenSummary`."""
        return ScreenSummary(
            rows=self.rows,
            by_decision=dict(self.by_decision),
            by_reason=dict(self.by_reason),
            errors=dict(self.errors),
            invalid=self.invalid,
            invalid_lines=tuple(self.invalid_lines),
            earlier=self.earlier,
            vendor_calls=self.vendor_calls,
            seconds=seconds,
            out=out,
            db=db,
            duplicates=self.duplicates,
        )


def print_summary(console: Console, summary: ScreenSummary) -> None:
    """Print the end-of-run summary: decisions, reasons, errors, time and rate."""
    decisions = Table(title="Decisions", title_justify="left")
    decisions.add_column("decision")
    decisions.add_column("leads", justify="right")
    decisions.add_column("share", justify="right")
    for name in ("accept", "flag", "qa", "reject"):
        count = summary.by_decision.get(name, 0)
        share = count / summary.rows if summary.rows else 0.0
        decisions.add_row(name, f"{count:,}", f"{share:.1%}")
    if summary.invalid:
        share = summary.invalid / summary.rows
        decisions.add_row("invalid row", f"{summary.invalid:,}", f"{share:.1%}")
    console.print(decisions)
    if summary.by_reason:
        reasons = Table(title="Reasons (top 10)", title_justify="left")
        reasons.add_column("reason", overflow="fold")
        reasons.add_column("leads", justify="right")
        for reason, count in Counter(summary.by_reason).most_common(10):
            reasons.add_row(reason, f"{count:,}")
        console.print(reasons)
    if summary.errors:
        errors = Table(title="Integration errors", title_justify="left")
        errors.add_column("integration and error class")
        errors.add_column("leads", justify="right")
        for name, count in Counter(summary.errors).most_common():
            errors.add_row(name, f"{count:,}")
        console.print(errors)
    for line in summary.invalid_lines:
        console.print(f"invalid row: {line}")
    if summary.invalid > len(summary.invalid_lines):
        console.print(f"... and {summary.invalid - len(summary.invalid_lines):,} more invalid rows")
    screened_now = summary.rows - summary.invalid - summary.earlier - summary.duplicates
    duplicates = f", {summary.duplicates:,} duplicate" if summary.duplicates else ""
    console.print(
        f"{summary.rows:,} rows: {screened_now:,} screened now, {summary.earlier:,} recorded "
        f"earlier, {summary.invalid:,} invalid{duplicates}; {summary.vendor_calls:,} vendor "
        f"attempts recorded; {summary.seconds:.1f} s, {summary.rate:,.0f} rows/s"
    )
    console.print(f"output: {summary.out}")
    console.print(f"records: {summary.db}")
