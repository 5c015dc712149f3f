"""The leads CSV of ``screen``, read one row at a time with bounds, so no row stops a batch.

The file is read as a stream of physical lines (ending in LF, CRLF or CR), each read at most
:data:`MAX_ROW_CHARS` characters at a time: a line longer than that is skipped in chunks and
never held whole, so a 1 GB line costs no more memory than a short one. Bytes that are not
UTF-8 are kept as lone surrogates (``surrogateescape``) while the row is parsed, so that such a
row can be reported with its line number and the next row read normally.

A row normally ends at the end of its line; a quoted field may carry it over more lines. A
quote that never closes would swallow every following row, so a row carried over lines must
close within :data:`MAX_ROW_LINES` lines and :data:`MAX_ROW_CHARS` characters, as CSV (a
closing quote followed by a comma or the end of a line) and with the header's number of
values. Otherwise its quote is taken as unterminated: the row is reported at its first line
and reading resumes at the line after that one, so no following row is lost.
"""

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING, Final

from attrs import frozen

from .common import CLIError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path
    from typing import TextIO

__all__ = ["MAX_ROW_CHARS", "MAX_ROW_LINES", "LeadsFile", "Row", "Unreadable"]

MAX_ROW_CHARS: Final = 100_000
"""Characters a row may have, line breaks included (lead rows have a few hundred)."""

MAX_ROW_LINES: Final = 100
"""Physical lines one row may span through quoted fields."""

_SKIP_CHUNK: Final = 65_536  # characters read at a time while skipping an overlong line
_NEWLINES: Final = ("\n", "\r")
_ESCAPED_BYTE: Final = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a bad byte


@frozen
class Unreadable:
    """A row that could not be read as values.

    Attributes:
        error: Why, one line (``unterminated quote: ...``, ``row over ... characters``...).
        lead_id: Its lead id when one could be made out, else empty.
    """

    error: str
    lead_id: str = ""


@frozen
class Row:
    """One non-blank row of the file.

    Attributes:
        line: The line it starts on (the header is line 1).
        last: The line it ends on (past ``line`` only for a quoted field over lines).
        values: Its values, or why it could not be read.
    """

    line: int
    last: int
    values: list[str] | Unreadable


@frozen
class _Line:
    number: int
    text: str  # with its line break; only the first characters of an overlong line
    whole: bool


class _Overrun(Exception):  # noqa: N818 - a signal between two functions, never shown
    """A row went past its line or character limit before its quote closed."""


def printable(text: str) -> str:
    """*text* with each byte that was not UTF-8 shown as U+FFFD (written output is UTF-8)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _bad_byte(text: str) -> int | None:
    """The first byte that was not UTF-8 in *text* (kept as a lone surrogate), if any."""
    if text.isascii():
        return None
    found = _ESCAPED_BYTE.search(text)
    return None if found is None else ord(found.group()) - 0xDC00


class _Lines:
    """The physical lines of a text stream, numbered and bounded, with push-back."""

    def __init__(self, stream: TextIO, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.number = 0
        self.back: list[_Line] = []  # pushed-back lines, the next one last
        self.cut_cr = False

    def push_back(self, lines: Sequence[_Line]) -> None:
        """Read *lines* again, in order, before the rest of the stream."""
        self.back.extend(reversed(lines))

    def next(self) -> _Line | None:
        """The next line, or ``None`` at the end of the stream."""
        if self.back:
            return self.back.pop()
        text = self._read(self.limit + 1)
        if not text:
            return None
        self.number += 1
        if len(text) <= self.limit:
            return _Line(self.number, text, whole=True)
        # Overlong: skip the rest of the line a chunk at a time, never holding it whole.
        rest = text
        while rest and not rest.endswith(_NEWLINES):
            rest = self._read(_SKIP_CHUNK)
        return _Line(self.number, text[: self.limit], whole=False)

    def _read(self, size: int) -> str:
        text = self.stream.readline(size)
        if self.cut_cr and text == "\n":
            # readline(size) may stop between the \r and the \n of one line break.
            text = self.stream.readline(size)
        self.cut_cr = len(text) == size and text.endswith("\r")
        return text


class _Feed:
    """The lines of one row for a csv reader: its first, then more while a quote is open."""

    def __init__(self, lines: _Lines, first: _Line, max_lines: int) -> None:
        self.lines = lines
        self.max_lines = max_lines
        self.taken = [first]  # every line the row took
        self.ended = False  # the file ended inside the row

    def texts(self) -> Iterator[str]:
        """The lines' text; raises :class:`_Overrun` past the limits."""
        yield self.taken[0].text
        chars = len(self.taken[0].text)
        # The csv reader asks for another line only while a quoted field is open.
        while (line := self.lines.next()) is not None:
            self.taken.append(line)
            chars += len(line.text)
            if not line.whole or chars > self.lines.limit:
                raise _Overrun(f"within {self.lines.limit:,} characters")
            if len(self.taken) > self.max_lines:
                raise _Overrun(f"within {self.max_lines} lines")
            yield line.text
        self.ended = True


