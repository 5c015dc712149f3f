"""Phone numbers: read them the way people type them, keep them as E.164, render per vendor.

Parsing and validation are Google's libphonenumber (the ``phonenumbers`` package): numbering
plans change, and keeping them current is that project's job, not ours. This module only adds
what lead forms need on top of it:

* type hints are stripped: ``(c)``, ``[home]``, ``Cell:``, a trailing ``mobile``;
* extensions are dropped (``x44``, ``ext. 12``, ``#7``): a screening vendor checks the line,
  not the desk;
* any other letter makes the value invalid. libphonenumber would read letters as a keypad
  (``1-800-FLOWERS``), which turns ``512-789-1111 cell`` into a different, longer number;
  vanity numbers do not occur in lead forms, typos do.

The result of :func:`normalize_phone` is E.164 (``+15127891111``), the one internal form;
:func:`format_phone` renders it the way a vendor wants it (:class:`PhoneFormat`).
"""

from __future__ import annotations

import enum
import functools
import math
import re
from typing import Final

import phonenumbers

from ._errors import ConfigurationError, InvalidPhoneError

__all__ = ["InvalidPhoneError", "PhoneFormat", "format_phone", "normalize_phone"]


class PhoneFormat(enum.StrEnum):
    """How a normalized phone number is written for a vendor.

    Examples are for ``+1 512-789-1111``.
    """

    NATIONAL = "national"
    """The national significant number, digits only: ``5127891111`` (10 digits in the NANP).
    Only for numbers of the mapping's own country, since the country code is dropped."""

    E164 = "e164"
    """E.164: ``+15127891111``."""

    DIGITS = "digits"
    """Country code and national number, digits only: ``15127891111`` (11 digits in the NANP)."""


# Longer inputs are not phone numbers; capping them also bounds the regex work per value.
_MAX_INPUT = 100
# An int this large cannot be a phone number (E.164 allows 15 digits) and str() on a huge int
# is refused by Python past 4,300 digits.
_MAX_NUMERIC = 10**17

_HINT_WORDS = (
    "c|h|w|m|o|cell|cellular|mobile|mob|home|work|office|business|landline|main|day|daytime"
    "|evening|eve|night|primary|alt|alternate|other|personal|wireless|phone|ph|tel|telephone"
)
# A bracketed group of words, anywhere: "(c)", "[home]", "(cell phone)". Digits in brackets
# are an area code, not a hint, so a group must be letters only.
_BRACKETED_HINT: Final = re.compile(r"[(\[]\s*[^\W\d_]+(?:[ .\-/]+[^\W\d_]+)*\.?\s*[)\]]")
_LEADING_HINT: Final = re.compile(rf"^\s*(?:{_HINT_WORDS})\b\.?\s*[:\-]?\s*", re.IGNORECASE)
_TRAILING_HINT: Final = re.compile(rf"[\s,;:\-/]*\b(?:{_HINT_WORDS})\.?\s*$", re.IGNORECASE)
_EXTENSION: Final = re.compile(
    r"\s*[,;]?\s*(?:extension|ext|x|\#)\s*[.:]?\s*[0-9]{1,10}\s*$", re.IGNORECASE
)

_LETTER: Final = re.compile(r"[^\W\d_]")
# Symbols named in an error message: punctuation people type, never part of a phone number.
_SHOWN_SYMBOLS: Final = frozenset("#*!?;:,@$%&=_|~^`'\"<>{}\\")
# Ten NANP digits, optionally after 1 or +1, in the usual punctuation. Most US leads look like
# this, and building the number directly skips libphonenumber's general parser, the largest
# cost of mapping a lead; validation stays libphonenumber's, and anything else (or anything
# invalid, so that the error message comes from one place) takes the general path.
_NANP: Final = re.compile(
    r"(?:\+?1[ .\-]?)?\(?([2-9][0-9]{2})\)?[ .\-]?([0-9]{3})[ .\-]?([0-9]{4})"
)
_NANP_REGIONS: Final = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])

_POSSIBILITY: Final = {
    phonenumbers.ValidationResult.TOO_SHORT: "has too few digits",
    phonenumbers.ValidationResult.TOO_LONG: "has too many digits",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "lacks an area code",
}


def check_region(region: object) -> str:
    """Return *region* upper-cased if libphonenumber knows it, else raise.

    Raises:
        ConfigurationError: *region* is not a two-letter region code libphonenumber knows.
    """
    if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigurationError(
            f"unknown phone region {region!r}: pass an ISO 3166 two-letter code such as 'US'"
        )
    return region.upper()


