"""Secrets and personal data: how they are kept out of logs, reprs and records.

Two rules hold everywhere in the library:

* an API token lives in a :class:`Secret`, whose ``repr`` and ``str`` never show it, and every
  text the library hands back (request records, raw vendor bodies, error messages) passes
  through :func:`redact` first, because a vendor may echo the request it received;
* a phone number in a log line goes through :func:`mask_phone` (last four digits only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, final
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "Secret", "mask_phone", "redact", "redact_text", "secret_forms"]

MASK: Final = "***"


@final
class Secret:
    """A string that does not show itself.

    ``repr``, ``str`` and ``format`` all print ``***``; pickling is refused so that a secret
    cannot travel into a cache or a queue by accident. Call :meth:`reveal` at the one place
    the value is needed (building the HTTP request).
    """

    __slots__ = ("_value",)

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
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, Mapping):
        return {_redact(k, secrets): _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, secrets) for v in value)
    return value


def secret_forms(secret: str) -> tuple[str, ...]:
    r"""*secret* as it may appear in text: plain, and escaped the ways JSON encoders escape it.

    A vendor echoing the token may write ``a/b`` as ``a\/b`` (PHP's default), escape
    non-ASCII characters, or percent-encode it (``a%2Fb``); each form is redacted.
    """
    if not secret:
        return ()
    escaped = json.dumps(secret)[1:-1]
    unicode_escaped = json.dumps(secret, ensure_ascii=True)[1:-1]
    # Percent-encoded too: a vendor may echo the request as a query string or a form.
    forms = {
        secret,
        escaped,
        escaped.replace("/", "\\/"),
        unicode_escaped,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return tuple(sorted(forms, key=len, reverse=True))


def _contains(value: Any, secrets: tuple[str, ...]) -> bool:
    if isinstance(value, str):
        return any(secret in value for secret in secrets)
    if isinstance(value, Mapping):
        return any(_contains(k, secrets) or _contains(v, secrets) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_contains(v, secrets) for v in value)
    return False


def redact_text(text: str, secrets: tuple[str, ...]) -> str:
    r"""Return a body's *text* with every secret masked, in whatever form the JSON holds it.

    Plain and escaped forms are replaced in the text. If the text is JSON whose decoded
    values still hold a secret (written with escapes no replacement can foresee, such as
    ``\u0074``), the decoded document is redacted and written out again instead: exactness
    of the raw text matters less than the secret.
    """
    live = tuple(s for s in secrets if s)
    if not live:
        return text
    for secret in live:
        for form in secret_forms(secret):
            if form in text:
                text = text.replace(form, MASK)
    if "\\" not in text:
        # Without a backslash JSON holds no escape: decoded strings are the raw substrings,
        # which were just redacted. (Saves decoding every answer twice.)
        return text
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if _contains(decoded, live):
        return json.dumps(redact(decoded, live))
    return text