class _Rows:
    """Rows parsed from :class:`_Lines` under the limits of the module docstring."""

    def __init__(self, lines: _Lines, max_lines: int, width: int | None = None) -> None:
        self.lines = lines
        self.max_lines = max_lines
        self.width = width  # the header's number of values (None while reading the header)
        self.lead_index: int | None = None

    def __iter__(self) -> Iterator[Row]:
        while (first := self.lines.next()) is not None:
            row = self._row(first)
            if row is not None:
                yield row

    def _row(self, first: _Line) -> Row | None:
        """The row starting on *first*, or ``None`` for a blank line."""
        if not first.whole:
            error = f"row over {self.lines.limit:,} characters"
            return Row(first.number, first.number, Unreadable(error, self._lead_id(first.text)))
        values: list[str] | Unreadable
        if '"' not in first.text:
            # No quote, so one line is the whole row: split it without a csv reader (fast).
            text = first.text.rstrip("\r\n")
            taken, values = [first], (text.split(",") if text else [])
        else:
            taken, values = self._parse(first)
        if isinstance(values, Unreadable):
            self.lines.push_back(taken[1:])  # read again: the quote may be the only fault
            return Row(first.number, first.number, values)
        if not values:
            return None
        return Row(first.number, taken[-1].number, self._decoded(taken, values))

    def _decoded(self, taken: list[_Line], values: list[str]) -> list[str] | Unreadable:
        """*values*, or why not when a line of the row holds bytes that are not UTF-8."""
        for line in taken:
            found = _bad_byte(line.text)
            if found is not None:
                index = self.lead_index
                lead_id = values[index] if index is not None and index < len(values) else ""
                error = f"not UTF-8: byte 0x{found:02x} on line {line.number}"
                return Unreadable(error, printable(lead_id.strip()))
        return values

    def _parse(
        self, first: _Line, *, strict: bool = True
    ) -> tuple[list[_Line], list[str] | Unreadable]:
        """The row starting on *first* (which holds a quote), and the lines it took."""
        feed = _Feed(self.lines, first, self.max_lines)
        try:
            # strict: a closing quote must end its field, so that a stray quote shows up
            # where it closes (usually on the next quoted field) instead of being guessed.
            values = next(csv.reader(feed.texts(), strict=strict), [])
        except _Overrun as exc:
            return feed.taken, self._unterminated(first, f"no closing quote {exc}")
        except csv.Error as exc:
            if strict and not feed.ended and len(feed.taken) == 1:
                # Loose CSV on its first line ('"a" b'): read as the csv module does by
                # default, as this command always did, under the same limits.
                return self._parse(first, strict=False)
            return feed.taken, self._broken(feed, exc)
        return feed.taken, self._closed(feed, values)

    def _broken(self, feed: _Feed, exc: csv.Error) -> Unreadable:
        first = feed.taken[0]
        if feed.ended:
            return self._unterminated(first, "no closing quote before the end of the file")
        if len(feed.taken) > 1:
            closing = feed.taken[-1].number
            return self._unterminated(first, f"read as closing on line {closing}: {exc}")
        return Unreadable(f"not readable CSV: {exc}", self._lead_id(first.text))

    def _closed(self, feed: _Feed, values: list[str]) -> list[str] | Unreadable:
        first = feed.taken[0]
        if feed.ended:  # only the loose reading gets here: the strict one raises
            return self._unterminated(first, "no closing quote before the end of the file")
        if len(feed.taken) > 1 and self.width is not None and len(values) != self.width:
            return self._unterminated(
                first,
                f"read as closing on line {feed.taken[-1].number}, it leaves {len(values)} "
                f"values, expected {self.width}",
            )
        return values

    def _unterminated(self, first: _Line, why: str) -> Unreadable:
        return Unreadable(f"unterminated quote: {why}", self._lead_id(first.text))

    def _lead_id(self, text: str) -> str:
        """The lead id of a row that cannot be read, when its first line shows it whole."""
        if self.lead_index is None:
            return ""
        try:
            values = next(csv.reader((text,)), [])
        except csv.Error:
            return ""
        # The last value may be cut (an overlong line, a quote running on): not trusted.
        if self.lead_index >= len(values) - 1:
            return ""
        return printable(values[self.lead_index].strip())