def default_format(region: str) -> PhoneFormat:
    """The rendering used when none is configured: national digits in the NANP, else E.164.

    Ten bare digits is what US compliance APIs expect; elsewhere a national number without its
    trunk prefix is ambiguous, so E.164 is the safe default.
    """
    return (
        PhoneFormat.NATIONAL
        if phonenumbers.country_code_for_region(region) == 1
        else PhoneFormat.E164
    )


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    # bool is an int; True is not a phone number.
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < _MAX_NUMERIC:
            raise InvalidPhoneError("is a number too large (or negative) to be a phone number")
        return str(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        if not 0 <= value < _MAX_NUMERIC:
            raise InvalidPhoneError("is a number too large (or negative) to be a phone number")
        return str(int(value))
    raise InvalidPhoneError(f"is a {type(value).__name__}, expected text or a whole number")


def _strip_decorations(text: str) -> str:
    # Most leads carry digits and punctuation only: skip the hint patterns for them.
    if "#" not in text and _LETTER.search(text) is None:
        return text
    text = _BRACKETED_HINT.sub(" ", text)
    text = _LEADING_HINT.sub("", text, count=1)
    text = _TRAILING_HINT.sub("", text, count=1)
    return _EXTENSION.sub("", text, count=1).strip()


def parse_phone(value: object, region: str) -> phonenumbers.PhoneNumber:
    """Parse and validate *value*; *region* must already be checked (:func:`check_region`).

    The number returned may be shared with other callers: read it, never change it.

    Raises:
        InvalidPhoneError: *value* is not a valid phone number.
    """
    return _parse_text(_as_text(value).strip(), region)


# A lead's phone is parsed for its mapping and again for its record: libphonenumber's
# validation is most of a screening's mapping cost, and its answer depends on the text alone.
@functools.lru_cache(maxsize=1024)
def _parse_text(text: str, region: str) -> phonenumbers.PhoneNumber:
    if not text:
        raise InvalidPhoneError("is empty")
    if len(text) > _MAX_INPUT:
        raise InvalidPhoneError("is too long to be a phone number")
    text = _strip_decorations(text)
    if not text:
        # "x44" or "(c)": the extension or hint was all there was.
        raise InvalidPhoneError("holds only an extension or a type hint, no number")
    if _LETTER.search(text) is not None:
        raise InvalidPhoneError("contains letters")
    nanp = _NANP.fullmatch(text) if region in _NANP_REGIONS else None
    if nanp is not None:
        number = phonenumbers.PhoneNumber(
            country_code=1, national_number=int("".join(nanp.groups()))
        )
        if phonenumbers.is_valid_number(number):
            return number
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneError(
            f"cannot be read as a phone number ({_parse_reason(exc, text)})"
        ) from None
    if not phonenumbers.is_valid_number(number):
        possible = phonenumbers.is_possible_number_with_reason(number)
        why = _POSSIBILITY.get(possible, "is not an assigned number range")
        raise InvalidPhoneError(f"{why} for a {region} phone number")
    return number


def _parse_reason(exc: phonenumbers.NumberParseException, text: str) -> str:
    kind = exc.error_type
    if kind == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
        return "unknown country code"
    if kind in {
        phonenumbers.NumberParseException.TOO_SHORT_NSN,
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD,
    }:
        return "too few digits"
    if kind == phonenumbers.NumberParseException.TOO_LONG:
        return "too many digits"
    # libphonenumber says "not a number" both for text without digits and for digits mixed
    # with characters it does not allow ("2125550101#": a "#" without an extension after it).
    if not any(ch.isdigit() for ch in text):
        return "no digits"
    odd = next((ch for ch in text if ch in _SHOWN_SYMBOLS), None)
    if odd is not None:
        # A lone symbol says what to fix and reveals nothing of the number.
        return f"it holds {odd!r}, which is not part of a phone number"
    return "it holds characters that are not part of a phone number"


def render_phone(number: phonenumbers.PhoneNumber, style: PhoneFormat, region: str) -> str:
    """Write a parsed, valid *number* in *style*.

    Raises:
        InvalidPhoneError: *style* is national and *number* belongs to another country than
            *region*: dropping its country code would turn it into a different number.
    """
    if style is PhoneFormat.E164:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.national_significant_number(number)
    if style is PhoneFormat.DIGITS:
        return f"{number.country_code}{national}"
    if number.country_code != phonenumbers.country_code_for_region(region):
        raise InvalidPhoneError(
            f"is a +{number.country_code} number, but numbers are sent as national digits"
            f" for {region}; configure the E.164 format to send foreign numbers"
        )
    return national


def normalize_phone(value: object, *, region: str = "US") -> str:
    """Return *value* as an E.164 phone number (``+15127891111``).

    Accepts what people type: ``(512) 789-1111``, ``512.789.1111 x44``, ``1-512-789-1111``,
    ``5127891111 (c)``, ``+1 512 789 1111``, and whole numbers from numeric columns. A
    number without a country code is read as a number of *region*. Normalizing the result
    again gives the same result.

    >>> normalize_phone("(212) 555-0102 x7")
    '+12125550102'

    Raises:
        InvalidPhoneError: *value* is not a valid phone number (the message says why).
        ConfigurationError: *region* is not a region code libphonenumber knows.
    """
    region = check_region(region)
    return render_phone(parse_phone(value, region), PhoneFormat.E164, region)


def format_phone(
    value: object, style: PhoneFormat | str | None = None, *, region: str = "US"
) -> str:
    """Normalize *value* (see :func:`normalize_phone`) and write it in *style*.

    *style* defaults to :attr:`PhoneFormat.NATIONAL` for NANP regions (``US``, ``CA`` ...)
    and to :attr:`PhoneFormat.E164` elsewhere.

    >>> format_phone("+1 (212) 555-0102", "digits")
    '12125550102'

    Raises:
        InvalidPhoneError: *value* is not a valid phone number, or is foreign to *region*
            while *style* is national.
        ConfigurationError: *region* or *style* is unknown.
    """
    region = check_region(region)
    return render_phone(parse_phone(value, region), coerce_format(style, region), region)


def coerce_format(style: PhoneFormat | str | None, region: str) -> PhoneFormat:
    """Return *style* as a :class:`PhoneFormat`, resolving ``None`` to the region's default.

    Raises:
        ConfigurationError: *style* is not one of the :class:`PhoneFormat` values.
    """
    if style is None:
        return default_format(region)
    try:
        # A word, in any case, like the rule words: "E164" is e164.
        if isinstance(style, str):
            style = style.strip().lower()
        return PhoneFormat(style)
    except ValueError:
        choices = ", ".join(repr(f.value) for f in PhoneFormat)
        raise ConfigurationError(f"unknown phone format {style!r}: use one of {choices}") from None
