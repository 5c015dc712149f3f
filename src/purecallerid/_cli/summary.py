"""The end of a ``screen`` run: counting the rows as they are written, and the summary.

The summary is printed as tables that fit 80 columns (long texts fold onto more lines, a
decision is never cut) and, with ``--summary-json FILE``, written as JSON for a script.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from attrs import field, frozen
from rich.table import Table
from rich.text import Text

from .._errors import ErrorClass
from .._flow import Agreement
from .._records import IntegrationStatus
from .outage import Outage
from .progress import DECISIONS

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console

    from .._records import ScreeningRecord
    from .._rules.model import Action

__all__ = ["ScreenSummary", "Tally", "next_steps", "print_summary", "summary_json"]

_MAX_KEYS: Final = 1000  # distinct reasons (or answers) tallied; the rest count as one "other"
_OTHER: Final = "(other)"
_SHOWN_INVALID: Final = 10
_SHOWN_ANSWERS: Final = 20
_DOMINANT: Final = 0.5  # a share from which qa, failures or invalid rows get a next step
_FAILURE_POLICY: Final = ":failure_policy"


def decided_by_failure(record: ScreeningRecord) -> bool:
    """Whether an integration's failure policy made the lead's decision."""
    return (record.decided_by or "").endswith(_FAILURE_POLICY)


@frozen(kw_only=True)
class ScreenSummary:
    """What a ``screen`` run did.

    Attributes:
        rows: Data rows read (blank lines excepted).
        by_decision: Leads by decision.
        by_reason: Leads by reason text (capped at 1,000 distinct reasons).
        by_answer: Leads by ``(integration id, answer status, answer reason)`` of each
            integration that answered: the vendor's own split (DNC, INACTIVE, TCPA...).
        errors: Leads by ``(integration id, error class)`` of each integration that failed.
        invalid: Rows that could not be screened (wrong column count, no lead id, not
            UTF-8, over the size limit, an unterminated quote).
        invalid_lines: The first few of those problems, one line each.
        earlier: Leads whose record this run found made: by an earlier run, or by another
            worker meanwhile (no vendor call here).
        screened_now: Leads screened in this run.
        duplicates: Rows repeating an earlier row's lead id (given that row's decision).
        by_failure_policy: Leads whose decision a failure policy made (an integration
            failed: vendor unreachable, token refused, timeout, a lead that cannot be mapped).
        qa_by_failure: Leads held for review (``qa``) by a failure policy.
        errored: Leads on which any integration (not a shadow one) failed.
        vendor_errors: Leads on which an integration (not a shadow one) failed for another
            reason than the lead itself (anything but ``mapping_error``): what ``--strict``
            counts.
        vendor_calls: HTTP attempts recorded in this run (an attempt cut short by the
            integration's timeout leaves no attempt in the record).
        seconds: Wall time of the run.
        out: The output file, or ``None`` when the run stopped before writing it.
        db: The records database.
        stopped: Why the run stopped early, or ``None`` when it screened every row.
        planned: Data rows in the leads file (more than ``rows`` when the run stopped).
        shadow: Live decisions against the shadow ones, when the campaign has shadow parts
            (its integrations' or its ``shadow_rules``), else ``None``.
    """

    rows: int
    by_decision: Mapping[str, int]
    by_reason: Mapping[str, int]
    errors: Mapping[tuple[str, str], int]
    invalid: int
    invalid_lines: tuple[str, ...]
    earlier: int
    vendor_calls: int
    seconds: float
    out: Path | None
    db: Path | str
    screened_now: int = 0
    duplicates: int = 0
    by_answer: Mapping[tuple[str, str, str], int] = field(factory=dict)
    by_failure_policy: int = 0
    qa_by_failure: int = 0
    errored: int = 0
    vendor_errors: int = 0
    stopped: Outage | None = None
    planned: int | None = None
    shadow: Agreement | None = None

    @property
    def rate(self) -> float:
        """New screenings per second over the run."""
        return self.screened_now / self.seconds if self.seconds > 0 else 0.0

    @property
    def records(self) -> int:
        """Leads with a decision (screened now or earlier; repeated rows not counted)."""
        return self.screened_now + self.earlier


def _capped(counter: Counter[Any], key: Any, other: Any) -> None:
    counter[other if len(counter) >= _MAX_KEYS and key not in counter else key] += 1


class Tally:
    """Counts of a run, kept as rows are written (bounded, however many rows)."""

    def __init__(self, run_started: datetime) -> None:
        """Start counting; records started before *run_started* come from earlier runs."""
        self.run_started = run_started
        self.rows = 0
        self.by_decision: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.by_answer: Counter[tuple[str, str, str]] = Counter()
        self.errors: Counter[tuple[str, str]] = Counter()
        self.invalid = 0
        self.invalid_lines: list[str] = []
        self.earlier = 0
        self.screened_now = 0
        self.vendor_calls = 0
        self.duplicates = 0
        self.by_failure_policy = 0
        self.qa_by_failure = 0
        self.errored = 0
        self.vendor_errors = 0
        # Live decision x shadow decision: counts only, however many rows (memory flat).
        self.shadow: Counter[tuple[Action, Action]] = Counter()
        self.without_shadow = 0

    def is_new(self, record: ScreeningRecord) -> bool:
        """Whether *record* was made in this run (not by an earlier one)."""
        return record.started_at >= self.run_started

    def add(
        self,
        line: int,
        record: ScreeningRecord | None,
        error: str | None,
        *,
        duplicate: bool = False,
        new: bool | None = None,
    ) -> None:
        """Count one output row: its record, or the error of a row that was not screened.

        *new* says whether this process made the record (its vendor calls are this run's);
        ``None`` reads it from the record's start time (:meth:`is_new`).
        """
        self.rows += 1
        if record is None:
            self.invalid += 1
            if len(self.invalid_lines) < _SHOWN_INVALID:
                self.invalid_lines.append(f"line {line}: {error}")
            return
        self.by_decision[record.decision.value] += 1
        if duplicate:
            # The lead was counted on its first row: its decision, not a second screening.
            self.duplicates += 1
            return
        for reason in record.reasons:
            _capped(self.by_reason, reason, "(other reasons)")
        if record.shadow is not None:
            self.shadow[record.decision, record.shadow.decision] += 1
        else:
            self.without_shadow += 1
        self._count_integrations(record)
        failure = decided_by_failure(record)
        self.by_failure_policy += failure
        self.qa_by_failure += failure and record.decision.value == "qa"
        if self.is_new(record) if new is None else new:
            self.screened_now += 1
            self.vendor_calls += sum(len(i.attempts) for i in record.integrations)
        else:
            self.earlier += 1

    def _count_integrations(self, record: ScreeningRecord) -> None:
        classes: set[str] = set()
        for integration in record.integrations:
            name = integration.integration_id + (" (shadow)" if integration.shadow else "")
            if integration.error_class is not None:
                if not integration.shadow:  # a trial's failure decides nothing
                    classes.add(integration.error_class)
                self.errors[name, integration.error_class] += 1
            answer = integration.answer
            if integration.status is IntegrationStatus.COMPLETED and answer:
                key = (name, _text(answer.get("status")), _text(answer.get("reason")))
                _capped(self.by_answer, key, (name, _OTHER, ""))
        self.errored += bool(classes)
        self.vendor_errors += bool(classes - {ErrorClass.MAPPING_ERROR})

    def summary(
        self,
        *,
        seconds: float,
        out: Path | None,
        db: Path | str,
        stopped: Outage | None = None,
        planned: int | None = None,
    ) -> ScreenSummary:
        """The counts as a :class:`ScreenSummary`."""
        return ScreenSummary(
            rows=self.rows,
            by_decision=dict(self.by_decision),
            by_reason=dict(self.by_reason),
            by_answer=dict(self.by_answer),
            errors=dict(self.errors),
            invalid=self.invalid,
            invalid_lines=tuple(self.invalid_lines),
            earlier=self.earlier,
            screened_now=self.screened_now,
            vendor_calls=self.vendor_calls,
            seconds=seconds,
            out=out,
            db=db,
            duplicates=self.duplicates,
            by_failure_policy=self.by_failure_policy,
            qa_by_failure=self.qa_by_failure,
            errored=self.errored,
            vendor_errors=self.vendor_errors,
            stopped=stopped,
            planned=planned,
            shadow=None
            if not self.shadow
            else Agreement(part=None, counts=dict(self.shadow), left_out=self.without_shadow),
        )


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _share(count: int, whole: int) -> str:
    return f"{count / whole:.1%}" if whole else "0.0%"


def _decisions_table(summary: ScreenSummary) -> Table:
    table = Table(title="Decisions", title_justify="left")
    # The decision is the one cell that must never be cut: a fixed width that holds them all.
    table.add_column("decision", no_wrap=True, min_width=len("invalid row"))
    table.add_column("leads", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    for name in DECISIONS:
        count = summary.by_decision.get(name, 0)
        table.add_row(name, f"{count:,}", _share(count, summary.rows))
    if summary.invalid:
        table.add_row("invalid row", f"{summary.invalid:,}", _share(summary.invalid, summary.rows))
    return table


def _answers_table(summary: ScreenSummary) -> Table:
    table = Table(title="Vendor answers", title_justify="left")
    table.add_column("integration", overflow="fold")
    table.add_column("answer", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("leads", justify="right", no_wrap=True)
    ranked = Counter(summary.by_answer).most_common(_SHOWN_ANSWERS)
    for (integration, status, reason), count in ranked:
        table.add_row(Text(integration), Text(status or "-"), Text(reason or "-"), f"{count:,}")
    return table


def _counted_table(title: str, header: str, counts: Mapping[str, int], top: int | None) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(header, overflow="fold")
    table.add_column("leads", justify="right", no_wrap=True)
    for key, count in Counter(counts).most_common(top):
        table.add_row(Text(key), f"{count:,}")
    return table


def print_summary(
    console: Console, summary: ScreenSummary, *, temporary: bool = False, hints: bool = True
) -> None:
    """Print the end-of-run summary: decisions, answers, reasons, errors, counts, next step.

    Args:
        console: Where to print.
        summary: The run's counts.
        temporary: The output and records are in a folder deleted on exit (the demo's).
        hints: Print the next steps (the demo's failures are there on purpose: none).
    """
    console.print(_decisions_table(summary))
    if summary.by_answer:
        console.print(_answers_table(summary))
    if summary.by_reason:
        console.print(_counted_table("Reasons (top 10)", "reason", summary.by_reason, 10))
    if summary.errors:
        errors = {f"{i} {c}": n for (i, c), n in summary.errors.items()}
        header = "integration and error class"
        console.print(_counted_table("Integration errors", header, errors, None))
    _print_shadow_and_invalid(console, summary)
    duplicates = f", {summary.duplicates:,} duplicate" if summary.duplicates else ""
    planned = summary.planned
    of = f" of {planned:,}" if planned is not None and planned != summary.rows else ""
    console.print(
        f"{summary.rows:,}{of} rows: {summary.screened_now:,} screened now, {summary.earlier:,} "
        f"recorded earlier, {summary.invalid:,} invalid{duplicates}"
    )
    console.print(
        f"{summary.vendor_calls:,} vendor attempts recorded; {summary.seconds:.1f} s, "
        f"{summary.rate:,.0f} new/s"
    )
    if summary.out is not None:
        console.print(f"output: {summary.out}")
    else:
        console.print("output: not written (the run stopped before the last row)")
    console.print(f"records: {summary.db}")
    if temporary:
        console.print(
            "both are in a temporary folder deleted when the demo ends (--out DIR keeps them)"
        )
    if hints and summary.stopped is None:  # a stopped run says what to do in its error lines
        for step in next_steps(summary):
            console.print(f"next: {step}", soft_wrap=False)  # words kept whole, any width


def _print_shadow_and_invalid(console: Console, summary: ScreenSummary) -> None:
    if summary.shadow is not None:
        console.print("Shadow agreement (live decisions down, shadow across)")
        console.print(Text(summary.shadow.to_text().rstrip("\n")), soft_wrap=True)
    for line in summary.invalid_lines:
        console.print(f"invalid row: {line}")
    if summary.invalid > len(summary.invalid_lines):
        console.print(f"... and {summary.invalid - len(summary.invalid_lines):,} more invalid rows")


def next_steps(summary: ScreenSummary) -> list[str]:
    """What to do next when failures, invalid rows or ``qa`` make up half the run or more."""
    steps: list[str] = []
    failed = summary.by_failure_policy
    if summary.stopped is not None or (failed and failed >= _DOMINANT * summary.records):
        top = Counter(summary.errors).most_common(1)
        cause = f", most often {' '.join(top[0][0])}" if top else ""
        steps.append(
            f"{failed:,} of {summary.records:,} leads were decided by a failure policy"
            f"{cause}: fix the cause (see the errors above; purecallerid records show "
            "LEAD_ID --db ... has the evidence), then run the same command with "
            "--rescreen-failures to screen those leads again"
        )
    elif summary.invalid and summary.invalid >= _DOMINANT * summary.rows:
        steps.append(
            f"{summary.invalid:,} of {summary.rows:,} rows could not be screened: see the "
            "invalid rows above and check the CSV's columns against its header"
        )
    elif (qa := summary.by_decision.get("qa", 0)) and qa >= _DOMINANT * summary.records:
        by_failure, by_rules = summary.qa_by_failure, qa - summary.qa_by_failure
        steps.append(
            f"{qa:,} of {summary.records:,} leads are held for review (qa): {by_failure:,} "
            "by a failure policy (fix the errors above, then run again with "
            f"--rescreen-failures), {by_rules:,} by the rules (purecallerid check shows a "
            "lead's rule trace)"
        )
    return steps


def summary_json(summary: ScreenSummary, *, exit_code: int) -> dict[str, Any]:
    """The summary as JSON data (``--summary-json``): every count, with the run's exit code."""
    return {
        "exit_code": exit_code,
        "rows": summary.rows,
        "rows_in_file": summary.planned,
        "screened_now": summary.screened_now,
        "recorded_earlier": summary.earlier,
        "invalid": summary.invalid,
        "duplicates": summary.duplicates,
        "decisions": {name: summary.by_decision.get(name, 0) for name in DECISIONS},
        "decided_by_failure_policy": summary.by_failure_policy,
        "leads_with_errors": summary.errored,
        "leads_with_vendor_errors": summary.vendor_errors,
        "vendor_answers": [
            {"integration": i, "status": s, "reason": r, "leads": n}
            for (i, s, r), n in Counter(summary.by_answer).most_common()
        ],
        "errors": [
            {"integration": i, "error_class": c, "leads": n}
            for (i, c), n in Counter(summary.errors).most_common()
        ],
        "reasons": dict(Counter(summary.by_reason).most_common()),
        "invalid_rows": list(summary.invalid_lines),
        "vendor_attempts": summary.vendor_calls,
        "seconds": round(summary.seconds, 3),
        "new_per_second": round(summary.rate, 1),
        "output": None if summary.out is None else str(summary.out),
        "records": str(summary.db),
        "stopped": None if summary.stopped is None else summary.stopped.to_json(),
        "shadow_agreement": None if summary.shadow is None else summary.shadow.to_dict(),
        "next_steps": next_steps(summary),
    }
