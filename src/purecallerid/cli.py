"""The ``purecallerid`` command line.

Commands: ``screen`` (a CSV of leads through the live flow), ``check`` (one lead, with the
rule trace), ``plan`` (a campaign's stages, conditions and shadows), ``validate`` (a settings
file), ``simulate`` (a local PureCallerID stand-in) and
``demo`` (all of it, with the bundled examples), ``records`` (the records database).
``purecallerid COMMAND --help`` describes each, with an example, the environment variables
and a link to the documentation site.

Exit codes: 0 ok, 1 invalid input or settings (one line per problem, no traceback), 2 usage,
3 ``screen`` stopped early (a vendor failed for lead after lead), 130 interrupted. The
commands' output needs the ``cli`` extra (rich); ``--help`` does not.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from typing import TYPE_CHECKING, Any, Final

from . import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    _Commands = argparse._SubParsersAction["_Parser"]  # noqa: SLF001 - argparse's own type

__all__ = ["DOCS_URL", "build_parser", "main"]

DOCS_URL: Final = "https://purecallerid.github.io/purecallerid/"
"""The documentation site (``Documentation`` in ``[project.urls]``); the CLI page is cli.html."""

_EXIT_INVALID: Final = 1
_EXIT_USAGE: Final = 2
_EXIT_INTERRUPTED: Final = 130
_MAX_CONCURRENCY: Final = 256
_MAX_PORT: Final = 65535
_DEFAULT_STOP_AFTER: Final = 20  # the same as _cli.outage.DEFAULT_STOP_AFTER (rich-free here)

_EXIT_CODES: Final = (
    "exit codes: 0 ok, 1 invalid input or settings, 2 usage, 3 screen stopped early "
    "(a vendor kept failing), 130 interrupted."
)
_ENVIRONMENT: Final = """environment:
  PURECALLERID_BASE_URL   the vendor URL the bundled settings read (unset: the
                          simulator's http://127.0.0.1:8765; demo sets its own)
  PURECALLERID_API_TOKEN  the API token the bundled settings read (demo sets a
                          test token)
  (any ${VAR})            a settings file may read any variable
  PURECALLERID_DEBUG=1    show the traceback of an unexpected error
  COLUMNS                 the width of tables and progress (default: terminal)
  HTTPS_PROXY, NO_PROXY   a proxy for vendor calls"""
_EXAMPLES: Final = {
    "screen": (
        "purecallerid screen leads.csv --settings settings.toml \\\n"
        "      --campaign demo --out decisions.csv"
    ),
    "check": (
        "purecallerid check --settings settings.toml --campaign demo \\\n"
        "      --phone 212-555-0102 --zip 10001"
    ),
    "plan": "purecallerid plan --settings settings.toml --campaign demo",
    "validate": "purecallerid validate settings.toml",
    "simulate": "purecallerid simulate --port 8765 --latency-ms 50",
    "demo": "purecallerid demo --out demo-output",
    "records": "purecallerid records show L-0101 --db decisions.records.db",
    "records show": "purecallerid records show L-0101 --db decisions.records.db",
    "records export": "purecallerid records export --db decisions.records.db --format csv",
}


def _epilog(command: str | None = None) -> str:
    """Examples, environment, exit codes and the docs link of *command* (or of every one)."""
    names = [n for n in _EXAMPLES if " " not in n] if command is None else [command]
    examples = "\n".join(_EXAMPLES[name] for name in names)
    heading = "examples:" if command is None else "example:"
    parts = [heading, textwrap.indent(examples, "  "), "", _ENVIRONMENT, "", _EXIT_CODES]
    anchor = "" if command is None else f"#{command.split()[0]}"
    parts.append(f"docs: {DOCS_URL}cli.html{anchor}")
    return "\n".join(parts)


class _Formatter(argparse.HelpFormatter):
    """Wraps prose to the terminal; keeps indented lines (examples, variables) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        for paragraph in text.splitlines():
            if not paragraph or paragraph.startswith(" "):
                lines.append(indent + paragraph)
            else:
                lines.extend(
                    textwrap.wrap(paragraph, width, initial_indent=indent, subsequent_indent=indent)
                )
        return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """A parser that takes no abbreviation and names what was meant by an unknown option.

    argparse's defaults read ``--setting`` as ``--settings`` (prefix matching), and an unknown
    option after a command printed the top-level usage without a hint. Here each command
    rejects its own unknown options, with its own usage and a close match.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._given: list[str] = []

    def parse_known_args(  # type: ignore[override] # argparse's stubs overload it
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse *args*; an argument this parser does not know is an error, with a hint."""
        self._given = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(self._given, namespace)
        if extras:
            self.error(self._unrecognized(extras))
        return parsed, extras

    def error(self, message: str) -> Any:  # argparse declares NoReturn
        """Print the usage and *message* (with a hint for a mistyped option), exit 2."""
        unknown = self._unknown_options()
        if unknown and message.startswith("the following arguments are required"):
            # `--setting FILE` left --settings missing: the typo is the thing to say.
            message = self._unrecognized(unknown)
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            choices = [c.strip(" '") for c in choice.group(2).split(",")]
            close = difflib.get_close_matches(choice.group(1), choices, n=1)
            message += f"; did you mean {close[0]}?" if close else ""
        super().error(message)

    def _unknown_options(self) -> list[str]:
        given = self._given[: self._given.index("--")] if "--" in self._given else self._given
        return [
            a for a in given if a.startswith("--") and a.split("=")[0] not in self._long_options()
        ]

    def _long_options(self) -> list[str]:
        return [o for o in self._option_string_actions if o.startswith("--")]

    def _unrecognized(self, extras: Sequence[str]) -> str:
        hints = []
        for extra in extras:
            name = extra.split("=")[0]
            close = difflib.get_close_matches(name, self._long_options(), n=1, cutoff=0.6)
            if extra.startswith("--") and close:
                hints.append(f"did you mean {close[0]}?")
        hint = f" ({'; '.join(hints)})" if hints else ""
        return f"unrecognized arguments: {' '.join(extras)}{hint}"


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
            "recorded and spends no vendor call on them, and rewrites the full output. The "
            "plan (endpoints, campaign, database, the most vendor calls) is printed before "
            "the first call; a run of vendor-wide failures stops the run (exit 3) with what "
            "to check."
        ),
        epilog=_epilog("screen"),
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
    again = screen.add_mutually_exclusive_group()
    again.add_argument(
        "--rescreen",
        action="store_true",
        help="screen leads again even when recorded (spends vendor calls)",
    )
    again.add_argument(
        "--rescreen-failures",
        action="store_true",
        help="screen again the leads whose latest record a failure policy decided (after an "
        "outage, once fixed): a new version of their record; others keep theirs",
    )
    screen.add_argument(
        "--stop-after",
        type=_non_negative_int,
        default=_DEFAULT_STOP_AFTER,
        metavar="N",
        help="stop (exit 3) after N leads in a row fail at one integration for a vendor-wide "
        "reason: token refused, vendor never reached, no such endpoint, circuit breaker "
        f"open, quota spent (default {_DEFAULT_STOP_AFTER}; 0 never stops)",
    )
    screen.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when any row could not be screened or any lead had a vendor error (an "
        "integration failed for another reason than the lead's own data)",
    )
    screen.add_argument(
        "--summary-json",
        metavar="FILE",
        help="also write the summary as JSON to FILE (counts, vendor answers, errors, exit code)",
    )
    screen.add_argument("--no-progress", action="store_true", help="hide the live progress")
    _add_metrics_port(screen)
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
        epilog=_epilog("check"),
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


