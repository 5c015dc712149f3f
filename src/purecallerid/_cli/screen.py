"""``purecallerid screen``: a CSV of leads through the live flow, streamed and resumable.

Rows are read one at a time and screened by the same :class:`~purecallerid.AsyncScreener`
a host embeds, at most ``concurrency`` at once. Results are written in input order through a
bounded window of tasks, so memory stays flat however long the file is. Every record goes to
a SQLite store first; since the screener returns an existing record without calling any
vendor, re-running an interrupted command finishes the rest and spends nothing twice.

Before the first call the run prints its plan (``plan.py``); while it runs, the live progress
(``progress.py``); an :class:`~purecallerid._cli.outage.OutageWatch` stops it when one
integration fails for lead after lead for a reason that is not the leads' (``outage.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import secrets
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, TextIO

from attrs import field, frozen
from rich.live import Live

from .._errors import InvalidLeadError, StorageError
from .._models import Lead
from .._observe.dispatch import CompositeObserver
from .._records import IntegrationRecord, IntegrationStatus, ScreeningRecord
from .common import CLIError, load_settings_file, overwritten, serve_prometheus
from .leads import LeadsFile, Unreadable
from .outage import DEFAULT_STOP_AFTER, OutageWatch
from .plan import endpoints, plan_lines
from .progress import Pace, render_pace
from .records import is_url, open_records, shown
from .summary import Tally, decided_by_failure

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.console import Console

    from .._records import IntegrationRecord
    from .._screener import AsyncScreener
    from .._settings import CampaignSettings
    from ..prometheus import MetricsServer
    from ..typing import EventObserver, ResultStore
    from .common import LoadedSettings
    from .summary import ScreenSummary

__all__ = [
    "BASE_COLUMNS",
    "INTEGRATION_COLUMNS",
    "ScreenJob",
    "default_db",
    "run_screen",
]

BASE_COLUMNS: Final = ("line", "lead_id", "decision", "reasons", "flags", "decided_by", "error")
"""The first output columns, in order."""

INTEGRATION_COLUMNS: Final = ("status", "action", "answer", "reason", "message")
"""The columns each integration adds, as ``<integration id>.<column>``."""

_WINDOW_PER_SLOT: Final = 4  # results buffered per concurrent slot, so a slow lead stalls less
_JOIN: Final = "; "


def default_db(out: Path) -> Path:
    """The records database used when ``--db`` is not given: next to the output."""
    return out.with_suffix(".records.db")


@frozen(kw_only=True)
class ScreenJob:
    """One ``screen`` run.

    Attributes:
        leads: The input CSV (a header row with a ``lead_id`` column).
        settings: The settings file.
        campaign: The campaign whose settings screen every row.
        out: The output CSV, rewritten whole at the end of the run.
        db: The records database: a SQLite file, or a ``postgresql://`` URL (default:
            :func:`default_db`).
        concurrency: Leads screened at once.
        rescreen: Screen leads again even when they have a record (spends vendor calls).
        rescreen_failures: Screen again the leads whose latest record, from an earlier run,
            a failure policy decided (an outage's leads); others keep their record.
        stop_after: Vendor-wide failures in a row at one integration that stop the run
            (see :mod:`purecallerid._cli.outage`); 0 never stops.
        progress: Show the live progress.
        environ: Where ``${VAR}`` references of the settings are looked up.
        claim_lease: Seconds a worker's claim on a lead holds before another worker takes the
            lead over (default: the campaign's deadline plus 30 s).
        simulator: The URL of a simulator this run started (the demo's): the plan marks it.
        metrics_port: Serve Prometheus metrics of the run on this port (``None``: none).
    """

    leads: Path
    settings: Path
    campaign: str
    out: Path
    db: Path | str | None = None
    concurrency: int = 8
    rescreen: bool = False
    rescreen_failures: bool = False
    stop_after: int = DEFAULT_STOP_AFTER
    progress: bool = True
    environ: Mapping[str, str] | None = None
    claim_lease: float | None = None
    simulator: str | None = None
    metrics_port: int | None = None


@frozen(kw_only=True)
class _Outcome:
    line: int
    row: list[str]
    fields: Mapping[str, str] = field(factory=dict)
    record: ScreeningRecord | None = None
    error: str | None = None
    duplicate: bool = False
    stopped: bool = False  # not screened: the run stopped before its turn


def _columns(campaign: CampaignSettings) -> tuple[list[str], list[str]]:
    ids = [i.id for i in sorted(campaign.integrations, key=lambda i: i.sort)]
    header = list(BASE_COLUMNS) + [f"{i}.{c}" for i in ids for c in INTEGRATION_COLUMNS]
    return header, ids


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _integration_cells(record: IntegrationRecord) -> list[str]:
    answer = record.answer or {}
    if record.status is IntegrationStatus.COMPLETED:
        reason, message = _text(answer.get("reason")), _text(answer.get("message"))
    elif record.status is IntegrationStatus.ERROR:
        reason, message = _text(record.error_class), _text(record.error_message)
    else:
        reason, message = "", _text(record.skip_reason)
    action = "" if record.action is None else record.action.value
    return [record.status.value, action, _text(answer.get("status")), reason, message]


def _record_row(line: int, record: ScreeningRecord, ids: list[str]) -> list[str]:
    row = [
        str(line),
        record.lead_id,
        record.decision.value,
        _JOIN.join(record.reasons),
        _JOIN.join(record.flags),
        _text(record.decided_by),
        "",
    ]
    by_id = {i.integration_id: i for i in record.integrations}
    for integration_id in ids:
        found = by_id.get(integration_id)
        row += [""] * len(INTEGRATION_COLUMNS) if found is None else _integration_cells(found)
    return row


def _invalid_row(line: int, lead_id: str, error: str, ids: list[str]) -> list[str]:
    return [str(line), lead_id, "", "", "", "", error] + [""] * (
        len(ids) * len(INTEGRATION_COLUMNS)
    )


class _Run:
    def __init__(
        self,
        job: ScreenJob,
        *,
        screener: AsyncScreener,
        columns: tuple[list[str], list[str]],
        leads: LeadsFile,
        store: ResultStore,
        watch: OutageWatch,
        decided: _Decided,
    ) -> None:
        self.job = job
        self.screener = screener
        self.decided = decided
        self.store = store
        self.header, self.ids = columns
        self.leads = leads
        self.watch = watch
        self.tally = Tally(datetime.now(UTC))
        self.slots = asyncio.Semaphore(job.concurrency)
        # Lead id -> the line that first named it, while that line is being screened ...
        self.first: dict[str, tuple[int, asyncio.Future[bool]]] = {}
        # ... and then its line, negative when it got no record. Only that, for every lead of
        # the file (an int per lead id, not a future): a duplicate row reads the record from
        # the store, and memory grows by little more than the lead ids themselves.
        self.seen: dict[str, int] = {}

    async def screen_row(self, line: int, values: list[str] | Unreadable) -> _Outcome:
        """The output row of one input row (screened, a duplicate, or invalid)."""
        if isinstance(values, Unreadable):
            row = _invalid_row(line, values.lead_id, values.error, self.ids)
            return _Outcome(line=line, row=row, error=values.error)
        outcome = self._check_row(line, values)
        if isinstance(outcome, _Outcome):
            return outcome
        lead_id, fields = outcome
        seen = self.seen.get(lead_id)
        if seen is not None:
            return await self._duplicate(line, lead_id, abs(seen), recorded=seen > 0)
        earlier = self.first.get(lead_id)
        if earlier is not None:
            first, done = earlier
            return await self._duplicate(line, lead_id, first, recorded=await asyncio.shield(done))
        done = asyncio.get_running_loop().create_future()
        self.first[lead_id] = (line, done)
        recorded = False
        try:
            result = await self._screen(line, lead_id, fields)
            recorded = result.record is not None
        finally:
            # Set even when screening raised, so that no duplicate row waits for ever.
            done.set_result(recorded)
            del self.first[lead_id]
            self.seen[lead_id] = line if recorded else -line
        return result

    async def _duplicate(self, line: int, lead_id: str, first: int, *, recorded: bool) -> _Outcome:
        """A row repeating an earlier row's lead id: that row's decision, said so."""
        record = await self.store.load(self.job.campaign, lead_id) if recorded else None
        error = f"duplicate of line {first}"
        if record is None:
            row = _invalid_row(line, lead_id, error, self.ids)
            stopped = self.watch.tripped is not None  # the first row was never screened
            return _Outcome(line=line, row=row, error=error, duplicate=True, stopped=stopped)
        row = _record_row(line, record, self.ids)
        row[BASE_COLUMNS.index("error")] = error
        return _Outcome(line=line, row=row, record=record, error=error, duplicate=True)

    def _check_row(self, line: int, values: list[str]) -> _Outcome | tuple[str, dict[str, str]]:
        header = self.leads.header
        index = self.leads.lead_index
        lead_id = values[index].strip() if index < len(values) else ""
        if len(values) != len(header):
            error = f"{len(values)} values, expected {len(header)}"
            return _Outcome(
                line=line, row=_invalid_row(line, lead_id, error, self.ids), error=error
            )
        fields = dict(zip(header, values, strict=True))
        del fields["lead_id"]
        if not lead_id:
            error = "no lead_id"
            return _Outcome(line=line, row=_invalid_row(line, "", error, self.ids), error=error)
        return lead_id, fields

    async def _screen(self, line: int, lead_id: str, fields: dict[str, str]) -> _Outcome:
        lead = Lead(lead_id=lead_id, campaign_id=self.job.campaign, fields=fields)
        async with self.slots:
            if self.watch.tripped is not None:
                # Checked once a slot is free: at most the screenings already under way
                # follow the one that tripped the watch.
                row = _invalid_row(line, lead_id, "not screened: the run stopped", self.ids)
                return _Outcome(line=line, row=row, stopped=True)
            try:
                # A failure's re-screening is forced against the version read: a worker
                # that re-screened the lead since wins, and no second call is made.
                version = await self._failed_earlier(lead)
                record = await self.screener.screen(
                    lead, force=self.job.rescreen, force_version=version
                )
            except InvalidLeadError as exc:
                error = str(exc)
                return _Outcome(
                    line=line, row=_invalid_row(line, lead_id, error, self.ids), error=error
                )
        if self.tally.is_new(record):
            self.watch.observe(record)
        return _Outcome(
            line=line, row=_record_row(line, record, self.ids), fields=fields, record=record
        )

    async def _failed_earlier(self, lead: Lead) -> int | None:
        """The version of the record to re-screen under ``--rescreen-failures``, if any.

        A record decided by an earlier run's failure policy; ``None`` otherwise.
        """
        if not self.job.rescreen_failures:
            return None
        record = await self.screener.load(lead.lead_id, lead.campaign_id)
        if record is None or not decided_by_failure(record) or self.tally.is_new(record):
            return None
        return record.version


async def run_screen(
    job: ScreenJob,
    console: Console,
    *,
    on_row: Callable[[Mapping[str, str], list[str], ScreeningRecord | None], None] | None = None,
) -> ScreenSummary:
    """Screen every row of ``job.leads`` and write ``job.out``; see the module docstring.

    Prints the plan (endpoints, campaign, records, the call bound) on *console* before the
    first call. When ``job.stop_after`` vendor-wide failures in a row stop the run, the
    output is not written and the summary says why (``summary.stopped``); the leads screened
    so far stay recorded.

    Args:
        job: What to screen, with what, and where to write.
        console: Where the plan and the progress go.
        on_row: Called with each row's input fields, output row and record (``None`` for an
            invalid row), in input order.

    Raises:
        CLIError: Unusable input, settings, output or database (one line each).
    """
    leads = LeadsFile(job.leads)
    db = job.db or default_db(job.out)
    _check_paths(job, db)
    loaded = load_settings_file(job.settings, environ=job.environ, max_connections=job.concurrency)
    server: MetricsServer | None = None
    try:
        campaign = await loaded.campaign(job.campaign)
        rows = leads.count()
        for line in _plan(job, loaded, campaign, rows, db):
            console.print(line)
        metrics, server = _metrics(job, console)
        decided = _Decided()
        observer = decided if metrics is None else CompositeObserver(decided, metrics)
        async with open_records(db) as store:
            screener = loaded.screener(store, claim_lease=job.claim_lease, observer=observer)
            watch = OutageWatch(job.stop_after, endpoints(campaign, loaded.kinds))
            try:
                run = _Run(
                    job,
                    screener=screener,
                    columns=_columns(campaign),
                    leads=leads,
                    store=store,
                    watch=watch,
                    decided=decided,
                )
                return await _write_output(run, db, console, rows, on_row)
            finally:
                # Interrupted or not, screenings already under way end recorded (a call that
                # may have reached the vendor is not sent again on the re-run).
                await screener.aclose()
    finally:
        await loaded.aclose()
        if server is not None:
            server.close()


class _Decided:
    """The records this run's screener decided, until their rows are written.

    What this process screened, as against what it found recorded: by an earlier run, or by
    another worker during this one (a start time cannot tell those apart). By identity: the
    screener hands the caller the record it told its observer of.
    """

    def __init__(self) -> None:
        self._ids: set[int] = set()

    def on_integration_result(self, lead: Lead, record: IntegrationRecord) -> None:
        """Nothing: only whole decisions are counted."""

    def on_decision(self, record: ScreeningRecord) -> None:
        """Note *record* as decided here."""
        self._ids.add(id(record))

    def take(self, record: ScreeningRecord) -> bool:
        """Whether *record* was decided here (forgotten after: its row is written once)."""
        decided = id(record) in self._ids
        self._ids.discard(id(record))
        return decided


def _metrics(job: ScreenJob, console: Console) -> tuple[EventObserver | None, MetricsServer | None]:
    """The run's Prometheus observer and its server, with ``--metrics-port``."""
    if job.metrics_port is None:
        return None, None
    registry, server = serve_prometheus(job.metrics_port)
    from ..prometheus import PrometheusObserver  # noqa: PLC0415 - an extra, loaded if asked

    console.print(f"metrics: {server.url}")
    return PrometheusObserver(registry=registry), server


def _plan(
    job: ScreenJob, loaded: LoadedSettings, campaign: CampaignSettings, rows: int, db: Path | str
) -> list[str]:
    if job.rescreen:
        mode = "every lead is screened again (--rescreen)"
    elif job.rescreen_failures:
        mode = "leads a failure policy decided are screened again (--rescreen-failures)"
    else:
        mode = "leads recorded earlier are not screened again"
    lines = plan_lines(
        campaign=campaign,
        kinds=loaded.kinds,
        settings=job.settings,
        rows=rows,
        db=db,
        mode=mode,
        simulator=job.simulator,
    )
    if job.stop_after:
        lines.append(f"  stops after {job.stop_after} vendor-wide failures in a row")
    else:
        lines.append("  never stops early (--stop-after 0)")
    return lines


async def _write_output(
    run: _Run,
    db: Path | str,
    console: Console,
    rows: int,
    on_row: Callable[[Mapping[str, str], list[str], ScreeningRecord | None], None] | None,
) -> ScreenSummary:
    """Screen the rows into a partial file, then rename it to the output (unless stopped)."""
    job, tally = run.job, run.tally
    partial, file = _open_partial(job.out)
    pace = Pace(rows)
    started = time.perf_counter()

    def emit(outcome: _Outcome) -> None:
        if outcome.stopped:
            return
        writer.writerow(outcome.row)
        record = outcome.record
        new = record is not None and not outcome.duplicate and run.decided.take(record)
        tally.add(outcome.line, record, outcome.error, duplicate=outcome.duplicate, new=new)
        pace.add(
            None if record is None else record.decision.value,
            new=new,
            earlier=record is not None and not outcome.duplicate and not new,
            errored=record is not None and any(i.error_class for i in record.integrations),
        )
        if on_row is not None:
            on_row(outcome.fields, outcome.row, record)

    try:
        with file, _live(console, pace, enabled=job.progress):
            writer = csv.writer(file)
            writer.writerow(run.header)
            await _screen_in_order(run, emit)
        if run.watch.tripped is None:
            _replace(partial, job.out)
    except StorageError as exc:
        raise CLIError(f"cannot record a screening in {shown(db)}: {exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return tally.summary(
        seconds=time.perf_counter() - started,
        out=None if run.watch.tripped else job.out,
        db=shown(db),
        stopped=run.watch.tripped,
        planned=rows,
    )


@contextlib.contextmanager
def _live(console: Console, pace: Pace, *, enabled: bool) -> Iterator[None]:
    """The live progress display, redrawn four times a second (nothing when disabled)."""
    if not enabled:
        yield
        return
    with Live(get_renderable=lambda: render_pace(pace), console=console, refresh_per_second=4):
        yield
    if not console.is_terminal:
        console.line()  # rich ends its last frame in a file or a pipe without a line break


def _replace(partial: Path, out: Path) -> None:
    try:
        partial.replace(out)
    except OSError as exc:
        raise CLIError(f"cannot write {out}: {exc.strerror or exc}") from None


async def _screen_in_order(run: _Run, emit: Callable[[_Outcome], None]) -> None:
    """Screen rows concurrently, emitting outcomes in input order from a bounded window.

    Once the outage watch trips, no more rows are read; the rows already taken end as they
    may (the ones not started yet are marked stopped), so that nothing is left half-done.
    """
    window = run.job.concurrency * _WINDOW_PER_SLOT
    pending: deque[asyncio.Task[_Outcome]] = deque()
    try:
        for row in run.leads.rows():
            if run.watch.tripped is not None:
                break
            pending.append(asyncio.create_task(run.screen_row(row.line, row.values)))
            if len(pending) >= window:
                emit(await pending.popleft())
        while pending:
            emit(await pending.popleft())
    finally:
        for left in pending:
            left.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _open_partial(out: Path) -> tuple[Path, TextIO]:
    """A new file beside *out* to write the output in until the run ends, and its path.

    ``OUT.<random>.partial``, created (never opened over an existing file): each run has its
    own, even two workers in containers with one process id, and each renames a whole file
    over the output.
    """
    while True:
        partial = out.with_name(f"{out.name}.{secrets.token_hex(6)}.partial")
        try:
            return partial, partial.open("x", newline="", encoding="utf-8")
        except FileExistsError:
            continue  # a one in 2**48 draw: another name
        except OSError as exc:
            raise CLIError(f"cannot write {partial}: {exc.strerror or exc}") from None


def _check_paths(job: ScreenJob, db: Path | str) -> None:
    out = job.out
    if not out.parent.is_dir():
        raise CLIError(f"the output folder does not exist: {out.parent}")
    if out.is_dir():
        raise CLIError(f"the output is a folder: {out}; name a file such as decisions.csv")
    if out.exists() and not out.is_file():
        # Renamed over, a device or a pipe would become a plain file (and its reader get
        # nothing).
        raise CLIError(f"the output {out} is not a regular file; name a file such as decisions.csv")
    inputs = {"leads file": job.leads, "settings file": job.settings}
    outputs = {"output": out}
    if not is_url(db):
        inputs["records database"] = outputs["records database"] = Path(db)
    for name, path in outputs.items():
        other = overwritten(path, {k: v for k, v in inputs.items() if k != name})
        if other is not None:
            raise CLIError(f"the {name} {path} would overwrite the {other}")
