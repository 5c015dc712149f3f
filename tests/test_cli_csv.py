"""Hostile CSV input to ``purecallerid screen``: no row stops the batch or swallows another.

An oversize field, a byte that is not UTF-8 and an unterminated quote each become an invalid
output row with its line; every other row is screened. The reader's rules are in
``purecallerid._cli.leads`` and in docs/cli.md.
"""

from __future__ import annotations

import csv
import re
import tempfile
import tracemalloc
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import pcid_settings_file
from purecallerid._cli.common import CLIError
from purecallerid._cli.leads import MAX_ROW_CHARS, MAX_ROW_LINES, LeadsFile, Row, Unreadable
from purecallerid.cli import main
from purecallerid.testing import Simulator

TOKEN = "tok-CSV-SECRET-31"
HEADER = b"lead_id,phone,zip\r\n"


@pytest.fixture(autouse=True)
def wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are checked by content: give them room whatever the caller's terminal."""
    monkeypatch.setenv("COLUMNS", "200")


def vendor_settings(folder: Path, base_url: str) -> Path:
    return pcid_settings_file(folder, base_url, TOKEN, "c")


def local_settings(folder: Path) -> Path:
    """A campaign with only a suppression list: screening calls no one."""
    (folder / "dnc.csv").write_text("phone\n2125550150\n")
    path = folder / "settings.toml"
    path.write_text(
        """
[campaigns.c]
[[campaigns.c.integrations]]
id = "dnc"
kind = "suppression"
options = { csv = "dnc.csv" }
rules = ['reject when suppressed is true']
"""
    )
    return path


def screen(folder: Path, *extra: str) -> int:
    argv = ["screen", str(folder / "leads.csv"), "--settings", str(folder / "settings.toml")]
    return main([*argv, "--campaign", "c", "--out", str(folder / "out.csv"), *extra])


