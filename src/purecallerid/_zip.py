"""US ZIP codes: always strings, never padded.

A ZIP code is an identifier that happens to be made of digits. Spreadsheets and numeric
database columns turn ``02134`` into ``2134``; padding it back with a zero would "repair"
that case and silently corrupt every typo that also has four digits. So a four-digit value is
an error that tells the admin where the zero went, and the fix is made at the source.
"""

from __future__ import annotations

import enum
import math
import re
from typing import Final

from ._errors import ConfigurationError, InvalidZipError

__all__ = ["InvalidZipError", "ZipFormat", "normalize_zip"]


class ZipFormat(enum.StrEnum):
    """How a normalized ZIP code is written."""

    FIVE = "zip5"
    """Five digits: ``02134``."""

    PLUS4 = "zip+4"
    """ZIP+4 when the input had the four extra digits (``02134-1234``), five digits otherwise."""


# "12345", "12345-6789", "123456789", "12345 6789", "12345 - 6789". ASCII digits only: `\d`
# would also match Arabic-Indic and fullwidth digits, which no vendor accepts.
_ZIP: Final = re.compile(r"([0-9]{5})(?:[ \t]*-?[ \t]*([0-9]{4}))?")
_MAX_INPUT = 32
_FIVE = 5
_NINE = 9

_LOST_ZERO = (
    "arrived as a number with {n} digits, so a leading zero was probably lost (spreadsheets"
    " and numeric columns drop it); it is not padded back because that would also hide typos:"
    " send ZIP codes as text, such as '02134'"
)


def check_zip_format(style: ZipFormat | str) -> ZipFormat:
    """Return *style* as a :class:`ZipFormat`.

    Raises:
        ConfigurationError: *style* is not one of the :class:`ZipFormat` values.
    """
    try:
        # A word, in any case, like the rule words: "ZIP5" is zip5.
        if isinstance(style, str):
            style = style.strip().lower()
        return ZipFormat(style)
    except ValueError:
        choices = ", ".join(repr(f.value) for f in ZipFormat)
        raise ConfigurationError(f"unknown ZIP format {style!r}: use one of {choices}") from None


def _from_int(value: int) -> str:
    if not 0 <= value < 10**_NINE:
        raise InvalidZipError("is a number out of the range of ZIP codes")
    digits = str(value)
    # Five or nine digits: no leading zero can have been lost, the number is the code.
    if len(digits) == _FIVE:
        return digits
    if len(digits) == _NINE:
        return f"{digits[:_FIVE]}-{digits[_FIVE:]}"
    raise InvalidZipError(_LOST_ZERO.format(n=len(digits)))


def _from_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidZipError("is empty")
    if len(text) > _MAX_INPUT:
        raise InvalidZipError("is too long to be a ZIP code")
    match = _ZIP.fullmatch(text)
    if match is None:
        if any(ch.isalpha() for ch in text):
            raise InvalidZipError("contains letters; a US ZIP code is 5 digits, or ZIP+4")
        if text.isascii() and text.isdigit() and len(text) < _FIVE:
            raise InvalidZipError(
                f"has {len(text)} digits; a ZIP code has 5 (a lost leading zero is not added"
                " back, because padding would also hide typos: fix it at the source)"
            )
        raise InvalidZipError("is not a ZIP code: expected 12345, 12345-6789 or 123456789")
    five, four = match.groups()
    return five if four is None else f"{five}-{four}"


def normalize_zip(value: object, style: ZipFormat | str = ZipFormat.FIVE) -> str:
    """Return *value* as a ZIP code string in *style*.

    Accepts ``12345``, ``12345-6789``, ``123456789`` and ``12345 6789``, with surrounding
    whitespace. A leading zero is always kept (``02134`` stays ``02134``). A whole number is
    accepted only when it has 5 or 9 digits, since only then can no zero have been lost;
    anything else is refused, never padded. Normalizing the result again gives the same result.

    >>> normalize_zip("02134 1234", "zip+4")
    '02134-1234'

    Raises:
        InvalidZipError: *value* is not a ZIP code (the message says why).
        ConfigurationError: *style* is unknown.
    """
    style = check_zip_format(style)
    return render_zip(value, style)


def render_zip(value: object, style: ZipFormat) -> str:
    """:func:`normalize_zip` for an already-checked *style* (the mapper's per-lead path).

    Raises:
        InvalidZipError: *value* is not a ZIP code.
    """
    if isinstance(value, str):
        code = _from_text(value)
    elif isinstance(value, bool):
        raise InvalidZipError("is true or false, expected text")
    elif isinstance(value, int):
        code = _from_int(value)
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise InvalidZipError("is a fractional number, not a ZIP code")
        code = _from_int(int(value))
    else:
        raise InvalidZipError(f"is a {type(value).__name__}, expected text")
    return code[:_FIVE] if style is ZipFormat.FIVE else code
