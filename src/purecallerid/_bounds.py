"""Record bounds: an answer is cut to size before it is recorded, so every lead gets a record.

A vendor answer may be anything JSON can hold: nested a thousand levels deep, 50 MB of text,
a million keys. Stored as it came, it would fail to save (the converter and ``json`` recurse;
PostgreSQL refuses NUL characters) or swell the records database, and a lead whose record
cannot be saved is billed again on every post. So the answer an integration returns is walked
once, without recursion, and cut to :class:`RecordBounds` before the rules read it and the
record keeps it; what was cut is said in ``IntegrationRecord.truncated``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from attrs import field, frozen, validators

__all__ = ["RecordBounds", "bound_answer", "bound_text"]

_CUT: Final = "…[truncated]"


@frozen(kw_only=True)
class RecordBounds:
    """The caps an integration's answer is cut to before it is recorded.

    Attributes:
        max_depth: Levels of nesting kept (a deeper list or object becomes the text
            ``"…[truncated]"``).
        max_values: Values kept in one answer, counted over every level (later keys and items
            are dropped).
        max_string: Characters kept of each text (and of each key).
        max_text: Characters kept of the whole answer's text, counted over every string (past
            it, texts are cut to nothing but the marker).
        max_raw: Characters kept of the raw body.
    """

    max_depth: int = field(default=32, validator=validators.ge(1))
    max_values: int = field(default=5_000, validator=validators.ge(1))
    max_string: int = field(default=10_000, validator=validators.ge(1))
    max_text: int = field(default=200_000, validator=validators.ge(1))
    max_raw: int = field(default=100_000, validator=validators.ge(1))


class _Budget:
    def __init__(self, bounds: RecordBounds) -> None:
        self.bounds = bounds
        self.values = bounds.max_values
        self.text = bounds.max_text
        self.cut: dict[str, int] = {}

    def note(self, what: str) -> None:
        self.cut[what] = self.cut.get(what, 0) + 1

    def string(self, value: str) -> str:
        if "\x00" in value:  # PostgreSQL's JSONB cannot hold a NUL character
            value = value.replace("\x00", "\ufffd")
            self.note("texts with a NUL character (replaced)")
        limit = min(self.bounds.max_string, max(self.text, 0))
        if len(value) > limit:
            self.note(f"texts over {self.bounds.max_string} characters or the answer's total")
            value = value[:limit] + _CUT
        self.text -= len(value)
        return value


class UnrecordableAnswerError(TypeError):
    """An answer holds a value JSON cannot hold (not text, number, boolean, null, list, object)."""


def bound_answer(
    answer: Mapping[str, Any], bounds: RecordBounds
) -> tuple[dict[str, Any], str | None]:
    """Cut *answer* to *bounds*: the cut copy and what was cut (``None`` when nothing was).

    Non-finite numbers become the texts ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` (JSON has
    none), keys become text. The walk uses its own stack, so no depth can exhaust Python's.

    Raises:
        UnrecordableAnswerError: A value is of a type no record can hold.
    """
    if _small(answer, bounds):
        return (answer if isinstance(answer, dict) else dict(answer)), None
    budget = _Budget(bounds)
    root: dict[str, Any] = {}
    # Each entry: (the source container, the copy being filled, its depth).
    stack: list[tuple[Any, Any, int]] = [(answer, root, 1)]
    while stack:
        source, target, depth = stack.pop()
        items = source.items() if isinstance(source, Mapping) else enumerate(source)
        for key, value in items:
            if budget.values <= 0:
                budget.note(f"values past the first {bounds.max_values}")
                break
            budget.values -= 1
            copied = _copy(value, depth, budget, stack)
            if isinstance(target, dict):
                target[budget.string(str(key))] = copied
            else:
                target.append(copied)
    said = "; ".join(f"{what}: {count}" for what, count in budget.cut.items())
    return root, (f"answer cut to the record bounds: {said}" if said else None)


def _plain(value: Any, bounds: RecordBounds) -> int | None:
    """The text size of a scalar within bounds, or ``None`` when it needs the full walk."""
    if value is None or isinstance(value, bool | int):
        return 0
    if isinstance(value, str):
        return len(value) if len(value) <= bounds.max_string and "\x00" not in value else None
    if isinstance(value, float) and math.isfinite(value):
        return 0
    return None


def _small(answer: Mapping[str, Any], bounds: RecordBounds) -> bool:
    """Whether *answer* is two levels of plain values within every bound (the usual answer).

    Checked in one pass without copying, so that a vendor's ordinary answer costs little.
    """
    count = text = 0
    for key, value in answer.items():
        typed: object = key  # typed as text, but a host's integration may send anything
        if not isinstance(typed, str) or _plain(key, bounds) is None:
            return False
        items = (
            value.values()
            if isinstance(value, dict)
            else value
            if isinstance(value, list)
            else None
        )
        if items is None:
            size = _plain(value, bounds)
            if size is None:
                return False
            count, text = count + 1, text + size + len(key)
            continue
        # A nested key is text the record keeps too: a NUL or an over-long one takes the walk.
        if isinstance(value, dict) and not all(
            isinstance(k, str) and _plain(k, bounds) is not None for k in value
        ):
            return False
        for item in items:
            size = _plain(item, bounds)
            if size is None:
                return False
            count, text = count + 1, text + size
        count += 1
    return count <= bounds.max_values and text <= bounds.max_text and bounds.max_depth >= 2  # noqa: PLR2004


def _copy(value: Any, depth: int, budget: _Budget, stack: list[tuple[Any, Any, int]]) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        budget.note("non-finite numbers (written as text)")
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return budget.string(value)
    if isinstance(value, Mapping | list | tuple):
        if depth >= budget.bounds.max_depth:
            budget.note(f"lists or objects deeper than {budget.bounds.max_depth} levels")
            return _CUT
        copy: dict[str, Any] | list[Any] = {} if isinstance(value, Mapping) else []
        stack.append((value, copy, depth + 1))
        return copy
    raise UnrecordableAnswerError(
        f"the answer holds a {type(value).__name__}, which no record can hold"
    )


def bound_text(text: str | None, bounds: RecordBounds) -> tuple[str | None, bool]:
    """Cut a raw body to ``max_raw`` characters (NULs replaced); whether it was cut."""
    if text is None:
        return None, False
    cut = False
    if "\x00" in text:
        text, cut = text.replace("\x00", "\ufffd"), True
    if len(text) > bounds.max_raw:
        text, cut = text[: bounds.max_raw] + _CUT, True
    return text, cut
