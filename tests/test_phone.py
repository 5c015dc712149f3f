"""Phone normalization: what people type, in, E.164 and the vendor's rendering, out."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from purecallerid import (
    ConfigurationError,
    InvalidPhoneError,
    PhoneFormat,
    PureCallerIDError,
    format_phone,
    normalize_phone,
)

AUSTIN = "+15127891111"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(512) 789-1111", AUSTIN),
        ("512.789.1111 x44", AUSTIN),
        ("+1 512 789 1111", AUSTIN),
        ("1-512-789-1111", AUSTIN),
        ("5127891111 (c)", AUSTIN),
        ("512-789-1111 ext. 12", AUSTIN),
        ("512-789-1111 #7", AUSTIN),
        ("512 789 1111 extension 3", AUSTIN),
        ("Cell: 512-789-1111", AUSTIN),
        ("512-789-1111 cell", AUSTIN),
        ("512-789-1111 (mobile)", AUSTIN),
        ("[home] 512 789 1111", AUSTIN),
        ("(512) 789-1111 x44 (work)", AUSTIN),
        ("  5127891111\t", AUSTIN),
        ("+15127891111", AUSTIN),
        (5127891111, AUSTIN),
        (15127891111, AUSTIN),
        (5127891111.0, AUSTIN),
        ("212-555-0102", "+12125550102"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalizes_real_world_us_input(raw: object, expected: str) -> None:
    """Formats people type become E.164, extensions and type hints dropped."""
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0958", "GB", "+442079460958"),
        ("07400 123456", "GB", "+447400123456"),
        ("030 123456", "DE", "+4930123456"),
        ("(416) 555-0199", "CA", "+14165550199"),
        ("+1 512 789 1111", "GB", AUSTIN),
    ],
)
def test_reads_national_numbers_of_the_given_region(raw: str, region: str, expected: str) -> None:
    """A number without a country code is read in the configured region."""
    assert normalize_phone(raw, region=region) == expected


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("abc", "contains letters"),
        ("512-PHONE-1", "contains letters"),
        ("call 512 789 1111 after 5", "contains letters"),
        ("512789", "too few digits"),
        ("5127891111999", "too many digits"),
        ("+1 123 456 7890", "not an assigned number range"),
        ("020 7946 0958", "too many digits"),
        ("+999 123", "unknown country code"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("5" * 150, "too long"),
        (-5127891111, "negative"),
        (10**40, "too large"),
        (5127891111.5, "is a float, expected"),
        (True, "is a bool, expected"),
        (["5127891111"], "is a list, expected"),
        (None, "is a NoneType, expected"),
    ],
)
def test_refuses_what_is_not_a_phone(raw: object, why: str) -> None:
    """Letters, wrong lengths, unknown ranges and non-text are invalid, with the reason."""
    with pytest.raises(InvalidPhoneError, match=why):
        normalize_phone(raw)


def test_invalid_phone_error_is_a_library_value_error() -> None:
    """InvalidPhoneError is caught as PureCallerIDError and as ValueError."""
    assert issubclass(InvalidPhoneError, PureCallerIDError)
    assert issubclass(InvalidPhoneError, ValueError)


def test_error_message_does_not_contain_the_number() -> None:
    """The reason never repeats the value: callers show it masked."""
    with pytest.raises(InvalidPhoneError) as caught:
        normalize_phone("512-789-11")
    assert "512" not in str(caught.value)
    assert "78911" not in str(caught.value)


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        (PhoneFormat.NATIONAL, "5127891111"),
        (PhoneFormat.E164, AUSTIN),
        (PhoneFormat.DIGITS, "15127891111"),
        ("national", "5127891111"),
        ("digits", "15127891111"),
    ],
)
def test_renders_in_each_vendor_format(style: PhoneFormat | str, expected: str) -> None:
    """10 national digits, E.164 or 11 digits, as the vendor wants."""
    assert format_phone("(512) 789-1111 x44", style) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [("US", "5127891111"), ("CA", "5127891111"), ("GB", AUSTIN)],
)
def test_default_format_is_national_in_the_nanp_and_e164_elsewhere(
    region: str, expected: str
) -> None:
    """Without a style, NANP regions get 10 digits and others get E.164."""
    assert format_phone("+1 512 789 1111", region=region) == expected


def test_national_format_refuses_a_foreign_number() -> None:
    """Dropping a +44 country code would send another number, so it is an error."""
    with pytest.raises(InvalidPhoneError, match=r"\+44 number"):
        format_phone("+44 20 7946 0958", PhoneFormat.NATIONAL)


def test_lowercase_region_is_accepted() -> None:
    """Region codes are case-insensitive."""
    assert normalize_phone("020 7946 0958", region="gb") == "+442079460958"


@pytest.mark.parametrize("region", ["XX", "USA", "", "1"])
def test_unknown_region_is_a_configuration_error(region: str) -> None:
    """A region libphonenumber does not know is refused with what to pass instead."""
    with pytest.raises(ConfigurationError, match="ISO 3166"):
        normalize_phone("5127891111", region=region)


def test_unknown_format_is_a_configuration_error() -> None:
    """An unknown style names the valid ones."""
    with pytest.raises(ConfigurationError, match="'e164'"):
        format_phone("5127891111", "international")


# Real NANP area codes; exchange 555 with lines 0100-0199 is reserved for fiction and valid.
_AREA_CODES = ("212", "312", "415", "512", "617", "713", "808", "907", "416", "604")


@st.composite
def typed_test_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A 555-01NN number as a person might type it, and its 10 digits."""
    area = draw(st.sampled_from(_AREA_CODES))
    line = f"01{draw(st.integers(0, 99)):02d}"
    sep = draw(st.sampled_from(["", " ", "-", ".", " - "]))
    prefix = draw(st.sampled_from(["", "1", "1-", "+1 ", "+1", "1 "]))
    area_part = draw(st.sampled_from([area, f"({area})", f"({area}) "]))
    suffix = draw(st.sampled_from(["", " x12", " ext. 4", " (c)", " cell", " #301", " [home]"]))
    lead_in = draw(st.sampled_from(["", " ", "Cell: ", "(h) "]))
    return f"{lead_in}{prefix}{area_part}{sep}555{sep}{line}{suffix}", f"{area}555{line}"


