"""The command line's parser: help that stands alone, mistakes named, and docs/cli.md kept whole.

``--help`` gives the docs site (not a repository path), an example per command and the
environment variables; an unknown option is reported by its own command with a close match;
no option is taken from a prefix; and every option of every command is in docs/cli.md.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

import pytest

from purecallerid._cli.outage import DEFAULT_STOP_AFTER
from purecallerid._cli.screen import ScreenJob
from purecallerid.cli import DOCS_URL, build_parser, main

ROOT = Path(__file__).parent.parent
CLI_DOCS = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
VARIABLES = ("PURECALLERID_BASE_URL", "PURECALLERID_API_TOKEN", "PURECALLERID_DEBUG", "COLUMNS")


def commands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> dict[str, argparse.ArgumentParser]:
    """Every command's parser, by its name (``records show`` for a nested one)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + name] = sub
                found.update(commands(sub, f"{prefix}{name} "))
    return found


PARSER = build_parser()
COMMANDS = commands(PARSER)


@pytest.fixture(autouse=True)
def terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Help is laid out for an 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")


def help_of(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def test_top_level_help_stands_alone(capsys: pytest.CaptureFixture[str]) -> None:
    """The docs site, an example of every command and the environment variables."""
    out = help_of([], capsys)
    assert f"docs: {DOCS_URL}cli.html" in out
    assert "docs/cli.md" not in out  # a repository path, absent after install
    for name in ("screen", "check", "validate", "simulate", "demo", "records"):
        assert f"  purecallerid {name} " in out
    for variable in VARIABLES:
        assert variable in out
    assert max(len(line) for line in out.splitlines()) <= 80


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_an_example_and_its_docs(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = help_of(name.split(), capsys)
    assert f"usage: purecallerid {name}" in out
    example = out.split("example:\n", 1)[1]
    assert example.lstrip().startswith(f"purecallerid {name}")
    assert f"docs: {DOCS_URL}cli.html#{name.split(maxsplit=1)[0]}" in out
    assert "PURECALLERID_BASE_URL" in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_the_stop_after_default_is_the_screens() -> None:
    """The parser (rich-free) and the screen run name the same default."""
    assert (
        PARSER.parse_args(
            ["screen", "l", "--settings", "s", "--campaign", "c", "--out", "o"]
        ).stop_after
        == DEFAULT_STOP_AFTER
        == ScreenJob.__attrs_attrs__.stop_after.default
    )


def test_the_docs_url_is_the_projects() -> None:
    """The URL in --help is the one pyproject.toml publishes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["urls"]["Documentation"] == DOCS_URL


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (["screen", "l.csv", "--settings", "s", "--campaign", "c", "--out", "o", "--concurency",
          "4"], "purecallerid screen", "did you mean --concurrency?"),
        # A typo in a required option: the typo is said, not only the missing option.
        (["screen", "l.csv", "--setting", "s", "--campaign", "c", "--out", "o"],
         "purecallerid screen", "did you mean --settings?"),
        (["check", "--settings", "s", "--campaign", "c", "--phone", "1", "--zipp", "1"],
         "purecallerid check", "did you mean --zip?"),
        (["records", "show", "L1", "--db", "x.db", "--campain", "c"],
         "purecallerid records show", "did you mean --campaign?"),
        (["simulate", "--latency=5"], "purecallerid simulate", "did you mean --latency-ms?"),
        (["--verison"], "purecallerid [-h]", "did you mean --version?"),
        (["scren"], "purecallerid [-h]", "did you mean screen?"),
    ],
)  # fmt: skip
def test_unknown_options_name_the_command_and_a_close_match(
    argv: list[str], usage: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: {usage}")
    assert hint in err


@pytest.mark.parametrize(
    "argv",
    [
        ["screen", "l.csv", "--setting", "s", "--campaign", "c", "--out", "o"],
        ["screen", "l.csv", "--settings", "s", "--camp", "c", "--out", "o"],
        ["screen", "l.csv", "--settings", "s", "--campaign", "c", "--out", "o", "--conc", "2"],
        ["simulate", "--late", "5"],
        ["--vers"],
    ],
)
def test_no_option_is_taken_from_a_prefix(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse's default would read --setting as --settings: a typo must not run a command."""
    assert main(argv) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_an_unknown_option_with_nothing_close_gets_no_hint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "f.toml", "--zzzzzz"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --zzzzzz" in err
    assert "did you mean" not in err


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_docs_cover_every_option(name: str) -> None:
    """docs/cli.md describes each command and every option it takes."""
    top = name.split(maxsplit=1)[0]
    assert f"## `{top}`" in CLI_DOCS
    for action in COMMANDS[name]._actions:
        for option in action.option_strings:
            if option in {"-h", "--help"}:
                continue
            assert re.search(rf"`{re.escape(option)}\b", CLI_DOCS), f"{name} {option}"


def test_docs_list_the_environment_and_exit_codes() -> None:
    for variable in VARIABLES:
        assert f"`{variable}" in CLI_DOCS
    for code in ("`0`", "`1`", "`2`", "`3`", "`130`"):
        assert f"| {code} |" in CLI_DOCS