def read_output(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def good_row(n: int) -> bytes:
    """A lead; every 25th has a well-formed address over two lines, quoted."""
    address = b'"12 Main St\r\nApt 4"' if n % 25 == 0 else b""
    row = f"G{n:03d},212-300-{n:04d},10001,".encode() + address + b"\r\n"
    return row.replace(b"\r\nApt", b"\nApt") if n % 2 else row  # line breaks of both kinds


BAD_ROWS = {  # before which good row
    40: b'B-BIG,212-555-0150,10001,"' + b"x" * 1_048_576 + b'"\r\n',
    90: b"B-UTF8,212-555-0151,100\xff01,\r\n",
    130: b'B-QUOTE,"212-555-0152,10001,\r\n',  # the quote never closes
}


def hostile_file(path: Path) -> dict[str, int]:
    """200 good rows with a 1 MB field, a byte that is not UTF-8 and an unterminated quote.

    Returns the line of each row by lead id.
    """
    lines: dict[str, int] = {}
    line = 2
    with path.open("wb") as file:
        file.write(b"lead_id,phone,zip,address\r\n")
        for n in range(200):
            for row in (BAD_ROWS.get(n, b""), good_row(n)):
                if row:
                    file.write(row)
                    lines[row.split(b",")[0].decode()] = line
                    line += row.count(b"\n")
    return lines


def test_hostile_rows_among_good_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every good row is decided with one vendor call; each bad one is reported with its line."""
    lines = hostile_file(tmp_path / "leads.csv")
    with Simulator(api_token=TOKEN) as sim:
        vendor_settings(tmp_path, sim.url)
        assert screen(tmp_path, "--no-progress", "--concurrency", "16") == 0
        assert sim.stats()["total_requests"] == 200
        # --strict: the same output, written whole, then exit 1 (no lead screened twice).
        assert screen(tmp_path, "--no-progress", "--strict") == 1
        assert sim.stats()["total_requests"] == 200
    rows = read_output(tmp_path / "out.csv")
    assert [(r["lead_id"], int(r["line"])) for r in rows] == list(lines.items())
    good = [r for r in rows if r["lead_id"].startswith("G")]
    assert len(good) == 200
    assert all(r["decision"] and not r["error"] for r in good)
    assert lines["G050"] == 55  # after G000 and G025 (two lines each) and the 1 MB row
    errors = {r["lead_id"]: (int(r["line"]), r["error"]) for r in rows if not r["decision"]}
    assert errors == {
        "B-BIG": (44, f"row over {MAX_ROW_CHARS:,} characters"),
        "B-UTF8": (97, "not UTF-8: byte 0xff on line 97"),
        # The stray quote would close on G150's quoted address: read again from line 141.
        "B-QUOTE": (
            140,
            "unterminated quote: read as closing on line 161: ',' expected after '\"'",
        ),
    }
    assert lines["G150"] == 161
    out = capsys.readouterr()
    assert "invalid row: line 97: not UTF-8: byte 0xff on line 97" in out.out
    assert "203 rows: 200 screened now, 0 recorded earlier, 3 invalid" in out.out
    assert "error: 3 rows could not be screened (--strict)" in out.err


def test_unterminated_quote_with_no_quote_after(tmp_path: Path) -> None:
    """A quote that nothing closes is given up after MAX_ROW_LINES lines; no row is lost."""
    path = tmp_path / "leads.csv"
    path.write_bytes(
        HEADER
        + b'L0,"2125550150,10001\r\n'
        + b"".join(f"L{n},212-300-{n:04d},10001\r\n".encode() for n in range(1, 151))
    )
    rows = list(LeadsFile(path).rows())
    assert rows[0] == Row(
        2, 2, Unreadable(f"unterminated quote: no closing quote within {MAX_ROW_LINES} lines", "L0")
    )
    assert [r.values[0] for r in rows[1:] if isinstance(r.values, list)] == [
        f"L{n}" for n in range(1, 151)
    ]


def rows_of(tmp_path: Path, data: bytes, **limits: int) -> list[tuple[int, int, object]]:
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    leads = LeadsFile(path, **limits)
    rows = list(leads.rows())
    assert leads.count() == len(rows)
    return [
        (r.line, r.last, r.values.error if isinstance(r.values, Unreadable) else r.values)
        for r in rows
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b'L1,"12 Main St\r\nApt 4",2\r\nL2,3,4\r\n',
            [(2, 3, ["L1", "12 Main St\r\nApt 4", "2"]), (4, 4, ["L2", "3", "4"])],
            id="a quoted field over two lines",
        ),
        pytest.param(
            b"L1,a,b\rL2,c,d\r\rL3,e,f",
            [(2, 2, ["L1", "a", "b"]), (3, 3, ["L2", "c", "d"]), (5, 5, ["L3", "e", "f"])],
            id="CR line breaks, a blank line, no final line break",
        ),
        pytest.param(
            b'L1,"Smith" Jr,b\n',
            [(2, 2, ["L1", "Smith Jr", "b"])],
            id="loose CSV on one line, read as before",
        ),
        pytest.param(
            b'L1,"a,b\nL2,c,d\nL3,"e",f\nL4,g,h\n',
            [
                (2, 2, "unterminated quote: read as closing on line 4: ',' expected after '\"'"),
                (3, 3, ["L2", "c", "d"]),
                (4, 4, ["L3", "e", "f"]),
                (5, 5, ["L4", "g", "h"]),
            ],
            id="a stray quote closing on a later quoted field",
        ),
        pytest.param(
            b'L1,"a,b\nL2,c,d\n',
            [
                (2, 2, "unterminated quote: no closing quote before the end of the file"),
                (3, 3, ["L2", "c", "d"]),
            ],
            id="a quote open at the end of the file",
        ),
        pytest.param(
            b'L1,"a\nb",c,d\nL2,e,f\n',
            [
                (
                    2,
                    2,
                    "unterminated quote: read as closing on line 3, it leaves 4 values, expected 3",
                ),
                (3, 3, ['b"', "c", "d"]),
                (4, 4, ["L2", "e", "f"]),
            ],
            id="a quote over lines leaving the wrong number of values",
        ),
        pytest.param(
            b'L1,"a\n' + b"x\n" * 5 + b'",b\n',
            [(2, 2, "unterminated quote: no closing quote within 4 lines")]
            + [(n, n, ["x"]) for n in range(3, 8)]
            + [(8, 8, "unterminated quote: no closing quote before the end of the file")],
            id="a quote open over more lines than allowed",
        ),
        pytest.param(
            b"L1," + b"x" * 100 + b",b\r\nL2,c,d\r\n",
            [(2, 2, "row over 60 characters"), (3, 3, ["L2", "c", "d"])],
            id="an overlong line",
        ),
        pytest.param(
            b"L1,"
            + b"x" * 55
            + b"\r\nL2,"
            + b"y" * 56
            + b"\r\nL3,"
            + b"z" * 57
            + b"\r\nL4,c,d\r\n",
            [
                (2, 2, ["L1", "x" * 55]),
                (3, 3, "row over 60 characters"),
                (4, 4, "row over 60 characters"),
                (5, 5, ["L4", "c", "d"]),
            ],
            id="60 characters with the line break, 61, and 62 read up to the CR",
        ),
        pytest.param(
            b'L1,"a\n' + b"x" * 100 + b'",b\nL2,c,d\n',
            [
                (2, 2, "unterminated quote: no closing quote within 60 characters"),
                (3, 3, "row over 60 characters"),
                (4, 4, ["L2", "c", "d"]),
            ],
            id="a quoted field running into an overlong line",
        ),
        pytest.param(
            b'L1,"a\n\xe9",b\nL2,\xef\xbb\xbf,\xc3\xa9\n',
            [(2, 3, "not UTF-8: byte 0xe9 on line 3"), (4, 4, ["L2", "\ufeff", "\xe9"])],
            id="a byte that is not UTF-8 on a row's second line",
        ),
    ],
)
def test_reader_rules(tmp_path: Path, body: bytes, expected: list[tuple[int, int, object]]) -> None:
    """Each rule of the reader, with small limits (60 characters, 4 lines)."""
    got = rows_of(tmp_path, b"\xef\xbb\xbflead_id,a,b\n" + body, max_chars=60, max_lines=4)
    assert got == expected


def test_lead_id_of_an_unreadable_row(tmp_path: Path) -> None:
    """An unreadable row shows its lead id when its first line has it whole, else none."""
    path = tmp_path / "leads.csv"
    path.write_bytes(b"phone,lead_id,x\n1,L1," + b"y" * 100 + b'\n1,"L2' + b"z" * 100 + b"\n")
    rows = list(LeadsFile(path, max_chars=60).rows())
    assert [r.values for r in rows] == [
        Unreadable("row over 60 characters", "L1"),
        Unreadable("row over 60 characters", ""),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"lead_id,ph\xf4ne\nL1,1\n",
            (
                "line 1: the header is not readable: not UTF-8: byte 0xf4 on line 1; save the file "
                "as CSV UTF-8"
            ),
        ),
        (b"lead_id," + b"x" * 100 + b"\nL1,1\n", "line 1: the header is not readable: row over"),
        (b'lead_id,"phone\nL1,1\n', "line 1: the header is not readable: unterminated quote"),
        (b"\n\r\n", "is empty: it needs a header row with a lead_id column"),
        (b"id,phone\n", "has no lead_id column (columns: id, phone)"),
        (b"lead_id,a,a\n", "repeated column(s): 'a'"),
        (b"lead_id,,,x\n", "repeated column(s): (a blank name)"),
    ],
)
def test_file_level_errors(tmp_path: Path, data: bytes, message: str) -> None:
    """A header that cannot be used stops the run before any row is read."""
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    with pytest.raises(CLIError, match=re.escape(message)):
        LeadsFile(path, max_chars=60)


def test_a_folder_or_an_unreadable_file_is_said_as_such(tmp_path: Path) -> None:
    """Not "not found" for a folder, nor an untyped error for a file without read permission."""
    with pytest.raises(CLIError, match="the leads file is a folder"):
        LeadsFile(tmp_path)
    path = tmp_path / "leads.csv"
    path.write_bytes(HEADER)

    def refused(*_: object, **__: object) -> NoReturn:
        raise PermissionError(13, "Permission denied")

    with pytest.MonkeyPatch.context() as patch:
        # Patched: the tests may run as root, whom no file mode stops.
        patch.setattr(Path, "open", refused)
        with pytest.raises(CLIError, match=r"cannot read the leads file .*: Permission denied"):
            LeadsFile(path)


def test_an_overlong_line_is_never_held_whole(tmp_path: Path) -> None:
    """A 20 MB line is skipped a chunk at a time: reading it takes well under 1 MB."""
    path = tmp_path / "leads.csv"
    with path.open("wb") as file:
        file.write(HEADER + b'L1,"')
        for _ in range(20):
            file.write(b"x" * 1_048_576)
        file.write(b'",10001\r\nL2,2125550150,10001\r\n')
    leads = LeadsFile(path)
    tracemalloc.start()
    try:
        rows = list(leads.rows())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [r.line for r in rows] == [2, 3]
    assert rows[1].values == ["L2", "2125550150", "10001"]
    assert peak < 1_000_000


# Pieces hostile files are made of: quotes, line breaks of each kind, bad bytes, long runs.
PIECES = st.one_of(
    st.sampled_from(
        [b'"', b'""', b",", b"\n", b"\r", b"\r\n", b"L1", b"2125550150", b"\xff", b"\xef\xbb\xbf"]
    ),
    st.binary(max_size=8),
    st.integers(1, 80).map(lambda n: b"x" * n),
)
BODIES = st.lists(PIECES, max_size=40).map(b"".join)
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def physical_lines(data: bytes) -> list[str]:
    """The lines of *data* as an editor numbers them, each with its line break."""
    text = data.decode("utf-8-sig", "surrogateescape")
    lines, start = [], 0
    for found in LINE_BREAK.finditer(text):
        lines.append(text[start : found.end()])
        start = found.end()
    return [*lines, text[start:]] if start < len(text) else lines


@given(body=BODIES)
def test_no_line_is_lost(body: bytes) -> None:
    """Whatever the bytes, every non-blank line is in exactly one row, in order, read once."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "leads.csv"
        path.write_bytes(HEADER + body)
        leads = LeadsFile(path, max_chars=30, max_lines=3)
        rows = list(leads.rows())
        assert leads.count() == len(rows)
    covered: list[int] = []
    for row in rows:
        assert row.line <= row.last
        covered += range(row.line, row.last + 1)
        if isinstance(row.values, Unreadable):
            assert row.line == row.last or row.values.error.startswith("not UTF-8")
            row.values.lead_id.encode()  # printable: no byte that was not UTF-8
        else:
            assert row.values  # a blank line is no row
            "".join(row.values).encode()  # a row with a bad byte is Unreadable
    assert covered == sorted(set(covered))  # in order, no line in two rows
    lines = physical_lines(HEADER + body)
    blank = {n for n, text in enumerate(lines, start=1) if text in {"\n", "\r", "\r\n"}}
    assert set(range(2, len(lines) + 1)) - blank <= set(covered)
    assert all(r.line not in blank for r in rows)


@settings(max_examples=max(10, settings().max_examples // 2))
@given(body=BODIES)
def test_screen_writes_a_row_for_every_row_read(body: bytes) -> None:
    """``screen`` never fails on a row: one output row per row read, exit code per --strict."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        local_settings(folder)
        (folder / "leads.csv").write_bytes(HEADER + body)
        read = [r.line for r in LeadsFile(folder / "leads.csv").rows()]
        code = screen(folder, "--no-progress", "--strict")
        rows = read_output(folder / "out.csv")
    assert [int(r["line"]) for r in rows] == read
    assert code == (1 if any(not r["decision"] for r in rows) else 0)
