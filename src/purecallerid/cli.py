"""The ``purecallerid`` command line.

Commands: ``screen`` (a CSV of leads through the live flow), ``check`` (one lead, with the
rule trace), ``validate`` (a settings file), ``simulate`` (a local PureCallerID stand-in) and
``demo`` (all of it, with the bundled examples). ``purecallerid COMMAND --help`` describes
each.

Exit codes: 0 ok, 1 invalid input or settings (one line per problem, no traceback), 2 usage,
130 interrupted. The commands' output needs the ``cli`` extra (rich); ``--help`` does not.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Final

from . import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]  # noqa: SLF001 - argparse's own type

__all__ = ["build_parser", "main"]

_EXIT_INVALID: Final = 1
_EXIT_USAGE: Final = 2
_EXIT_INTERRUPTED: Final = 130
_MAX_CONCURRENCY: Final = 256
_MAX_PORT: Final = 65535

_EPILOG: Final = (
    "exit codes: 0 ok, 1 invalid input or settings, 2 usage, 130 interrupted. Docs: docs/cli.md"
)


def _concurrency(text: str) -> int:
    value = _integer(text)
    if not 1 <= value <= _MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"must be 1 to {_MAX_CONCURRENCY}, not {value}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= _MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be 0 to {_MAX_PORT}, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text}")
    return value


def _positive(text: str) -> float:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _field(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name.strip(), value


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--settings", required=True, metavar="FILE", help="the settings file (TOML or JSON)"
    )
    parser.add_argument(
        "--campaign", required=True, metavar="ID", help="the campaign whose settings apply"
    )


def _add_screen(commands: _Commands) -> None:
    """The ``screen`` command: a CSV of leads through the live flow, resumably."""
    screen = commands.add_parser(
        "screen",
        help="screen a CSV of leads, resumably",
        description=(
            "Screen every row of a CSV (a header row with a lead_id column) with a campaign's "
            "settings and write one output row per input row, in input order. Records go to "
            "a SQLite database: re-running after an interruption skips the leads already "
            "recorded and spends no vendor call on them, and rewrites the full output."
        ),
        epilog=_EPILOG,
    )
    screen.add_argument("leads", metavar="LEADS.csv", help="the leads to screen")
    _add_settings(screen)
    screen.add_argument("--out", required=True, metavar="OUT.csv", help="the output CSV")
    screen.add_argument(
        "--db",
        metavar="FILE|URL",
        help="the records database: a SQLite file (default: next to the output, "
        "OUT.records.db) or postgresql://user@host/db, shared by workers on many machines",
    )
    screen.add_argument(
        "--concurrency",
        type=_concurrency,
        default=8,
        metavar="N",
        help="leads screened at once (default 8)",
    )
    screen.add_argument(
        "--rescreen",
        action="store_true",
        help="screen leads again even when recorded (spends vendor calls)",
    )
    screen.add_argument(
        "--strict", action="store_true", help="exit 1 when any row could not be screened"
    )
    screen.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    screen.add_argument(
        "--claim-lease",
        type=_positive,
        metavar="S",
        help="seconds a worker's claim on a lead holds before another worker sharing the "
        "database takes the lead over (default: the campaign's deadline + 30)",
    )


def _add_check(commands: _Commands) -> None:
    """The ``check`` command: one lead, every step shown."""
    check = commands.add_parser(
        "check",
        help="screen one lead and show every step",
        description=(
            "Screen one lead (nothing is recorded) and print the decision, each "
            "integration's answer, the request sent (token masked) and the rule trace. "
            "Spends a real vendor call when the settings point at the real vendor."
        ),
        epilog=_EPILOG,
    )
    _add_settings(check)
    check.add_argument("--phone", required=True, metavar="P", help="the phone number")
    check.add_argument("--zip", metavar="Z", help="the ZIP code")
    check.add_argument(
        "--field",
        type=_field,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another lead field (repeatable)",
    )
    check.add_argument("--lead-id", metavar="ID", help="the lead id (default: check-<time>)")


def _add_validate(commands: _Commands) -> None:
    """The ``validate`` command: a settings file checked."""
    validate = commands.add_parser(
        "validate",
        help="check a settings file",
        description=(
            "Load a settings file with all its campaigns, integrations, mappings and rules; "
            "print every problem with its path. Exit 1 when there is any."
        ),
        epilog=_EPILOG,
    )
    validate.add_argument("file", metavar="FILE", help="the settings file (TOML or JSON)")


def _add_simulate(commands: _Commands) -> None:
    """The ``simulate`` command: a local PureCallerID stand-in."""
    simulate = commands.add_parser(
        "simulate",
        help="run a local PureCallerID stand-in",
        description=(
            "Serve a PureCallerID stand-in over HTTP (both dialects), answering from the test "
            "number table, with optional latency, daily quota and rate limit (429 with "
            "Retry-After). Counts at GET /_simulator/stats. Ctrl-C stops it."
        ),
        epilog=_EPILOG,
    )
    simulate.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    simulate.add_argument(
        "--port", type=_port, default=8765, help="port (default 8765; 0 picks a free one)"
    )
    simulate.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, metavar="N", help="added per answer"
    )
    simulate.add_argument(
        "--daily-quota", type=_non_negative_int, metavar="N", help="screenings per UTC day"
    )
    simulate.add_argument("--rate-limit", type=_positive, metavar="N", help="screenings per second")
    simulate.add_argument(
        "--hang-seconds",
        type=_non_negative,
        default=30.0,
        metavar="S",
        help="how long line 0193 holds the connection (default 30)",
    )
    simulate.add_argument(
        "--api-token", metavar="TOKEN", help="the token to expect (default: any non-empty)"
    )
    simulate.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address (no TLS: on purpose only)",
    )


def _add_demo(commands: _Commands) -> None:
    """The ``demo`` command: the bundled samples against the simulator."""
    demo = commands.add_parser(
        "demo",
        help="screen the bundled sample leads against the simulator",
        description=(
            "Start the simulator on a free loopback port, screen the bundled sample leads "
            "with the bundled settings (campaign demo) and print the decisions and the summary."
        ),
        epilog=_EPILOG,
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        help="keep the output CSV and records database in DIR (default: a temporary folder)",
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_records(commands: _Commands) -> None:
    """The ``records`` command: a lead's history, or the records of a time window."""
    records = commands.add_parser(
        "records",
        help="read the records database: a lead's history, or an export",
        description="Read the records a screen run (or a host) stored. Phones are masked.",
        epilog=_EPILOG,
    )
    actions = records.add_subparsers(dest="records_command", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show", help="every version of one lead's record, as JSON", epilog=_EPILOG
    )
    show.add_argument("lead_id", metavar="LEAD_ID", help="the lead id")
    show.add_argument("--campaign", metavar="ID", help="the campaign (default: any)")
    export = actions.add_parser(
        "export", help="the latest record of each lead in a time window", epilog=_EPILOG
    )
    export.add_argument("--since", metavar="TIME", help="finished at or after (ISO 8601, UTC)")
    export.add_argument("--until", metavar="TIME", help="finished before (ISO 8601, UTC)")
    export.add_argument("--campaign", metavar="ID", help="only this campaign")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    for action in (show, export):
        action.add_argument(
            "--db", required=True, metavar="FILE|URL", help="a SQLite file or postgresql:// URL"
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command (it needs nothing beyond the standard library)."""
    parser = argparse.ArgumentParser(
        prog="purecallerid",
        description="Screen leads with PureCallerID and other checks, from the command line.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"purecallerid {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_screen(commands)
    _add_check(commands)
    _add_validate(commands)
    _add_simulate(commands)
    _add_demo(commands)
    _add_records(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (already printed)
        return exit_.code if isinstance(exit_.code, int) else _EXIT_USAGE
    try:
        from ._cli import commands as _cli_commands  # noqa: PLC0415 - rich is an optional extra
    except ImportError as exc:
        if exc.name != "rich" and not (exc.name or "").startswith("rich."):
            raise
        sys.stderr.write(
            "error: the command line needs the cli extra: pip install 'purecallerid[cli]'\n"
        )
        return _EXIT_INVALID
    return _cli_commands.run(args)
