"""What came back from one HTTP attempt, and reading it within bounds.

The drivers (sync and async) hand the call generator a :class:`Received`: the status, the
headers and the body exactly as it came off the wire (compressed or not), read no further than
:attr:`ResponseLimits.max_wire_bytes`. The generator decodes it here, once, within the limits:
inflated no further than :attr:`ResponseLimits.max_body_bytes` (a 1 MB gzip bomb never becomes
a gigabyte), decoded to text the way the JSON parser would (UTF-8, or UTF-16/32 by their byte
order mark or pattern), so that redaction sees exactly the text the parser reads.
"""

from __future__ import annotations

import json
import zlib
from typing import Final

import attrs
import httpx
from attrs import frozen

__all__ = ["Received", "ResponseLimits", "body_text", "too_deep"]


def _positive(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"ResponseLimits.{attribute.name} must be a whole number >= 1")


@frozen(kw_only=True)
class ResponseLimits:
    """How much of a vendor's answer the client reads; past a limit the answer is refused.

    A 2xx answer over a limit is a :class:`purecallerid.ResponseValidationError`
    (``invalid_response``), decided by the failure policy and recorded like any other.

    Attributes:
        max_wire_bytes: Bytes of body read off the wire, compressed or not (1 MiB).
        max_body_bytes: Bytes of body once decompressed (2 MiB).
        max_header_bytes: Bytes of all the answer's header names and values (64 KiB).
            The HTTP layers refuse a single header line over 8 KiB (aiohttp) or 16 KiB
            (h11) before the library sees it, as a protocol error.
        max_json_depth: Levels of nesting of the JSON answer (64).
    """

    max_wire_bytes: int = attrs.field(default=1 << 20, validator=_positive)
    max_body_bytes: int = attrs.field(default=2 << 20, validator=_positive)
    max_header_bytes: int = attrs.field(default=64 << 10, validator=_positive)
    max_json_depth: int = attrs.field(default=64, validator=_positive)


@frozen(kw_only=True)
class Received:
    """One HTTP answer as received.

    Attributes:
        status_code: The HTTP status.
        headers: The answer's headers.
        body: The body as it came off the wire (still compressed), at most
            ``max_wire_bytes`` of it.
        cut: Whether more body was sent than was read.
    """

    status_code: int
    # As the vendor sent them: a credential it echoed is still there. Out of reprs.
    headers: httpx.Headers = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    cut: bool = False


_GZIP_OR_ZLIB: Final = 47  # zlib's wbits: detect a gzip or zlib header
_RAW_DEFLATE: Final = -15


def _inflate(body: bytes, wbits: int, limit: int) -> bytes | None:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        return None
    return None if len(out) > limit or inflater.unconsumed_tail else out


def _decoded(received: Received, limits: ResponseLimits) -> tuple[bytes, str | None]:
    """The body decompressed, or a problem (the body then empty)."""
    encoding = received.headers.get("content-encoding", "identity").strip().lower()
    if received.cut:
        return b"", f"the body is over {limits.max_wire_bytes} bytes"
    body: bytes | None
    if encoding in {"", "identity"}:
        body = received.body
    elif encoding in {"gzip", "x-gzip", "deflate"}:
        body = _inflate(received.body, _GZIP_OR_ZLIB, limits.max_body_bytes)
        if body is None and encoding == "deflate":  # some servers send deflate raw
            body = _inflate(received.body, _RAW_DEFLATE, limits.max_body_bytes)
        if body is None:
            return (
                b"",
                f"the {encoding} body is broken or inflates past {limits.max_body_bytes} bytes",
            )
    else:
        return b"", f"the body is encoded as {encoding!r}, which the client did not ask for"
    if len(body) > limits.max_body_bytes:
        return b"", f"the body is over {limits.max_body_bytes} bytes"
    return body, None


def body_text(received: Received, limits: ResponseLimits) -> tuple[str, str | None]:
    """The body as text (decoded as the JSON parser would), and what is wrong with it, if any.

    Headers over ``max_header_bytes``, a body over a byte limit, or an encoding the client did
    not ask for are problems; the text is then empty.
    """
    size = sum(len(name) + len(value) for name, value in received.headers.raw)
    if size > limits.max_header_bytes:
        return "", f"the headers are over {limits.max_header_bytes} bytes"
    body, problem = _decoded(received, limits)
    if problem is not None:
        return "", problem
    encoding = _encoding(received.headers, body)
    try:
        return body.decode(encoding), None
    except UnicodeDecodeError:
        # Kept readable for the record (and for redaction), but not an answer.
        problem = f"the answer is not JSON (not valid {encoding})"
        return body.decode(encoding, errors="replace"), problem


_WIDE: Final = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def _encoding(headers: httpx.Headers, body: bytes) -> str:
    """How to decode *body*: as JSON's rules detect it, unless that is plainly wrong.

    JSON's detection reads UTF-16 and UTF-32 from a byte order mark or from NULs around an
    ASCII first character. A body that starts otherwise (a non-ASCII character) is taken for
    UTF-8 and then holds NULs between its characters: the ``charset`` of ``Content-Type``
    is tried then, and the wide encodings, so that the text redaction reads is the text.
    """
    detected = json.detect_encoding(body)
    if detected != "utf-8" or b"\x00" not in body:
        return detected
    charset = headers.get("content-type", "").partition("charset=")[2].split(";")[0].strip()
    for candidate in (charset.strip("\"'").lower(), *_WIDE):
        if not candidate:
            continue
        try:
            text = body.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
        if "\x00" not in text:
            return candidate
    return detected


_OPENERS: Final = frozenset("[{")
_CLOSERS: Final = frozenset("]}")


def too_deep(text: str, limit: int) -> bool:  # noqa: C901 - one scanning loop reads best
    """Whether the JSON *text* nests more than *limit* levels (strings are skipped).

    Cheap for ordinary answers: the scan runs only when the text holds more openers than the
    limit at all.
    """
    if text.count("{") + text.count("[") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif char in _CLOSERS:
            depth -= 1
    return False
