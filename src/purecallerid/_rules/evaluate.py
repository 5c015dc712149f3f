"""Compiling validated conditions into small closures, and the value semantics they apply.

Every condition becomes a function ``(answer, lead, seen) -> True | False | None`` where
``None`` is *unknown*: the field was absent or null, or its value cannot be compared the way
the operator asks (``"high" < 40``). ``and``/``or``/``not`` follow three-valued (Kleene)
logic. Each leaf records the value it read in ``seen``, which becomes the rule's trace.

Nothing here can raise on JSON-shaped input: values are read with ``isinstance`` checks and
converted with bounded, total functions, and patterns run on the linear-time matcher.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final, TypeAlias

from .check import TemplatePart, parse_template
from .fields import CampaignFields, FieldRegistry
from .model import AllOf, Comparison, Condition, Not, Operator
from .normalize import caseless_key, nfc
from .pattern import CompiledPattern, compile_pattern

__all__ = [
    "CompiledCondition",
    "as_bool",
    "as_number",
    "as_text",
    "compared_text",
    "compile_condition",
    "compile_template",
    "evidence",
    "is_blank",
    "reader_for",
]

Truth: TypeAlias = bool | None
CompiledCondition: TypeAlias = Callable[
    [Mapping[str, Any] | None, Mapping[str, Any] | None, dict[str, Any]], Truth
]
_Reader: TypeAlias = Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], Any]
Readers: TypeAlias = Callable[[str], _Reader]
"""Makes the function that reads a field, by the field's name."""
_Test: TypeAlias = Callable[[Any], Truth]

_NUMERIC_TEXT: Final = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?(?:[eE][+-]?[0-9]{1,4})?")
# str() of an int with more than 4,300 digits raises; far below that, an int is no text anyone
# compares with a rule value.
_MAX_TEXT_INT: Final = 10**30
_MAX_INDEX_DIGITS: Final = 9
_MAX_INSERTED: Final = 200
# Values of these types are immutable: the trace keeps them as they are, without a copy.
_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None), Decimal})
# A value read is copied into the trace this deep; deeper parts (never met in JSON answers
# and leads) are kept as they are, so that a cyclic or hostile value cannot exhaust the stack.
_MAX_EVIDENCE_DEPTH: Final = 32