class LeadsFile:
    """The input CSV: its header, checked when opened, then its rows one at a time.

    Args:
        path: The CSV file.
        max_chars: Characters a row may have, line breaks included (under the csv module's
            field limit, 131,072).
        max_lines: Physical lines a row may span through quoted fields.

    Raises:
        CLIError: The file is missing, or its header is empty, unreadable, not UTF-8, without
            a ``lead_id`` column, or names a column twice.
    """

    def __init__(
        self, path: Path, *, max_chars: int = MAX_ROW_CHARS, max_lines: int = MAX_ROW_LINES
    ) -> None:
        self.path = path
        self.max_chars = max_chars
        self.max_lines = max_lines
        if path.is_dir():
            raise CLIError(f"the leads file is a folder: {path}")
        if not path.is_file():
            raise CLIError(f"leads file not found: {path}")
        try:
            with self._open() as file:
                header = next(iter(_Rows(_Lines(file, max_chars), max_lines)), None)
        except OSError as exc:  # no permission to read it, a file that went away
            raise CLIError(f"cannot read the leads file {path}: {exc.strerror or exc}") from None
        if header is None:
            raise CLIError(f"{path} is empty: it needs a header row with a lead_id column")
        self.header = self._names(header)
        if "lead_id" not in self.header:
            raise CLIError(
                f"{path} has no lead_id column (columns: {', '.join(self.header)}); "
                "every lead needs an id for its record"
            )
        repeated = sorted({n for n in self.header if self.header.count(n) > 1})
        if repeated:
            names = ", ".join(repr(name) if name else "(a blank name)" for name in repeated)
            raise CLIError(f"{path}: repeated column(s): {names}")
        self.lead_index = self.header.index("lead_id")

    def _names(self, header: Row) -> list[str]:
        if isinstance(header.values, Unreadable):
            reason = header.values.error
            hint = "; save the file as CSV UTF-8" if reason.startswith("not UTF-8") else ""
            where = f"{self.path}, line {header.line}"
            raise CLIError(f"{where}: the header is not readable: {reason}{hint}")
        return [name.strip() for name in header.values]

    def _open(self) -> TextIO:
        # utf-8-sig: spreadsheets often start a CSV with a byte order mark. newline="": lines
        # end at LF, CRLF or CR and keep their breaks as written, for the csv module to read.
        # surrogateescape: a byte that is not UTF-8 is kept (as a lone surrogate) and reported
        # with its row instead of stopping the read.
        return self.path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")

    def count(self) -> int:
        """Data rows in the file (a streaming pass, for the progress bar's total)."""
        return sum(1 for _ in self.rows())

    def rows(self) -> Iterator[Row]:
        """Each non-blank data row; a row that cannot be screened has an :class:`Unreadable`."""
        with self._open() as file:
            rows = _Rows(_Lines(file, self.max_chars), self.max_lines, width=len(self.header))
            rows.lead_index = self.lead_index
            found = iter(rows)
            next(found, None)  # the header, checked when the file was opened
            yield from found
