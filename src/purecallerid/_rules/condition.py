"""A condition on its own: an integration's ``when``, in the rule language, read by name.

Where a rule pairs a condition with an action, :class:`RunCondition` is the condition alone:
whether an integration runs for a lead, given the answers of the stages before it. It is read
in the text form (what follows ``when`` in a rule) or the dict form, checked for syntax at once
and against the fields it reads (a :class:`~purecallerid.CampaignFields`) when the campaign is
checked, then compiled like a rule's condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

from .check import Checker
from .evaluate import CompiledCondition, compile_condition, reader_for
from .model import AllOf, AnyOf, Comparison, Condition, Not, condition_to_dict
from .text import check_condition_text, format_condition

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from .fields import CampaignFields, FieldRegistry

__all__ = ["RunCondition"]


def _read(source: object, fields: FieldRegistry | None) -> tuple[Condition, Checker]:
    """*source* (text, the dict form or a built condition) checked against *fields*."""
    if isinstance(source, str):
        return check_condition_text(source, fields)
    data = source
    if isinstance(source, Comparison | AllOf | AnyOf | Not):
        data = condition_to_dict(source)
    checker = Checker(fields)
    condition = checker.condition(data, "", depth=1)
    checker.raise_if_failed()
    assert condition is not None  # noqa: S101 - no error means a condition was built
    return condition, checker


def _comparisons(condition: Condition) -> Iterator[Comparison]:
    if isinstance(condition, Comparison):
        yield condition
    elif isinstance(condition, Not):
        yield from _comparisons(condition.condition)
    else:
        for child in condition.conditions:
            yield from _comparisons(child)


@final
class RunCondition:
    """When an integration runs: a condition over the lead and the earlier stages' answers.

    Written as what follows ``when`` in a rule (``purecallerid.status = "Accepted" and
    purecallerid.line_type != "landline"``), as a condition's dict form, or built
    (:class:`~purecallerid.Comparison`...). Its syntax is checked when it is read; the fields
    it reads are checked by :meth:`check`, which the screener, :func:`~purecallerid.load_settings`
    and :func:`~purecallerid.check_campaign` call with the fields of the integrations in the
    stages before its own.

    Equal, and written (:meth:`to_dict`, hence the settings hash), whether checked or not.

    Raises:
        RuleValidationError: Every problem found without the fields, with its column in text.
    """

    __slots__ = ("_condition", "_fields", "_reads", "_source", "_test")

    def __init__(self, source: str | Mapping[str, Any] | Condition) -> None:
        """Read *source*: text (one line), the dict form, or a built condition."""
        self._condition, _ = _read(source, None)
        # Kept to check against the fields: text read again keeps its columns in problems.
        self._source = source
        self._fields: CampaignFields | None = None
        self._test: CompiledCondition | None = None
        self._reads: tuple[str, ...] = ()

    @classmethod
    def load(
        cls, source: str | Mapping[str, Any] | Condition, fields: CampaignFields
    ) -> RunCondition:
        """Read *source* and check it against *fields* (see :meth:`check`)."""
        return cls(source).check(fields)

    def check(self, fields: CampaignFields) -> RunCondition:
        """The condition checked against *fields* and compiled (a new object).

        Raises:
            RuleValidationError: Every problem (a field no earlier integration has, a value of
                the wrong type), each with its column in text or its pointer in data.
        """
        condition, checker = _read(self._source, fields)
        checked = RunCondition.__new__(RunCondition)
        checked._source = self._source  # noqa: SLF001 - its own class
        checked._setup(condition, fields, checker)  # noqa: SLF001 - its own class
        return checked

    def _setup(self, condition: Condition, fields: CampaignFields, checker: Checker) -> None:
        self._condition = condition
        self._fields = fields
        self._test = compile_condition(condition, checker.patterns, reader_for(fields))
        reads: dict[str, None] = {}
        for comparison in _comparisons(condition):
            found = fields.split(comparison.field)
            if found is not None and comparison.field.partition(".")[0] != "lead":
                reads[found[0]] = None
        self._reads = tuple(reads)

    @property
    def condition(self) -> Condition:
        """The condition, as data."""
        return self._condition

    @property
    def fields(self) -> CampaignFields | None:
        """The fields it was checked against, or ``None`` when it is not checked yet."""
        return self._fields

    @property
    def reads(self) -> tuple[str, ...]:
        """The ids of the integrations whose answers it reads, in order (empty unchecked)."""
        return self._reads

    def evaluate(
        self, answers: Mapping[str, Mapping[str, Any] | None], lead: Mapping[str, Any] | None
    ) -> tuple[bool | None, dict[str, Any]]:
        """Evaluate the condition: ``(True, False or None for unknown, the values read)``.

        Args:
            answers: The answers of the integrations so far, by id (``None``: no answer).
            lead: The lead's fields.

        Raises:
            RuntimeError: It is not checked yet.
        """
        if self._test is None:
            raise RuntimeError("check the condition against its fields first (RunCondition.check)")
        seen: dict[str, Any] = {}
        return self._test(answers, lead, seen), seen

    def to_text(self) -> str:
        """The condition in canonical text."""
        return format_condition(self._condition)

    def to_dict(self) -> dict[str, Any]:
        """The condition's canonical dict form."""
        return condition_to_dict(self._condition)

    def __eq__(self, other: object) -> bool:
        """Equal when the conditions are, checked or not."""
        if not isinstance(other, RunCondition):
            return NotImplemented
        return self._condition == other._condition

    def __hash__(self) -> int:
        """Hash of the condition."""
        return hash(self._condition)

    def __repr__(self) -> str:
        """Show the condition's text."""
        return f"<RunCondition {self.to_text()!r}>"