def as_text(value: Any) -> str | None:  # noqa: PLR0911 - one return per type
    """A value as text for string comparisons (``None`` when it cannot be read as text).

    Strings are taken as they are, numbers and booleans as JSON writes them; lists, objects
    and null are not text.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if -_MAX_TEXT_INT < value < _MAX_TEXT_INT else None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < _MAX_TEXT_INT else repr(value)
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    return None


def as_number(value: Any) -> int | float | Decimal | None:  # noqa: PLR0911 - one per type
    """A value as a number: finite numbers (not booleans) and numeric strings (``" 42 "``).

    Infinities and NaN are no number a rule can compare (``inf > 40`` would fire a rule on a
    vendor's overflow), and neither is a numeric string past the float range (``"1e400"``).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip()
        if _NUMERIC_TEXT.fullmatch(text) is None:
            return None
        if not any(c in text for c in ".eE"):
            return int(text)
        number = float(text)
        return number if math.isfinite(number) else None
    return None


def as_bool(value: Any) -> bool | None:
    """A value as a boolean: booleans, and the strings ``"true"`` / ``"false"`` (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in {"true", "false"}:
            return text == "true"
    return None


def compared_text(value: Any) -> str | None:
    """A value as ``equals``, ``in`` and ``starts with`` compare it: its text, trimmed.

    Vendors pad values (``"Accepted "``, ``" DNC"``); surrounding whitespace never carries
    meaning in a status or a reason, so it is removed here, the one place these comparisons
    read text. ``contains`` and patterns see the text as it is. Every text comparison then
    takes the NFC form (``normalize.py``), case folded unless case counts.
    """
    if isinstance(value, str):  # the usual case, first: this runs for every comparison
        return value.strip()
    text = as_text(value)
    return None if text is None else text.strip()


def evidence(value: Any) -> Any:
    """A copy of a value read, for the trace: later changes to the caller's data leave it alone.

    Scalars (nearly every value read) are immutable and kept as they are; lists, tuples,
    objects and sets are copied (to :data:`_MAX_EVIDENCE_DEPTH` levels, sharing and cycles
    preserved).
    """
    if type(value) in _IMMUTABLE:
        return value
    return _copy(value, 0, {})


def _copy(value: Any, depth: int, memo: dict[int, Any]) -> Any:
    if type(value) in _IMMUTABLE or depth >= _MAX_EVIDENCE_DEPTH:
        return value
    known = memo.get(id(value))
    if known is not None:
        return known
    copy: Any = value  # other objects are kept: there is no general way to copy them
    if isinstance(value, Mapping):
        copy = memo[id(value)] = {}
        for key, item in value.items():
            copy[key] = _copy(item, depth + 1, memo)
    elif isinstance(value, list):
        copy = memo[id(value)] = []
        copy.extend(_copy(item, depth + 1, memo) for item in value)
    elif isinstance(value, tuple):
        copy = tuple(_copy(item, depth + 1, memo) for item in value)
    elif isinstance(value, set):
        copy = set(value)
    return copy


def is_blank(value: Any) -> bool:
    """Whether a value is blank: absent or null, a blank string, an empty list or object."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | Mapping):
        return len(value) == 0
    return False


def _walk(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif (
            isinstance(value, list | tuple)
            and key.isascii()
            and key.isdigit()
            and len(key) <= _MAX_INDEX_DIGITS
        ):
            index = int(key)
            value = value[index] if index < len(value) else None
        else:
            return None
    return value


def _reader(path: str) -> _Reader:
    head, _, rest = path.partition(".")
    keys = tuple(rest.split(".")) if rest else ()
    if head == "lead":
        return lambda _answer, lead: _walk(lead, keys)
    if head == "extra":
        return lambda answer, _lead: None if answer is None else _walk(answer.get("extra"), keys)
    return lambda answer, _lead: None if answer is None else answer.get(path)


def _qualified(fields: CampaignFields) -> Readers:
    """Readers of qualified names: the answer is the answers of the integrations, by id."""

    def make(path: str) -> _Reader:
        if path.partition(".")[0] == "lead":
            return _reader(path)
        found = fields.split(path)
        if found is None:  # refused by the checker; read as absent all the same
            return lambda _answers, _lead: None
        ident, name = found
        inner = _reader(name)

        def read(answers: Mapping[str, Any] | None, lead: Mapping[str, Any] | None) -> Any:
            answer = None if answers is None else answers.get(ident)
            # A record's answer is a mapping or nothing; anything else is no answer to read.
            return inner(answer if isinstance(answer, Mapping) else None, lead)

        return read

    return make


def reader_for(fields: FieldRegistry) -> Readers:
    """How rules checked against *fields* read a field: by qualified name for campaign fields."""
    return _qualified(fields) if isinstance(fields, CampaignFields) else _reader


def _fold(case_sensitive: bool) -> Callable[[str], str]:
    # Both sides of a text comparison go through the same key: NFC, and case folded unless
    # case counts, so that "é" composed and decomposed are one value.
    return nfc if case_sensitive else caseless_key


def _equals_test(expected: Any, *, case_sensitive: bool) -> _Test:
    if isinstance(expected, bool):
        return lambda value: None if (b := as_bool(value)) is None else b == expected
    if isinstance(expected, str):
        fold = _fold(case_sensitive)
        # The rule's value is trimmed like the answer's, or a padded one could never match.
        target = fold(expected.strip())
        return lambda value: None if (t := compared_text(value)) is None else fold(t) == target
    return lambda value: None if (n := as_number(value)) is None else n == expected


def _in_test(expected: tuple[Any, ...], *, case_sensitive: bool) -> _Test:
    fold = _fold(case_sensitive)
    texts = frozenset(fold(v.strip()) for v in expected if isinstance(v, str))
    numbers = frozenset(v for v in expected if not isinstance(v, str | bool))
    flags = frozenset(v for v in expected if isinstance(v, bool))

    def test(value: Any) -> Truth:
        known = False
        if texts and (t := compared_text(value)) is not None:
            if fold(t) in texts:
                return True
            known = True
        if numbers and (n := as_number(value)) is not None:
            if n in numbers:
                return True
            known = True
        if flags and (b := as_bool(value)) is not None:
            if b in flags:
                return True
            known = True
        return False if known else None

    return test


def _contains_test(expected: Any, *, case_sensitive: bool) -> _Test:
    fold = _fold(case_sensitive)
    needle = fold(as_text(expected) or "")
    element = _equals_test(expected, case_sensitive=case_sensitive)

    def test(value: Any) -> Truth:
        # A list contains a value when one of its items equals it; text contains a substring.
        if isinstance(value, list | tuple):
            return any(element(item) is True for item in value)
        text = as_text(value)
        return None if text is None else needle in fold(text)

    return test


def _starts_test(expected: str, *, case_sensitive: bool) -> _Test:
    fold = _fold(case_sensitive)
    # The prefix is taken as written: a trailing space in it ("DNC ") is part of the prefix.
    prefix = fold(expected)

    def test(value: Any) -> Truth:
        text = compared_text(value)
        return None if text is None else fold(text).startswith(prefix)

    return test


def _pattern_test(pattern: CompiledPattern) -> _Test:
    # The pattern was compiled from its NFC form; the value is read in NFC too, so that a
    # decomposed "é" in either meets a composed one in the other.
    return lambda value: None if (t := as_text(value)) is None else pattern.search(nfc(t))


def _number_test(op: Operator, expected: Any) -> _Test:
    if op is Operator.LESS_THAN:
        return lambda value: None if (n := as_number(value)) is None else n < expected
    if op is Operator.AT_MOST:
        return lambda value: None if (n := as_number(value)) is None else n <= expected
    if op is Operator.GREATER_THAN:
        return lambda value: None if (n := as_number(value)) is None else n > expected
    if op is Operator.AT_LEAST:
        return lambda value: None if (n := as_number(value)) is None else n >= expected
    low, high = expected
    return lambda value: None if (n := as_number(value)) is None else low <= n <= high


def _negate(test: _Test) -> _Test:
    return lambda value: None if (r := test(value)) is None else not r


def _positive_test(  # noqa: PLR0911 - one return per operator family
    c: Comparison, patterns: Mapping[tuple[str, bool], CompiledPattern]
) -> _Test:
    op, value, exact = c.op, c.value, c.case_sensitive
    if op in {Operator.EQUALS, Operator.NOT_EQUALS}:
        return _equals_test(value, case_sensitive=exact)
    if op in {Operator.IN, Operator.NOT_IN}:
        return _in_test(value if isinstance(value, tuple) else (value,), case_sensitive=exact)
    if op in {Operator.CONTAINS, Operator.NOT_CONTAINS}:
        return _contains_test(value, case_sensitive=exact)
    if op is Operator.STARTS_WITH:
        return _starts_test(str(value), case_sensitive=exact)
    if op in {Operator.MATCHES, Operator.NOT_MATCHES}:
        key = (str(value), not exact)
        pattern = patterns.get(key) or compile_pattern(nfc(key[0]), ignore_case=key[1])
        return _pattern_test(pattern)
    if op in {Operator.IS_BLANK, Operator.IS_NOT_BLANK}:
        return is_blank
    if op in {Operator.IS_TRUE, Operator.IS_FALSE}:
        flag = op is Operator.IS_TRUE
        return lambda v: None if (b := as_bool(v)) is None else b == flag
    positive = Operator.BETWEEN if op is Operator.NOT_BETWEEN else op
    return _number_test(positive, value)


_NEGATIVE: Final = frozenset(
    {
        Operator.NOT_EQUALS,
        Operator.NOT_IN,
        Operator.NOT_BETWEEN,
        Operator.NOT_CONTAINS,
        Operator.NOT_MATCHES,
        Operator.IS_NOT_BLANK,
    }
)


def _leaf(
    c: Comparison, patterns: Mapping[tuple[str, bool], CompiledPattern], readers: Readers
) -> CompiledCondition:
    test = _positive_test(c, patterns)
    if c.op in _NEGATIVE:
        test = _negate(test)
    read = readers(c.field)
    path = c.field

    def leaf(
        answer: Mapping[str, Any] | None, lead: Mapping[str, Any] | None, seen: dict[str, Any]
    ) -> Truth:
        value = read(answer, lead)
        # The trace is evidence: it must not change when the caller later edits its data.
        seen[path] = value if type(value) in _IMMUTABLE else evidence(value)
        return test(value)

    return leaf


def compile_condition(
    condition: Condition,
    patterns: Mapping[tuple[str, bool], CompiledPattern],
    readers: Readers = _reader,
) -> CompiledCondition:
    """Compile a validated *condition*, reusing the *patterns* compiled by the checker.

    *readers* makes the reader of each field (:func:`reader_for` the registry checked
    against); by default a field is read from one integration's answer.
    """
    if isinstance(condition, Comparison):
        return _leaf(condition, patterns, readers)
    if isinstance(condition, Not):
        inner = compile_condition(condition.condition, patterns, readers)
        return lambda answer, lead, seen: (
            None if (r := inner(answer, lead, seen)) is None else not r
        )
    children = tuple(compile_condition(c, patterns, readers) for c in condition.conditions)
    return _all_of(children) if isinstance(condition, AllOf) else _any_of(children)


def _all_of(children: tuple[CompiledCondition, ...]) -> CompiledCondition:
    def all_of(
        answer: Mapping[str, Any] | None, lead: Mapping[str, Any] | None, seen: dict[str, Any]
    ) -> Truth:
        # Kleene "and": one false settles it; otherwise any unknown makes it unknown.
        result: Truth = True
        for child in children:
            r = child(answer, lead, seen)
            if r is False:
                return False
            if r is None:
                result = None
        return result

    return all_of


def _any_of(children: tuple[CompiledCondition, ...]) -> CompiledCondition:
    def any_of(
        answer: Mapping[str, Any] | None, lead: Mapping[str, Any] | None, seen: dict[str, Any]
    ) -> Truth:
        result: Truth = False
        for child in children:
            r = child(answer, lead, seen)
            if r is True:
                return True
            if r is None:
                result = None
        return result

    return any_of


def _inserted(value: Any) -> str:
    if isinstance(value, list | tuple):
        text = ", ".join(t for t in map(as_text, value) if t is not None)
    else:
        text = as_text(value) or ""
    return text[:_MAX_INSERTED]


def compile_template(
    template: str, readers: Readers = _reader
) -> Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], str]:
    """Compile a validated reason template into a function of the answer and the lead.

    A field that is absent renders as an empty string; a value is cut at 200 characters.
    """
    parts: tuple[TemplatePart, ...] = parse_template(template)
    pieces: list[str | _Reader] = [p.text if not p.is_field else readers(p.text) for p in parts]

    def render(answer: Mapping[str, Any] | None, lead: Mapping[str, Any] | None) -> str:
        return "".join(p if isinstance(p, str) else _inserted(p(answer, lead)) for p in pieces)

    return render
