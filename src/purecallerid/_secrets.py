"""Secrets and personal data: how they are kept out of logs, reprs and records.

Two rules hold everywhere in the library:

* an API token lives in a :class:`Secret`, whose ``repr`` and ``str`` never show it, and every
  text the library hands back (request records, raw vendor bodies, error messages) passes
  through :func:`redact` first, because a vendor may echo the request it received;
* a phone number in a log line goes through :func:`mask_phone` (last four digits only).
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Final, final
from urllib.parse import quote, quote_plus, unquote_plus

from ._observe.logs import LOGGERS

__all__ = [
    "LOGGERS_FILTERED",
    "MASK",
    "Secret",
    "SecretFilter",
    "attach_filter",
    "live_secrets",
    "mask_phone",
    "mask_phones",
    "redact",
    "redact_text",
    "redact_values",
    "register_secret",
    "secret_forms",
]

MASK: Final = "***"


@final
class Secret:
    """A string that does not show itself.

    ``repr``, ``str`` and ``format`` all print ``***``; pickling is refused so that a secret
    cannot travel into a cache or a queue by accident. Call :meth:`reveal` at the one place
    the value is needed (building the HTTP request).
    """

    __slots__ = ("__weakref__", "_value")

    def __init__(self, value: str) -> None:
        """Wrap *value*; it must be a non-empty string."""
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value. Use it only to put the value on the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def mask_phone(phone: object) -> str:
    """Mask a phone number for a log line, keeping only its last four digits.

    >>> mask_phone("+1 (212) 555-0102")
    '***0102'

    Anything with fewer than four digits is masked whole, so that a short or garbled input
    cannot leak more than it would if it were a real number.
    """
    digits = "".join(ch for ch in str(phone) if ch.isdigit())
    if len(digits) < 4:  # noqa: PLR2004 - four digits is the masking rule
        return MASK
    return MASK + digits[-4:]


_PHONE_LIKE: Final = re.compile(r"\+?(?:[0-9][ ().\-]{0,2}){6,}[0-9]")
_PHONE_DIGITS: Final = 7
# The record's own keys whose values are never phones (an id may run to seven digits). A
# vendor's answer can use any name for a phone, so nothing else is spared.
_NOT_PHONES: Final = frozenset(
    {"lead_id", "campaign_id", "version", "settings_hash", "library_version", "decision"}
)


def mask_phones(value: Any) -> Any:
    """JSON-shaped *value* with every phone-like number masked to its last four digits.

    Every text run or number of seven digits or more (spaces, dots, dashes, brackets and a
    leading ``+`` allowed between them) becomes ``***`` and its last four digits, in whatever
    format it was written. Values under keys that are never phones (ids, times, counts,
    hashes) are left as they are.
    """
    if isinstance(value, str):
        return _PHONE_LIKE.sub(lambda m: mask_phone(m[0]), value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and len(str(abs(value))) >= _PHONE_DIGITS:
        return mask_phone(value)
    if isinstance(value, Mapping):
        return {
            key: item
            if isinstance(key, str) and (key in _NOT_PHONES or key.endswith("_at"))
            else mask_phones(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_phones(item) for item in value]
    return value


def redact(value: Any, secrets: tuple[str, ...]) -> Any:
    """Return *value* with every occurrence of each secret replaced by ``***``.

    Walks JSON-shaped data (mappings, lists, tuples, strings); other values come back as
    they are. Keys are redacted too, since a misconfigured host could use a token as a key.
    """
    live = tuple(s for s in secrets if s)
    if not live:
        return value
    return _redact(value, live)


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    def plain(text: str) -> str:
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    return _map_texts(value, plain)


def _map_texts(
    value: Any, change: Callable[[str], str], number: Callable[[Any], Any] | None = None
) -> Any:
    """JSON-shaped *value* with *change* applied to every text, keys included.

    *number*, when given, is applied to every int and float (not to booleans).
    """
    # Exact types first: parsed JSON holds only these, and an ABC check costs ten times more.
    kind = type(value)
    if kind is str or (kind not in _LEAVES and isinstance(value, str)):
        return change(value)
    if kind in _LEAVES:
        return value if number is None or kind is bool or value is None else number(value)
    if kind is dict or isinstance(value, Mapping):
        return {
            _map_texts(k, change, number): _map_texts(v, change, number) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_map_texts(v, change, number) for v in value)
    return value


_LEAVES: Final = frozenset({int, float, bool, type(None)})


@functools.lru_cache(maxsize=256)
def secret_forms(secret: str) -> tuple[str, ...]:
    r"""Every way *secret* may appear in text a vendor or a library writes, longest first.

    Plain; JSON-escaped (``a\/b`` as PHP writes it, non-ASCII escaped, or every character as
    ``\uXXXX`` in lower or upper case hex); percent-encoded in upper and lower case, and form
    encoded (``+`` for a space); base64 and base64url, with and without padding, and the part
    of the token that survives at each of the three alignments inside a longer base64 text
    (``user:token`` in a Basic header). As .NET's encoder writes it; the JSON-escaped forms
    escaped once more, by JSON or .NET (a vendor quoting the body it received inside a JSON
    string); the escaped and percent-encoded forms in base64 (a gateway echoing a JSON, form
    or query body encoded). Generated from the secret, so that nothing is listed by hand.
    """
    if not secret:
        return ()
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    escapes = {
        escaped,
        escaped.replace("/", "\\/"),
        json.dumps(secret, ensure_ascii=True)[1:-1],
        *(_dotnet(secret, case) for case in "Xx"),
    }
    # Escaped once more, by JSON or by .NET (a service quoting the body it received).
    twice = {json.dumps(form, ensure_ascii=False)[1:-1] for form in escapes} | {
        _dotnet(form, case) for case in "Xx" for form in escapes
    }
    every_char = "".join(f"\\u{ord(ch):04x}" for ch in secret)
    percent = quote(secret, safe="")
    plus = quote_plus(secret, safe="")
    encoded = {
        percent,
        _PERCENT.sub(lambda m: m[0].lower(), percent),
        plus,
        _PERCENT.sub(lambda m: m[0].lower(), plus),
    }
    forms = {
        secret,
        *escapes,
        # A vendor quoting the request body it received inside a JSON string escapes it twice.
        *twice,
        every_char,
        "".join(f"\\u{ord(ch):04X}" for ch in secret),
        *encoded,
        *_base64_forms(secret.encode()),
        # The body, base64-encoded as a gateway echoes it: the token as JSON (or a form, or a
        # query string) wrote it.
        *(
            b64
            for form in (escapes | twice | encoded) - {secret}
            for b64 in _base64_forms(form.encode())
        ),
        *_python_escaped(secret),
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
        "".join(f"&#{ord(ch)};" for ch in secret),
        "".join(f"&#x{ord(ch):x};" for ch in secret),
    }
    return tuple(sorted((f for f in forms if len(f) >= _MIN_FORM), key=len, reverse=True))


_PERCENT: Final = re.compile(r"%[0-9A-F]{2}")


def _dotnet(text: str, case: str) -> str:
    r"""*text* as .NET's default encoder writes it in a JSON string.

    Quotes, HTML characters and '+' as ``\u00XX`` (hex digits in *case*, ``X`` or ``x``), a
    backslash as ``\\``.
    """
    return "".join(
        f"\\u{ord(ch):04{case}}" if ch in "\"'<>&+`" else "\\\\" if ch == "\\" else ch
        for ch in text
    )


# A shorter fragment (of a base64 alignment) could match ordinary text by chance.
_MIN_FORM: Final = 6


def _base64_forms(raw: bytes) -> set[str]:
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode()
        forms.update({whole, whole.rstrip("=")})
        forms.add(whole[: len(raw) // 3 * 4])  # the token followed by more text
        for offset in (1, 2):
            # Inside a longer text the token starts `offset` bytes into a 3-byte group: the
            # characters that depend on the token alone start at the next group.
            shifted = encode(b"\0" * offset + raw).decode()
            usable = (len(raw) - (3 - offset)) // 3 * 4
            forms.add(shifted[4 : 4 + usable])
    return forms


# JSON's escapes, and ``\'`` as PHP and JavaScript write it: each decoded the one way it reads.
_ESCAPE: Final = re.compile(r"\\(?:u([0-9a-fA-F]{4})|([\"\\/'bfnrt]))")
# ``\uXXXX`` and ``\/`` alone: a text that is no JSON may hold a raw backslash before one.
_U_ESCAPE: Final = re.compile(r"\\u([0-9a-fA-F]{4})|\\/")
_ESCAPED: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "'": "'",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


def _unescaped(text: str) -> str:
    r"""*text* with one level of JSON string escapes decoded (``\uXXXX``, ``\"``, ``\\``, ...).

    Every escape is decoded, whichever a writer chose: .NET's encoder writes ``'`` and ``"`` as
    ``\u0027`` and ``\u0022`` and a backslash as ``\\``. Surrogate pairs are joined.
    """
    plain = _ESCAPE.sub(lambda m: _ESCAPED[m[2]] if m[1] is None else chr(int(m[1], 16)), text)
    return plain.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _u_unescaped(text: str) -> str:
    r"""*text* with only ``\uXXXX`` and ``\/`` decoded: a raw backslash before one stays."""
    plain = _U_ESCAPE.sub(lambda m: "/" if m[1] is None else chr(int(m[1], 16)), text)
    return plain.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def redact_values(value: Any, secrets: tuple[str, ...]) -> Any:
    """JSON-shaped *value* with every secret masked, in any form, in every text and key.

    The structure is left as it is: only texts change, and a number that writes a secret (a
    credential of digits echoed as a JSON number) becomes the text ``***``. This is how a
    parsed answer is redacted (a redaction of its text could change what the text parses to).
    """
    live = tuple(s for s in secrets if s)
    if not live:
        return value
    # Settings take a number as its digits: such a credential may come back as a number.
    number = functools.partial(_masked_number, secrets=live) if _numeric(live) else None
    return _map_texts(value, functools.partial(_redact_text, secrets=live), number)


def _masked_number(value: float, *, secrets: tuple[str, ...]) -> float | str:
    if _holds_a_form(str(value), secrets):  # written whole (`10000000.0`, whose zeros count)
        return MASK
    # Read as a number, a credential loses its sign and leading zeros (`00123456` comes back
    # as 123456), and a long one its last digits (a float): compared by significant digits.
    digits = _significant(value)
    if len(digits) >= _MIN_FORM and any(
        digits in secret or secret in digits for secret in _numeric(secrets)
    ):
        return MASK
    return value


def _significant(value: float | str) -> str:
    """The significant digits of a number or of its text.

    No sign, point, exponent or leading zeros (nor a float's trailing zeros).
    """
    text = value if isinstance(value, str) else repr(value)
    mantissa = text.lower().partition("e")[0]
    digits = mantissa.lstrip("+-").replace(".", "").lstrip("0")
    return digits.rstrip("0") if isinstance(value, float) else digits


@functools.lru_cache(maxsize=64)
def _numeric(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """The significant digits of each of *secrets* a number could write, six or more of them.

    A secret a number could write is digits, with a sign or a point; empty when none is.
    """
    found = (_significant(s) for s in secrets if _NUMBER_TEXT.fullmatch(s))
    return tuple(digits for digits in found if len(digits) >= _MIN_FORM)


_NUMBER_TEXT: Final = re.compile(r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?")


def _python_escaped(secret: str) -> set[str]:
    r"""*secret* as Python's ``repr`` of it writes it, once and twice over (``\'``, ``\\``).

    The HTTP layers put ``repr`` of bytes in their log lines and exception messages, and some
    quote those once more.
    """
    once = {
        repr(secret)[1:-1],
        repr(secret.encode("utf-8", "backslashreplace"))[2:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),
        secret.replace("\\", "\\\\").replace('"', '\\"'),
    }
    twice = {form.replace("\\", "\\\\").replace("'", "\\'") for form in once}
    # repr itself, again: it quotes with '"' (leaving "'" alone) when the text holds a "'".
    twice |= {repr(form)[1:-1] for form in once}
    return once | twice


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    r"""Return *text* (a body, a header, a message) with every secret masked, in any form.

    Every form of :func:`secret_forms` is replaced where it stands. A secret still hidden
    behind escapes no list can foresee (a JSON document escaping some characters and not
    others, percent-encoding mixed with plain characters) is found by decoding the text, and
    then the decoded text is redacted and returned instead: exactness of a raw body matters
    less than the secret. A JSON body keeps its structure (it is decoded, redacted and written
    out again).
    """
    live = tuple(s for s in secrets if s)
    if not live or not text:
        return text
    return _redact_text(text, secrets=live)


def _redact_text(text: str, *, secrets: tuple[str, ...]) -> str:
    """:func:`redact_text` for *secrets* known to be non-empty."""
    if not text:
        return text
    # One scan finds whether any form is there at all (most texts hold none); then every
    # form of every secret is replaced, longest first: a secret that starts another cannot
    # leave the other's tail behind.
    if _holds_a_form(text, secrets):
        for form in _all_forms(secrets):
            if form in text:
                text = text.replace(form, MASK)
    if "\\" in text:
        text = _redact_escaped(text, secrets)
    # Decodings no list of forms foresees (percent-encoding over a base64 form, entities a
    # writer chose for some characters only): looked for in the decoded text, forms and all.
    for decode, marks in _DECODINGS:
        if marks[0] in text or (len(marks) > 1 and marks[1] in text):
            decoded = decode(text)
            if decoded != text and _holds_a_form(decoded, secrets):
                text = _redact_text(decoded, secrets=secrets)
    return text


_DECODINGS: Final[tuple[tuple[Callable[[str], str], str], ...]] = (
    (unquote_plus, "%+"),
    (html.unescape, "&"),
)


def _holds_a_form(text: str, secrets: tuple[str, ...]) -> bool:
    finder = _finder(secrets) if len(text) <= _SCAN_LIMIT else None
    if finder is not None:
        return finder.search(text) is not None
    # A long text, or forms too long to compile: one substring search per form (each a
    # fast scan of its own) beats one pattern trying every form at every position.
    return any(form in text for form in _all_forms(secrets))


# One pattern of every form pays on short texts (most: headers, URLs, answer values) and costs
# on long ones; and compiling it costs in proportion to the forms' length (a PEM key). A
# token of 34 characters with '+', '/' and '=' has 60 forms of 3,480 characters in all: one
# pattern (compiled once, in about 4 ms) keeps its answers at the cost of a plain token's.
_SCAN_LIMIT: Final = 4096
_PATTERN_LIMIT: Final = 8192


@functools.lru_cache(maxsize=64)
def _all_forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    if len(secrets) == 1:
        return secret_forms(secrets[0])
    forms = {form for secret in secrets for form in secret_forms(secret)}
    return tuple(sorted(forms, key=len, reverse=True))


@functools.lru_cache(maxsize=64)
def _finder(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern matching any form of any of *secrets*, or ``None`` when they are long."""
    forms = _all_forms(secrets)
    if sum(len(form) for form in forms) > _PATTERN_LIMIT:
        return None
    # `(?!)` never matches: no form (secrets too short to mask) is nothing to find.
    return re.compile("|".join(re.escape(form) for form in forms) if forms else "(?!)")


def _redact_escaped(text: str, secrets: tuple[str, ...]) -> str:
    # Two readings of the backslashes, since a text need not be JSON: every escape decoded,
    # or only `\uXXXX`, which differs where a raw backslash (the token's own) stands before one.
    plain = _unescaped(text)
    if not _holds_a_form(plain, secrets):
        if "\\\\u" not in text:
            return text
        plain = _u_unescaped(text)
        if not _holds_a_form(plain, secrets):
            return text
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return redact_text(plain, secrets)
    return json.dumps(redact_values(decoded, secrets))


class SecretFilter(logging.Filter):
    """A logging filter that masks every live :class:`Secret`, in every form, in log records.

    The library attaches it to its own loggers (``purecallerid`` and each of its children) and
    to the loggers of the HTTP layers it drives
    (:data:`LOGGERS_FILTERED`: ``httpx``, ``httpcore.*``, ``aiohttp.*``), whose DEBUG lines
    print status lines and headers a vendor may have echoed a token into. A host may attach
    it to its own handlers too. Every :class:`Secret` a client is built with is registered
    while it lives. In the HTTP layers' records it also masks phone-like numbers to their last
    four digits: a vendor that takes the phone in its URL has it in httpx's request line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets (and phones, from HTTP layers) in the record's message."""
        secrets = live_secrets()
        # The library's own lines are masked at source.
        foreign = record.name != "purecallerid" and not record.name.startswith("purecallerid.")
        if not secrets and not foreign:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the logging module's to report
            return True
        masked = redact_text(message, secrets) if secrets else message
        if foreign:
            # Percent-encoded '+' (%2B) first, so that "%2B1212..." is read as one number.
            masked = _PHONE_LIKE.sub(
                lambda m: mask_phone(m[0]), masked.replace("%2B", "+").replace("%2b", "+")
            )
        if masked != message:
            record.msg, record.args = masked, None
        return True


# By identity, not by value: a WeakSet would hold only the first of two equal secrets, and
# forget the value when that one died while the other still lives.
_LIVE: Final[dict[int, weakref.ref[Secret]]] = {}
LOGGERS_FILTERED: Final = (
    "purecallerid",
    *LOGGERS,
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "aiohttp",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.access",
)
"""The loggers :class:`SecretFilter` is attached to. A logger's filters do not apply to its
children's records, so each logger that writes is named."""
_FILTER: Final = SecretFilter()


def register_secret(secret: Secret) -> None:
    """Mask *secret* in the log records of the library and its HTTP layers while it lives."""
    key = id(secret)
    if key in _LIVE:
        return  # registered, and the filters attached then (this runs once per lead)

    def forget(_: weakref.ref[Secret]) -> None:
        _LIVE.pop(key, None)

    _LIVE[key] = weakref.ref(secret, forget)
    attach_filter()


def attach_filter() -> None:
    """Attach :class:`SecretFilter` to the loggers of :data:`LOGGERS_FILTERED` (once).

    Called by every vendor call's owner when built, secrets or not: the filter also masks the
    phones the HTTP layers log (a URL holding one).
    """
    for name in LOGGERS_FILTERED:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def live_secrets() -> tuple[str, ...]:
    """The values of every registered secret still alive."""
    alive = (ref() for ref in list(_LIVE.values()))
    return tuple({secret.reveal() for secret in alive if secret})
