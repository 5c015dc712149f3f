"""The command line's commands: ``screen``, ``check``, ``validate``, ``simulate`` and ``demo``.

Each takes the parsed arguments and returns an exit code; a :class:`CLIError` anywhere becomes
its lines on stderr and its code. Parsing lives in :mod:`purecallerid.cli`, the CSV run in
``screen.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
import tempfile
import threading
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
from rich.table import Table
from rich.text import Text

from .._converter import converter
from .._flow import describe_plan, describe_screening
from .._integrations.configured.presets import PRESET_NAMES
from .._models import Lead
from .._records import IntegrationStatus
from .._secrets import MASK, mask_phone
from .._stores import InMemoryResultStore
from .common import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_STOPPED,
    CLIError,
    LoadedSettings,
    load_settings_file,
    overwritten,
    serve_prometheus,
    stderr_console,
    stdout_console,
    until_terminated,
)
from .records import is_url, parse_time, records_db, records_export, records_show, shown
from .screen import ScreenJob, default_db, run_screen
from .summary import print_summary, summary_json

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Mapping

    from rich.console import Console

    from .._records import IntegrationRecord, ScreeningRecord
    from .._settings import CampaignSettings, IntegrationSettings
    from ..testing._simulator import Simulator
    from .summary import ScreenSummary

__all__ = ["run"]

DEMO_CAMPAIGN: Final = "demo"
DEMO_TOKEN: Final = "test-token"  # noqa: S105 - the simulator's demo token, not a secret


def run(args: argparse.Namespace) -> int:
    """Run the command named in *args*; return its exit code."""
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "screen": _screen,
        "check": _check,
        "plan": _plan,
        "validate": _validate,
        "simulate": _simulate,
        "demo": _demo,
        "records": _records,
    }
    try:
        return handlers[args.command](args)
    except CLIError as error:
        console = stderr_console()
        for number, line in enumerate(error.lines):
            console.print(f"error: {line}" if number == 0 else line)
        return error.code
    except Exception as error:
        # Anything else is a bug or an environment failure; still one line, not a traceback,
        # unless the user asks for it.
        if os.environ.get("PURECALLERID_DEBUG"):
            raise
        first = str(error).splitlines()[0] if str(error) else ""
        stderr_console().print(
            f"error: {type(error).__name__}: {first} "
            "(set PURECALLERID_DEBUG=1 to see where it came from)",
            markup=False,
        )
        return 1


# -- screen ---------------------------------------------------------------------------------


def _screen(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.summary_json is not None:
        _check_summary_path(args, Path(args.summary_json))
    job = ScreenJob(
        leads=Path(args.leads),
        settings=Path(args.settings),
        campaign=args.campaign,
        out=out,
        db=None if args.db is None else records_db(args.db),
        concurrency=args.concurrency,
        rescreen=args.rescreen,
        rescreen_failures=args.rescreen_failures,
        stop_after=args.stop_after,
        progress=not args.no_progress,
        claim_lease=args.claim_lease,
        metrics_port=args.metrics_port,
    )
    try:
        with collector_tuned():
            summary = asyncio.run(until_terminated(run_screen(job, stderr_console())))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, SIGTERM
        stderr_console().print(
            f"interrupted: the leads screened so far are recorded in "
            f"{shown(job.db or default_db(out))}; "
            "run the same command again to finish (recorded leads are not screened again)"
        )
        return EXIT_INTERRUPTED
    print_summary(stdout_console(), summary)
    code = _screen_verdict(summary, strict=args.strict)
    if args.summary_json is not None:
        _write_json(Path(args.summary_json), summary_json(summary, exit_code=code))
    return code


def _check_summary_path(args: argparse.Namespace, path: Path) -> None:
    """Refuse a summary path the run could not write, or would write over another file.

    Said before the run, not after an hour of screening.
    """
    if not path.parent.is_dir():
        raise CLIError(f"the folder of --summary-json does not exist: {path}")
    if path.is_dir():
        raise CLIError(f"--summary-json names a folder: {path}; name a file such as summary.json")
    out = Path(args.out)
    files = {
        "leads file": Path(args.leads),
        "settings file": Path(args.settings),
        "output": out,
    }
    db = default_db(out) if args.db is None else records_db(args.db)
    if not is_url(db):
        files["records database"] = Path(db)
    name = overwritten(path, files)
    if name is not None:
        raise CLIError(f"--summary-json {path} would overwrite the {name}")


# The young generation's allocation threshold during a bulk run (CPython's default is 700,
# 2,000 from Python 3.13).
SCREEN_GC_THRESHOLD: Final = 10_000


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """CPython's cyclic garbage collector set for a bulk run, as it was again afterwards.

    Measured on ``screen`` (20,000 rows, 16 in flight): collections took ~40 µs of CPU per
    row, a full one walking every object the imports made. The objects alive at the start
    (modules, classes, settings) are frozen out of the collections, and the young
    generation is collected every 10,000 net allocations instead of CPython's default (700,
    2,000 from 3.13): a row's objects are freed by reference counting, so only cyclic
    garbage waits longer, and that is bounded by the threshold. The command line owns its
    process; the library itself never touches the collector (a host decides that for its
    own process, see the performance page).

    ``main()`` may also run inside a host's process, in several threads at once: the first
    run to start tunes the collector and the last to end puts it back (the others would
    restore each other's tuning), and objects a host froze itself are left frozen
    (``gc.unfreeze()`` would thaw them all, not only the run's).
    """
    with _TUNING.lock:
        if _TUNING.runs == 0:
            _TUNING.threshold = gc.get_threshold()
            _TUNING.froze = gc.get_freeze_count() == 0
            if _TUNING.froze:
                # Without a collection first: cyclic garbage of the start-up is frozen with
                # the rest until the run ends (a little memory), and a full collection of a
                # host's heap could take longer than the run.
                gc.freeze()
            gc.set_threshold(SCREEN_GC_THRESHOLD, *_TUNING.threshold[1:])
        _TUNING.runs += 1
    try:
        yield
    finally:
        with _TUNING.lock:
            _TUNING.runs -= 1
            if _TUNING.runs == 0:
                gc.set_threshold(*_TUNING.threshold)
                if _TUNING.froze:
                    gc.unfreeze()


@attrs.define
class _CollectorTuning:
    """The runs under :func:`collector_tuned` and what the first of them found."""

    lock: threading.Lock = attrs.field(factory=threading.Lock)
    runs: int = 0
    threshold: tuple[int, int, int] = (0, 0, 0)
    froze: bool = False


_TUNING: Final = _CollectorTuning()


def _screen_verdict(summary: ScreenSummary, *, strict: bool) -> int:
    """The exit code of a finished (or stopped) run, its reason printed on stderr."""
    console = stderr_console()
    if summary.stopped is not None:
        first, *rest = summary.stopped.lines()
        rest.append(
            f"  the {summary.screened_now:,} leads screened in this run are recorded in "
            f"{summary.db}; once the cause is fixed, run the same command with "
            "--rescreen-failures: it screens those leads again and finishes the rest"
        )
        # Wrapped at words to the terminal's width: this is what the operator reads last.
        for line in (f"error: {first}", *rest):
            console.print(line, soft_wrap=False)
        return EXIT_STOPPED
    problems = []
    if strict and summary.invalid:
        problems.append(f"{summary.invalid} rows could not be screened")
    if strict and summary.vendor_errors:
        problems.append(f"{summary.vendor_errors} leads had a vendor error")
    if problems:
        console.print(f"error: {' and '.join(problems)} (--strict)")
        return EXIT_INVALID
    return EXIT_OK


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror or exc}") from None


# -- records --------------------------------------------------------------------------------


def _records(args: argparse.Namespace) -> int:
    db = records_db(args.db)
    if not is_url(db) and not Path(db).is_file():
        raise CLIError(f"no records database at {db}")
    if args.records_command == "show":
        count = asyncio.run(records_show(db, args.lead_id, args.campaign, sys.stdout))
        if count == 0:
            raise CLIError(f"no record of lead {args.lead_id!r} in {shown(db)}")
        return EXIT_OK
    try:
        since = None if args.since is None else parse_time(args.since)
        until = None if args.until is None else parse_time(args.until)
    except ValueError as exc:
        raise CLIError(f"--since/--until take an ISO 8601 date or time: {exc}") from None
    with contextlib.ExitStack() as stack:
        out = sys.stdout
        if args.out is not None:
            if not is_url(db) and overwritten(Path(args.out), {"db": Path(db)}):
                raise CLIError(f"--out {args.out} would overwrite the records database")
            try:
                out = stack.enter_context(Path(args.out).open("w", encoding="utf-8", newline=""))
            except OSError as exc:
                raise CLIError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        count = asyncio.run(
            records_export(
                db, since=since, until=until, campaign=args.campaign, fmt=args.format, out=out
            )
        )
    stderr_console().print(f"{count:,} records exported")
    return EXIT_OK


# -- check ----------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    fields: dict[str, str] = dict(args.field)
    fields["phone"] = args.phone
    if args.zip is not None:
        fields["zip"] = args.zip
    lead_id = args.lead_id or f"check-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    lead = Lead(lead_id=lead_id, campaign_id=args.campaign, fields=fields)
    record, campaign = asyncio.run(_check_one(Path(args.settings), lead))
    _print_check(stdout_console(), record, campaign)
    return EXIT_OK


async def _check_one(settings: Path, lead: Lead) -> tuple[ScreeningRecord, CampaignSettings]:
    loaded = load_settings_file(settings, max_connections=1)
    try:
        campaign = await loaded.campaign(lead.campaign_id)
        # Nothing is kept: a check must not leave a record that a later `screen` would reuse.
        screener = loaded.screener(InMemoryResultStore())
        return await screener.screen(lead), campaign
    finally:
        await loaded.aclose()


def _print_check(console: Console, record: ScreeningRecord, campaign: CampaignSettings) -> None:
    console.print(f"lead {record.lead_id}, campaign {record.campaign_id}")
    console.print(f"decision: {record.decision.value.upper()}", style="bold")
    console.print(f"decided by: {record.decided_by or 'no rule (accept)'}")
    for label, values in (("reasons", record.reasons), ("flags", record.flags)):
        if values:
            console.print(f"{label}: " + "; ".join(values))
    if record.note:
        console.print(f"note: {record.note}")
    settings_by_id = {s.id: s for s in campaign.integrations}
    for integration in record.integrations:
        console.print()
        _print_integration(console, integration, settings_by_id.get(integration.integration_id))
    console.print()
    # Which integration ran and why (a condition, a sample, an earlier reject), the
    # campaign rules' verdict and what the shadow parts would have decided.
    console.print(Text(describe_screening(record).rstrip("\n")), soft_wrap=True)
    console.print(
        f"took {record.duration * 1000:.0f} ms; settings hash {record.settings_hash[:12]}"
    )


def _print_integration(
    console: Console, record: IntegrationRecord, settings: IntegrationSettings | None
) -> None:
    where = ""
    if settings is not None and settings.base_url:
        token = "" if settings.credentials.api_token is None else f", token {MASK}"
        where = f", {settings.dialect} dialect at {settings.base_url}{token}"
    action = "-" if record.action is None else record.action.value
    console.print(
        f"{record.integration_id} ({record.kind}, sort {record.sort}{where}): "
        f"{record.status.value} -> {action}",
        style="bold",
        soft_wrap=True,
    )
    if record.status in {IntegrationStatus.SKIPPED, IntegrationStatus.CANCELLED}:
        console.print(f"  {record.skip_reason}")
        return
    if record.request is not None:
        body = json.dumps(record.request.body, default=str)
        console.print(
            f"  request: {record.request.method} {record.request.url} {body}", soft_wrap=True
        )
    for attempt in record.attempts:
        status = "" if attempt.status_code is None else f" HTTP {attempt.status_code}"
        wait = "" if attempt.wait is None else f", then waited {attempt.wait:.2f} s"
        console.print(
            f"  attempt {attempt.number}: {attempt.outcome}{status} "
            f"in {attempt.duration * 1000:.1f} ms{wait}"
        )
    if record.status is IntegrationStatus.ERROR:
        console.print(f"  error ({record.error_class}): {record.error_message}")
        if record.outcome_unknown:
            console.print("  the call may have reached the vendor (outcome unknown)")
    if record.answer is not None:
        shown = {k: v for k, v in record.answer.items() if v not in (None, {}, [])}
        console.print(f"  answer: {json.dumps(shown, default=str)}")
    if record.rule_trace:
        console.print(_trace_table(record.rule_trace))


def _trace_table(trace: tuple[Mapping[str, Any], ...]) -> Table:
    table = Table(title="  rule trace", title_justify="left")
    for column in ("rule", "action", "outcome", "fired", "values read"):
        table.add_column(column, overflow="fold")
    for entry in trace:
        values = json.dumps(converter.unstructure(entry.get("values", {})), default=str)
        table.add_row(
            Text(str(entry.get("rule_id"))),
            Text(str(entry.get("action"))),
            Text(str(entry.get("outcome"))),
            "yes" if entry.get("fired") else "no",
            Text(values),
        )
    return table


# -- plan -----------------------------------------------------------------------------------


def _plan(args: argparse.Namespace) -> int:
    loaded = load_settings_file(Path(args.settings), max_connections=1)

    async def campaign() -> CampaignSettings:
        try:
            return await loaded.campaign(args.campaign)
        finally:
            await loaded.aclose()

    stdout_console().print(Text(describe_plan(asyncio.run(campaign())).rstrip("\n")))
    return EXIT_OK


# -- validate -------------------------------------------------------------------------------


def _validate(args: argparse.Namespace) -> int:
    path = Path(args.file)
    loaded = load_settings_file(path)
    campaigns = asyncio.run(_campaigns(loaded))
    table = Table()
    for column in ("campaign", "integration", "kind", "sort", "enabled", "rules"):
        table.add_column(column)
    for campaign in campaigns:
        for integration in sorted(campaign.integrations, key=lambda i: i.sort):
            table.add_row(
                Text(campaign.campaign_id),
                Text(integration.id),
                Text(integration.kind),
                str(integration.sort),
                "yes" if integration.enabled else "no",
                str(len(integration.rules.rules)),
            )
    console = stdout_console()
    console.print(f"{path}: no problems")
    console.print(table)
    return EXIT_OK


async def _campaigns(loaded: LoadedSettings) -> list[CampaignSettings]:
    try:
        return [await loaded.campaign(i) for i in loaded.settings.campaign_ids()]
    finally:
        await loaded.aclose()


# -- simulate -------------------------------------------------------------------------------


def _simulate(args: argparse.Namespace) -> int:
    # The simulator lives in purecallerid.testing: loaded by the commands that run it only.
    from ..testing._simulator import Simulator  # noqa: PLC0415

    try:
        simulator = Simulator(
            host=args.host,
            port=args.port,
            latency=args.latency_ms / 1000,
            daily_quota=args.daily_quota,
            rate_limit=args.rate_limit,
            hang_seconds=args.hang_seconds,
            api_token=args.api_token,
            allow_remote=args.allow_remote,
        )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    console = stdout_console()

    def ready(running: Simulator) -> None:
        token = "any non-empty token" if args.api_token is None else f"token {MASK}"
        limits = [
            f"latency {args.latency_ms:g} ms",
            "no daily quota" if args.daily_quota is None else f"daily quota {args.daily_quota}",
            "no rate limit" if args.rate_limit is None else f"rate limit {args.rate_limit:g}/s",
        ]
        console.print(f"PureCallerID simulator listening on {running.url}")
        console.print(
            f"  leadexec: POST {running.url}/singleLeadLoading; "
            f"public: POST {running.url}/api/public/lead/load"
        )
        console.print(f"  stats: GET {running.url}/_simulator/stats")
        console.print(f"  accepts {token}; {', '.join(limits)}. Ctrl-C or SIGTERM stops.")
        for name in PRESET_NAMES:
            console.print(f"  preset {name}: base_url = {running.preset_url(name)}")
        if server is not None:
            console.print(f"  metrics: GET {server.url}")
        console.print("point the bundled settings (and yours, if they read it) here with:")
        console.print(f"export PURECALLERID_BASE_URL={running.url}")

    server = None
    if args.metrics_port is not None:
        registry, server = serve_prometheus(args.metrics_port, args.host)
        from ..prometheus import SimulatorCollector  # noqa: PLC0415 - an extra, loaded if asked

        SimulatorCollector(simulator, registry=registry)
    try:
        simulator.run(on_ready=ready)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    except KeyboardInterrupt:
        pass  # Ctrl-C; SIGTERM makes run() return: both stop the same way, counts printed
    finally:
        if server is not None:
            server.close()
    console.print(f"stopped; {json.dumps(simulator.stats())}")
    return EXIT_OK


# -- demo -----------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        bundled = stack.enter_context(
            resources.as_file(resources.files("purecallerid").joinpath("_demo"))
        )
        if args.out is None:
            out = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="purecallerid-")))
        else:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
        job = ScreenJob(
            leads=bundled / "leads.csv",
            settings=bundled / "settings.toml",
            campaign=DEMO_CAMPAIGN,
            out=out / "demo-decisions.csv",
            db=out / "demo-records.db",
            progress=not args.no_progress,
        )
        try:
            summary = asyncio.run(
                until_terminated(_run_demo(job, stdout_console(), temporary=args.out is None))
            )
        except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C, SIGTERM
            stderr_console().print("interrupted")
            return EXIT_INTERRUPTED
    return EXIT_OK if summary.stopped is None else EXIT_STOPPED


async def _run_demo(job: ScreenJob, console: Console, *, temporary: bool) -> ScreenSummary:
    from ..testing._simulator import Simulator  # noqa: PLC0415 - as in _simulate

    rows: list[tuple[Mapping[str, str], list[str], ScreeningRecord | None]] = []
    async with Simulator() as simulator:
        # The bundled settings read these two variables: point them at this simulator, and
        # never send a real token from the environment to it.
        environ = {
            **os.environ,
            "PURECALLERID_BASE_URL": simulator.url,
            "PURECALLERID_API_TOKEN": DEMO_TOKEN,
        }
        console.print(f"simulator on {simulator.url}; screening the bundled leads")
        summary = await run_screen(
            attrs.evolve(job, environ=environ, simulator=simulator.url),
            stderr_console(),
            on_row=lambda fields, row, record: rows.append((fields, row, record)),
        )
        stats = simulator.stats()
    console.print(_decisions_table(rows))
    print_summary(console, summary, temporary=temporary, hints=False)
    console.print(
        f"the simulator answered {stats['total_requests']} requests "
        f"(by status: {json.dumps(stats['by_status'], sort_keys=True)})",
        soft_wrap=True,
    )
    return summary


def _why(record: ScreeningRecord | None, error: str) -> str:
    if record is None:
        return error
    if record.decided_by and record.decided_by.endswith(":failure_policy"):
        failed = record.integration(record.decided_by.split(":", 1)[0])
        return f"{failed.error_class}: {failed.error_message}"
    return "; ".join(record.reasons)


def _decided_by_and_why(decided_by: str, why: str) -> Text:
    """Who decided, then why on its own line unless the rule's id already says it."""
    rule = decided_by.rpartition(":")[2]
    lines = [decided_by or "-"]
    if why and why != rule:
        lines.append(why)
    return Text("\n".join(lines))


def _decisions_table(
    rows: list[tuple[Mapping[str, str], list[str], ScreeningRecord | None]],
) -> Table:
    table = Table(title="Decisions per lead", title_justify="left")
    table.add_column("line", justify="right", no_wrap=True)
    table.add_column("lead", overflow="fold")
    table.add_column("phone", no_wrap=True)
    # The decision is what the table is for: a width that holds every one, never cut. The
    # texts after it fold onto more lines on a narrow terminal instead.
    table.add_column("decision", no_wrap=True, min_width=len("invalid row"))
    table.add_column("decided by, and why", overflow="fold", ratio=1)
    for fields, row, record in rows:
        line, lead_id, decision, _reasons, _flags, decided_by, error = row[:7]
        phone = fields.get("phone", "")
        table.add_row(
            line,
            Text(lead_id),
            Text(mask_phone(phone) if phone else "-"),
            Text(decision or "invalid row"),
            _decided_by_and_why(decided_by, _why(record, error)),
        )
    return table