def _add_metrics_port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve Prometheus metrics at http://127.0.0.1:PORT/metrics while it runs (0 picks "
        "a free port; needs the prometheus extra)",
    )


def _add_plan(commands: _Commands) -> None:
    """The ``plan`` command: a campaign's plan, printed."""
    plan = commands.add_parser(
        "plan",
        help="print a campaign's plan: stages, conditions, samples, shadows, rules",
        description=(
            "Print how the campaign's leads are screened: its stages in order (integrations "
            "of one stage run together), each integration's condition (when), sample and "
            "shadow mode, the disabled ones, and the campaign and shadow rules. No call is "
            "made."
        ),
        epilog=_epilog("plan"),
    )
    _add_settings(plan)


def _add_validate(commands: _Commands) -> None:
    """The ``validate`` command: a settings file checked."""
    validate = commands.add_parser(
        "validate",
        help="check a settings file",
        description=(
            "Load a settings file with all its campaigns, integrations, mappings and rules; "
            "print every problem with its path. Exit 1 when there is any."
        ),
        epilog=_epilog("validate"),
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
        epilog=_epilog("simulate"),
    )
    simulate.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    simulate.add_argument(
        "--port", type=_port, default=8765, help="port (default 8765; 0 picks a free one)"
    )
    _add_metrics_port(simulate)
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
        epilog=_epilog("demo"),
    )
    demo.add_argument(
        "--out",
        metavar="DIR",
        help="keep the output CSV and records database in DIR (default: a temporary folder, "
        "deleted when the demo ends)",
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the live progress")


def _add_records(commands: _Commands) -> None:
    """The ``records`` command: a lead's history, or the records of a time window."""
    records = commands.add_parser(
        "records",
        help="read the records database: a lead's history, or an export",
        description="Read the records a screen run (or a host) stored. Phones are masked.",
        epilog=_epilog("records"),
    )
    actions = records.add_subparsers(dest="records_command", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show", help="every version of one lead's record, as JSON", epilog=_epilog("records show")
    )
    show.add_argument("lead_id", metavar="LEAD_ID", help="the lead id")
    show.add_argument("--campaign", metavar="ID", help="the campaign (default: any)")
    export = actions.add_parser(
        "export",
        help="the latest record of each lead in a time window",
        epilog=_epilog("records export"),
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
    parser = _Parser(
        prog="purecallerid",
        description="Screen leads with PureCallerID and other checks, from the command line.",
        epilog=_epilog(),
    )
    parser.add_argument("--version", action="version", version=f"purecallerid {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_screen(commands)
    _add_check(commands)
    _add_plan(commands)
    _add_validate(commands)
    _add_simulate(commands)
    _add_demo(commands)
    _add_records(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default ``sys.argv[1:]``); return the exit code."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C before a command takes over (while its modules load): said, not a traceback.
        sys.stderr.write("interrupted\n")
        return _EXIT_INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
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
