"""The command line, in process through ``main(argv)``: help, exit codes, errors, check, demo."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from importlib import resources
from pathlib import Path

import httpx
import pytest

from purecallerid import PRESET_NAMES
from purecallerid.cli import main
from purecallerid.testing import Simulator

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"
TOKEN = "tok-CLI-SECRET-93"
COMMANDS = ["screen", "check", "validate", "simulate", "demo"]


@pytest.fixture(autouse=True)
def wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are checked by content: give them room whatever the caller's terminal."""
    monkeypatch.setenv("COLUMNS", "200")


def settings_file(folder: Path, base_url: str = "http://127.0.0.1:9", rules: str = "") -> Path:
    rules = (
        rules
        or """[
  'reject-bad-phone: reject when status = "Rejected" and reason in ("INACTIVE", "DNC")',
]"""
    )
    path = folder / "settings.toml"
    path.write_text(
        f"""
[campaigns.c]
[[campaigns.c.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{base_url}"
timeout = 2
credentials = {{ api_token = "{TOKEN}", campaign_id = "C1", list_name = "Main" }}
rules = {rules}
"""
    )
    return path


def leads_file(folder: Path, text: str) -> Path:
    path = folder / "leads.csv"
    path.write_text(text)
    return path


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv", [[], *([c] for c in COMMANDS)], ids=["top", *COMMANDS])
def test_help_on_every_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """--help works on the program and on every command, exiting 0."""
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: purecallerid")
    assert "exit codes: 0 ok, 1 invalid input or settings, 2 usage" in " ".join(out.split())


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["screen", "leads.csv", "--settings", "s.toml", "--campaign", "c"],
        [
            "screen",
            "l.csv",
            "--settings",
            "s",
            "--campaign",
            "c",
            "--out",
            "o",
            "--concurrency",
            "0",
        ],
        ["check", "--settings", "s.toml", "--campaign", "c", "--phone", "1", "--field", "novalue"],
        ["simulate", "--port", "70000"],
    ],
    ids=["no-command", "unknown", "missing-out", "concurrency", "bad-field", "bad-port"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A usage mistake prints the usage and exits 2."""
    assert main(argv) == 2
    assert "usage: purecallerid" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the installed version."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("purecallerid 0.")


def test_validate_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled example settings validate, listing their integrations."""
    assert main(["validate", str(EXAMPLES / "settings.toml")]) == 0
    out = capsys.readouterr().out
    assert "no problems" in out
    assert "house-dnc" in out
    assert "purecallerid" in out


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing settings file is one line and exit 1."""
    assert main(["validate", str(tmp_path / "nope.toml")]) == 1
    assert error_lines(capsys) == [f"error: settings file not found: {tmp_path / 'nope.toml'}"]


def test_validate_broken_toml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not TOML is one line and exit 1."""
    path = tmp_path / "broken.toml"
    path.write_text("[campaigns.c\nx = 1\n")
    assert main(["validate", str(path)]) == 1
    (line,) = error_lines(capsys)
    assert line.startswith(f"error: {path}: not valid TOML")


def test_validate_rule_typo_names_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rule with a typo is one line naming where it is and what was meant."""
    path = settings_file(tmp_path, rules="""['reject when statuz = "Rejected"']""")
    assert main(["validate", str(path)]) == 1
    (line,) = error_lines(capsys)
    assert "campaigns.c.integrations[0].rules line 1, column 13" in line
    assert 'did you mean "status"' in line


def test_validate_lists_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several problems are each printed on their own line, with their paths."""
    path = tmp_path / "two.toml"
    path.write_text(
        '[campaigns.c]\ndeadlin = 3\n[[campaigns.c.integrations]]\nkind = "purecaller"\n'
    )
    assert main(["validate", str(path)]) == 1
    lines = error_lines(capsys)
    assert lines[0] == f"error: 2 problems in {path}:"
    assert any("campaigns.c.deadlin: unknown key; did you mean 'deadline'?" in x for x in lines)
    assert any("campaigns.c.integrations[0].kind: unknown kind" in x for x in lines)


def test_screen_unknown_campaign(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown campaign is one line naming the campaigns there are, and exit 1."""
    settings = settings_file(tmp_path)
    leads = leads_file(tmp_path, "lead_id,phone\nL1,2125550150\n")
    argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "nope"]
    assert main([*argv, "--out", str(tmp_path / "out.csv")]) == 1
    assert error_lines(capsys) == [f"error: campaign 'nope' is not in {settings} (campaigns: c)"]


def test_screen_missing_leads_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing leads file is one line and exit 1."""
    settings = settings_file(tmp_path)
    argv = ["screen", str(tmp_path / "no.csv"), "--settings", str(settings), "--campaign", "c"]
    assert main([*argv, "--out", str(tmp_path / "out.csv")]) == 1
    assert error_lines(capsys) == [f"error: leads file not found: {tmp_path / 'no.csv'}"]


def test_screen_without_lead_id_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV without a lead_id column is one line and exit 1, before any vendor call."""
    settings = settings_file(tmp_path)
    leads = leads_file(tmp_path, "id,phone\nL1,2125550150\n")
    argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "c"]
    assert main([*argv, "--out", str(tmp_path / "out.csv")]) == 1
    (line,) = error_lines(capsys)
    assert line.startswith(f"error: {leads} has no lead_id column (columns: id, phone)")
    assert not (tmp_path / "out.csv").exists()


def test_screen_header_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A header that is not UTF-8 is one line and exit 1 (a row that is not is an invalid row)."""
    settings = settings_file(tmp_path)
    leads = tmp_path / "leads.csv"
    leads.write_bytes(b"lead_id,ph\xf4ne\nL1,2125550150\n")
    argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "c"]
    assert main([*argv, "--out", str(tmp_path / "out.csv")]) == 1
    assert error_lines(capsys) == [
        (
            f"error: {leads}, line 1: the header is not readable: not UTF-8: byte 0xf4 on line 1; "
            "save the file as CSV UTF-8"
        )
    ]
    assert not (tmp_path / "out.csv").exists()


def test_screen_bad_rows_become_output_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows with a wrong column count, no lead id or a bad phone are output rows, not crashes."""
    with Simulator() as sim:
        settings = settings_file(tmp_path, sim.url)
        leads = leads_file(
            tmp_path,
            "lead_id,phone,zip\nL1,2125550102,10001\nL2,2125550150\n,2125550150,10001\n"
            "L4,555-12,10001\n\nL5,2125550106,10001,extra\n",
        )
        out = tmp_path / "out.csv"
        argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "c"]
        assert main([*argv, "--out", str(out), "--no-progress"]) == 0
        calls = sim.stats()["total_requests"]
    with out.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(r["line"], r["lead_id"], r["decision"]) for r in rows] == [
        ("2", "L1", "reject"),
        ("3", "L2", ""),
        ("4", "", ""),
        ("5", "L4", "qa"),
        ("7", "L5", ""),
    ]
    assert rows[1]["error"] == "2 values, expected 3"
    assert rows[2]["error"] == "no lead_id"
    assert rows[3]["pcid.reason"] == "mapping_error"
    assert calls == 1  # only L1 reached the vendor
    out_text = capsys.readouterr().out
    assert "invalid row: line 3: 2 values, expected 3" in out_text
    assert "invalid row: line 7: 4 values, expected 3" in out_text


def test_screen_strict_fails_on_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --strict, any row that could not be screened makes the exit code 1."""
    settings = settings_file(tmp_path)
    leads = leads_file(tmp_path, "lead_id,phone\nL1\n")
    argv = ["screen", str(leads), "--settings", str(settings), "--campaign", "c", "--strict"]
    assert main([*argv, "--out", str(tmp_path / "out.csv"), "--no-progress"]) == 1
    assert error_lines(capsys)[-1] == "error: 1 rows could not be screened (--strict)"


def one_lead_screen(folder: Path) -> list[str]:
    """``screen`` of a one-lead file with a settings file, both in *folder*; no output yet."""
    settings = settings_file(folder)
    leads = leads_file(folder, "lead_id,phone\nL1,2125550150\n")
    return ["screen", str(leads), "--settings", str(settings), "--campaign", "c", "--no-progress"]


def test_screen_refuses_to_overwrite_the_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output path equal to the leads file is refused."""
    argv = one_lead_screen(tmp_path)
    assert main([*argv, "--out", argv[1]]) == 1
    assert "would overwrite the leads file" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "target", "said"),
    [
        ("--summary-json", "records.db", "would overwrite the records database"),
        ("--summary-json", "leads.csv", "would overwrite the leads file"),
        ("--summary-json", "settings.toml", "would overwrite the settings file"),
        ("--summary-json", "out.csv", "would overwrite the output"),
        ("--out", "settings.toml", "would overwrite the settings file"),
        ("--db", "settings.toml", "would overwrite the settings file"),
    ],
)
def test_screen_refuses_outputs_that_would_overwrite_another_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, target: str, said: str
) -> None:
    """Before any call: no output (the summary, the CSV, the records) lands on another file."""
    argv = one_lead_screen(tmp_path)
    db, out = tmp_path / "records.db", tmp_path / "out.csv"
    out.write_text("the last run's decisions\n")
    given = {"--out": str(out), "--db": str(db), option: str(tmp_path / target)}
    kept = {path: path.read_bytes() for path in (Path(argv[1]), Path(argv[3]), out)}
    assert main([*argv, *(part for pair in given.items() for part in pair)]) == 1
    assert said in capsys.readouterr().err
    assert {path: path.read_bytes() for path in kept} == kept


def test_screen_refuses_a_summary_folder_and_a_loop_of_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Said before any call, as one line: not after the run, not as a Python error."""
    argv = one_lead_screen(tmp_path)
    out = ["--out", str(tmp_path / "out.csv")]
    assert main([*argv, *out, "--summary-json", str(tmp_path)]) == 1
    assert "--summary-json names a folder" in capsys.readouterr().err
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    assert main([*argv, "--out", str(loop)]) == 1
    err = capsys.readouterr().err
    assert "a loop of symbolic links" in err
    assert "RuntimeError" not in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_screen_refuses_an_output_that_is_no_regular_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pipe (or a device) renamed over would become a plain file, its reader left waiting."""
    fifo = tmp_path / "decisions.fifo"
    os.mkfifo(fifo)
    assert main([*one_lead_screen(tmp_path), "--out", str(fifo)]) == 1
    assert "is not a regular file" in capsys.readouterr().err
    assert fifo.is_fifo()


def test_records_export_refuses_to_write_over_its_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`records export --out` naming the database it reads: refused, the database intact."""
    db = tmp_path / "records.db"
    sqlite3.connect(db).close()
    kept = db.read_bytes()
    assert main(["records", "export", "--db", str(db), "--out", str(db)]) == 1
    assert "would overwrite the records database" in capsys.readouterr().err
    assert db.read_bytes() == kept


def test_ctrl_c_before_a_command_runs_says_interrupted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while the command's modules load: exit 130 and one line, no traceback."""
    import purecallerid.cli  # noqa: PLC0415 - the module, to patch

    def pressed(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(purecallerid.cli, "build_parser", pressed)
    assert main(["validate", "settings.toml"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_check_prints_decision_answer_and_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check shows the decision, the answer, the request (token masked) and the rule trace."""
    with Simulator(api_token=TOKEN) as sim:
        settings = settings_file(tmp_path, sim.url)
        argv = ["check", "--settings", str(settings), "--campaign", "c", "--phone", "2125550102"]
        assert main([*argv, "--zip", "10001", "--field", "email=a@example.com"]) == 0
        assert sim.stats()["total_requests"] == 1
    out = capsys.readouterr().out
    assert "decision: REJECT" in out
    assert "decided by: pcid:reject-bad-phone" in out
    assert '"reason": "DNC"' in out
    assert '"apiToken": "***"' in out
    assert '"email": "a@example.com"' in out
    assert "reject-bad-phone" in out
    assert "matched" in out
    assert TOKEN not in out


def test_check_records_nothing(tmp_path: Path) -> None:
    """check leaves no records database behind."""
    with Simulator() as sim:
        settings = settings_file(tmp_path, sim.url)
        argv = ["check", "--settings", str(settings), "--campaign", "c", "--phone", "2125550150"]
        assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_check_vendor_down_is_still_a_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vendor that cannot be reached is an error decided by the failure policy, exit 0."""
    settings = settings_file(tmp_path, "http://127.0.0.1:9")
    argv = ["check", "--settings", str(settings), "--campaign", "c", "--phone", "2125550150"]
    assert main([*argv, "--zip", "10001"]) == 0
    out = capsys.readouterr().out
    assert "decision: QA" in out
    assert "error (connection)" in out


def test_bundled_examples_match_the_package_data() -> None:
    """examples/ is the source; the package's _demo/ copies must be identical to it."""
    bundled = resources.files("purecallerid").joinpath("_demo")
    for name in ("settings.toml", "leads.csv", "suppression.csv"):
        assert bundled.joinpath(name).read_bytes() == (EXAMPLES / name).read_bytes(), (
            f"src/purecallerid/_demo/{name} differs from examples/{name}: "
            f"cp examples/{name} src/purecallerid/_demo/"
        )


EXPECTED_DEMO = {
    "L-0101": "reject",
    "L-0102": "reject",
    "L-0103": "reject",
    "L-0104": "reject",
    "L-0105": "qa",
    "L-0106": "accept",
    "L-0190": "qa",
    "L-0191": "qa",
    "L-0192": "qa",
    "L-0193": "qa",
    "L-0194": "qa",
    "L-0195": "qa",
    "L-0170": "accept",
    "L-0180": "accept",
    "L-0150": "reject",
    "L-0177": "reject",
    "L-BAD-PHONE": "qa",
    "L-NO-ZIP": "qa",
    "L-SHORT-ROW": "",
    "": "",
}


def test_demo_decides_as_the_rules_imply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo screens every bundled lead against the simulator, as the rules imply, quickly."""
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    with (tmp_path / "demo-decisions.csv").open(newline="") as file:
        decisions = {row["lead_id"]: row["decision"] for row in csv.DictReader(file)}
    assert decisions == EXPECTED_DEMO
    out = capsys.readouterr().out
    assert "Decisions per lead" in out
    assert "20 rows: 18 screened now" in out
    assert "the simulator answered" in out


def test_demo_at_80_columns_in_a_temporary_folder(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 80 columns every decision shows whole; a temporary folder says so; no real token."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("PURECALLERID_API_TOKEN", TOKEN)
    monkeypatch.setenv("PURECALLERID_BASE_URL", "https://purecallerid.invalid")
    assert main(["demo", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    assert "http://127.0.0.1:" in captured.out
    assert "(this run's simulator)" in captured.err  # the plan line
    tables = [line for line in captured.out.splitlines() if line[:1] in "┏┃┡│└"]
    assert all(len(line) <= 80 for line in tables)
    assert "…" not in captured.out
    shown = {}
    for line in tables:
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if len(cells) == 5 and cells[0].isdigit():  # a lead's first line in the per-lead table
            shown[cells[1]] = cells[3]
    assert shown == {lead: decision or "invalid row" for lead, decision in EXPECTED_DEMO.items()}
    output = re.search(r"^output: (.*)$", captured.out, re.MULTILINE)
    assert output is not None
    assert not Path(output.group(1)).exists()  # deleted on exit, as the line under it says
    assert "both are in a temporary folder deleted when the demo ends" in captured.out


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_simulate_console_script(tmp_path: Path, stop: signal.Signals) -> None:
    """The installed `purecallerid simulate` serves, counts, and stops cleanly on a signal."""
    script = shutil.which("purecallerid", path=str(Path(sys.executable).parent))
    assert script is not None, "the console script is not installed in this environment"
    env = {**os.environ, "COLUMNS": "200"}
    with subprocess.Popen(  # noqa: S603 - our own console script
        [script, "simulate", "--port", "0", "--latency-ms", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline().split()
            url = first[-1]
            assert first[:4] == ["PureCallerID", "simulator", "listening", "on"]
            # The whole banner, read here: communicate() reads the pipe itself, past what
            # readline() may already hold in its buffer. Its last line is the export.
            banner: list[str] = []
            while not banner or not banner[-1].startswith("export "):
                line = process.stdout.readline()
                assert line, "the banner ended without the export line"
                banner.append(line)
            body = {"apiToken": TOKEN, "phone": "2125550103"}
            answer = httpx.post(url + "/singleLeadLoading", json=body, timeout=30).json()
            process.send_signal(stop)
            rest, err = process.communicate(timeout=30)
            out = "".join(banner) + rest
        finally:
            # Whatever failed above, never leave the server running (Popen's exit waits).
            if process.poll() is None:
                process.kill()
    assert answer["reason"] == "TCPA_FLAG"
    assert process.returncode == 0, err
    assert banner[-1] == f"export PURECALLERID_BASE_URL={url}\n"
    assert 'stopped; {"total_requests": 1' in out
    for name in PRESET_NAMES:  # each preset's base URL is printed
        assert f"preset {name}: base_url = {url}/presets/{name}" in "".join(banner)
    assert "Traceback" not in err


def test_simulate_refuses_a_public_host(capsys: pytest.CaptureFixture[str]) -> None:
    """simulate on a non-loopback address without --allow-remote is one line and exit 1."""
    assert main(["simulate", "--host", "0.0.0.0"]) == 1  # noqa: S104
    (line,) = error_lines(capsys)
    assert line.startswith("error: refusing to listen on '0.0.0.0'")


def test_simulate_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    """A port already in use is one line and exit 1."""
    with Simulator() as sim:
        assert main(["simulate", "--port", str(sim.port)]) == 1
    (line,) = error_lines(capsys)
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{sim.port}")


def test_validate_refuses_a_suppression_mapping_without_phone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A suppression list mapped without a phone is a settings problem, not a later crash."""
    (tmp_path / "dnc.csv").write_text("phone\n2125550150\n")
    path = tmp_path / "settings.toml"
    path.write_text(
        """
[campaigns.c]
[[campaigns.c.integrations]]
id = "dnc"
kind = "suppression"
options = { csv = "dnc.csv" }
mapping = { targets = { zip = { source = "zip" } } }
rules = ['reject when suppressed is true']
"""
    )
    assert main(["validate", str(path)]) == 1
    assert "a suppression list needs a 'phone' target" in capsys.readouterr().err


def test_unexpected_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error nobody foresaw is still one line with exit 1 (the traceback on request)."""
    monkeypatch.delenv("PURECALLERID_DEBUG", raising=False)
    broken = tmp_path / "settings.toml"
    broken.mkdir()  # a folder where a file is expected: reading it fails unexpectedly
    code = main(["check", "--settings", str(broken), "--campaign", "c", "--phone", "2125550102"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1
    assert err[0].startswith("error: ")