@given(typed_test_numbers())
def test_typed_test_numbers_normalize_to_their_digits(case: tuple[str, str]) -> None:
    """However a 555-01NN number is typed, it becomes +1 and its 10 digits."""
    typed, digits = case
    assert normalize_phone(typed) == f"+1{digits}"


@given(typed_test_numbers(), st.sampled_from(list(PhoneFormat)))
def test_rendering_is_idempotent(case: tuple[str, str], style: PhoneFormat) -> None:
    """Rendering a rendered number again gives the same text, in every format."""
    once = format_phone(case[0], style)
    assert format_phone(once, style) == once


@given(st.one_of(st.text(max_size=40), st.from_regex(r"\+?[0-9 ().\-]{0,20}", fullmatch=True)))
def test_normalization_is_idempotent_or_refuses(raw: str) -> None:
    """Any text either normalizes to a fixed point or raises InvalidPhoneError."""
    try:
        once = normalize_phone(raw)
    except InvalidPhoneError:
        return
    assert normalize_phone(once) == once
    assert once.startswith("+")
    assert once[1:].isdigit()
    assert len(once) <= 16


@st.composite
def nanp_shaped(draw: st.DrawFn) -> str:
    """Ten digits in NANP punctuation, real area codes or random ones."""
    area = draw(st.sampled_from(_AREA_CODES) | st.from_regex(r"[0-9]{3}", fullmatch=True))
    exchange = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    line = draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    prefix = draw(st.sampled_from(["", "1", "1 ", "+1", "+1-", "1."]))
    left, right = draw(st.sampled_from([("", ""), ("(", ")"), ("(", ") "), ("(", "")]))
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    return f"{prefix}{left}{area}{right}{sep}{exchange}{sep}{line}"


def _libphonenumber_e164(raw: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@given(nanp_shaped())
def test_agrees_with_libphonenumber_on_nanp_input(raw: str) -> None:
    """The NANP shortcut accepts and refuses exactly what libphonenumber's parser does."""
    try:
        ours: str | None = normalize_phone(raw)
    except InvalidPhoneError:
        ours = None
    assert ours == _libphonenumber_e164(raw)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("2125550101#", "it holds '#', which is not part of a phone number"),
        ("212_555_0101", "it holds '_', which is not part of a phone number"),
        ("x44", "holds only an extension or a type hint, no number"),
        ("(cell)", "holds only an extension or a type hint, no number"),
        ("+", r"\(no digits\)"),
        ("-- / --", r"\(no digits\)"),
    ],
)
def test_unreadable_input_is_described_accurately(raw: str, why: str) -> None:
    """The reason says "no digits" only when there are none; a stray symbol is named."""
    with pytest.raises(InvalidPhoneError, match=why) as caught:
        normalize_phone(raw)
    assert "2125550101" not in str(caught.value)
