"""ZIP normalization: strings in, strings out, never a lost or invented zero."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from purecallerid import (
    ConfigurationError,
    InvalidZipError,
    PureCallerIDError,
    ZipFormat,
    normalize_zip,
)


@pytest.mark.parametrize(
    ("raw", "five", "plus4"),
    [
        ("02134", "02134", "02134"),
        ("02134-1234", "02134", "02134-1234"),
        ("021341234", "02134", "02134-1234"),
        ("02134 1234", "02134", "02134-1234"),
        ("02134 - 1234", "02134", "02134-1234"),
        ("  02134\n", "02134", "02134"),
        ("90210", "90210", "90210"),
        (90210, "90210", "90210"),
        (902101234, "90210", "90210-1234"),
        (90210.0, "90210", "90210"),
    ],
)
def test_normalizes_real_world_input(raw: object, five: str, plus4: str) -> None:
    """Common ZIP spellings become 5 digits, or ZIP+4 when asked and known."""
    assert normalize_zip(raw) == five
    assert normalize_zip(raw, ZipFormat.PLUS4) == plus4


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("2134", "has 4 digits"),
        (2134, "leading zero was probably lost"),
        (21341234, "leading zero was probably lost"),
        (213, "a number with 3 digits"),
        ("ABCDE", "contains letters"),
        ("K1A 0B6", "contains letters"),
        ("021345", "expected 12345, 12345-6789"),
        ("02134-12", "expected 12345, 12345-6789"),
        ("\uff10\uff12\uff11\uff13\uff14", "expected 12345, 12345-6789"),
        ("213", "has 3 digits"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("0" * 40, "too long"),
        (-2134, "out of the range"),
        (10**12, "out of the range"),
        (2134.5, "fractional"),
        (float("nan"), "fractional"),
        (True, "true or false"),
        (None, "is a NoneType, expected text"),
        (["02134"], "is a list, expected text"),
    ],
)
def test_refuses_what_is_not_a_zip(raw: object, why: str) -> None:
    """Short, long, lettered, fractional and non-text values are invalid, with the reason."""
    with pytest.raises(InvalidZipError, match=why):
        normalize_zip(raw)


def test_four_digit_text_is_not_padded() -> None:
    """'2134' is refused with an explanation, never turned into '02134'."""
    with pytest.raises(InvalidZipError, match="not added back"):
        normalize_zip("2134")


def test_an_int_zip_explains_spreadsheets() -> None:
    """An int that lost its zero names the cause and the fix."""
    with pytest.raises(InvalidZipError, match=r"spreadsheets.*send ZIP codes as text"):
        normalize_zip(2134)


def test_invalid_zip_error_is_a_library_value_error() -> None:
    """InvalidZipError is caught as PureCallerIDError and as ValueError."""
    assert issubclass(InvalidZipError, PureCallerIDError)
    assert issubclass(InvalidZipError, ValueError)


def test_unknown_format_is_a_configuration_error() -> None:
    """An unknown style names the valid ones."""
    with pytest.raises(ConfigurationError, match="'zip\\+4'"):
        normalize_zip("02134", "zip9")


@st.composite
def typed_zips(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """A valid ZIP as a person might type it, its five digits and its +4 (if any)."""
    five = draw(st.from_regex(r"[0-9]{5}", fullmatch=True))
    four = draw(st.none() | st.from_regex(r"[0-9]{4}", fullmatch=True))
    sep = draw(st.sampled_from(["-", "", " ", " - ", "\t"]))
    pad = draw(st.sampled_from(["", " ", "\n"]))
    typed = five if four is None else f"{five}{sep}{four}"
    return f"{pad}{typed}{pad}", five, four


@given(typed_zips())
def test_a_valid_zip_never_loses_a_leading_zero(case: tuple[str, str, str | None]) -> None:
    """The five digits come out exactly as typed, zeros included."""
    typed, five, four = case
    assert normalize_zip(typed) == five
    assert normalize_zip(typed, ZipFormat.PLUS4) == (five if four is None else f"{five}-{four}")


@given(typed_zips(), st.sampled_from(list(ZipFormat)))
def test_normalization_is_idempotent(case: tuple[str, str, str | None], style: ZipFormat) -> None:
    """Normalizing a normalized ZIP gives it back unchanged."""
    once = normalize_zip(case[0], style)
    assert normalize_zip(once, style) == once


@given(st.one_of(st.text(max_size=20), st.integers(), st.floats()))
def test_anything_is_a_zip_string_or_refused(raw: object) -> None:
    """Any input gives a 5-digit or ZIP+4 string, or raises InvalidZipError."""
    try:
        out = normalize_zip(raw, ZipFormat.PLUS4)
    except InvalidZipError:
        return
    assert isinstance(out, str)
    assert len(out) in {5, 10}
    assert out[:5].isdigit()
