"""Field registries and the operator table: what a rule may read and how it may compare it.

Each integration declares a :class:`FieldRegistry`: the answer fields it offers to rules, their
types and known values. The registry decides which operators apply to which field and feeds
the "did you mean" suggestions of the validator. Both the registry and the operator table
export as JSON-serialisable data for admin UIs.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from attrs import field, frozen

from .model import Operator

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "RESERVED_WORDS",
    "CampaignFields",
    "FieldRegistry",
    "FieldSpec",
    "FieldType",
    "OperatorSpec",
    "ValueKind",
    "is_word",
    "is_word_char",
    "is_word_start",
    "operator_spec",
    "operator_table",
]


class FieldType(enum.StrEnum):
    """The type of a field, which decides the operators it offers.

    ``any`` is the type of what the registry cannot know in advance: ``extra.<key>`` (vendor
    keys the library does not type) and ``lead.<path>`` (whatever the lead source posted).
    """

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    LIST = "list"
    ANY = "any"


class ValueKind(enum.StrEnum):
    """The shape of the value an operator takes (for validation and admin UIs).

    ``scalar`` is a single value of the field's type; ``list`` one or more of them; ``range``
    two numbers, low then high; ``number`` one number; ``text`` one string; ``pattern`` one
    pattern string; ``none`` no value at all.
    """

    NONE = "none"
    SCALAR = "scalar"
    LIST = "list"
    RANGE = "range"
    NUMBER = "number"
    TEXT = "text"
    PATTERN = "pattern"


_ALL_TYPES: Final = frozenset(FieldType)
_S, _N, _B, _L, _A = (
    FieldType.STRING,
    FieldType.NUMBER,
    FieldType.BOOLEAN,
    FieldType.LIST,
    FieldType.ANY,
)


@frozen(kw_only=True)
class OperatorSpec:
    """One row of the operator table.

    Attributes:
        op: The machine name.
        label: The English label an admin sees (``"is one of"``).
        text: The canonical spelling in the text form (``"in"``, ``"<="``).
        aliases: Other spellings the text parser accepts (``"at most"`` for ``<=``).
        value: The shape of the value the operator takes.
        types: The field types it applies to.
        text_compare: Whether it compares strings, so that ``case_sensitive`` applies.
    """

    op: Operator
    label: str
    text: str
    aliases: tuple[str, ...] = ()
    value: ValueKind
    types: frozenset[FieldType]
    text_compare: bool = False


_OPERATORS: Final[tuple[OperatorSpec, ...]] = (
    OperatorSpec(
        op=Operator.EQUALS,
        label="is equal to",
        text="=",
        aliases=("==", "equals"),
        value=ValueKind.SCALAR,
        types=frozenset({_S, _N, _B, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.NOT_EQUALS,
        label="is not equal to",
        text="!=",
        aliases=("<>", "not equals"),
        value=ValueKind.SCALAR,
        types=frozenset({_S, _N, _B, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.IN,
        label="is one of",
        text="in",
        value=ValueKind.LIST,
        types=frozenset({_S, _N, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.NOT_IN,
        label="is not one of",
        text="not in",
        value=ValueKind.LIST,
        types=frozenset({_S, _N, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.LESS_THAN,
        label="is less than",
        text="<",
        aliases=("less than",),
        value=ValueKind.NUMBER,
        types=frozenset({_N, _A}),
    ),
    OperatorSpec(
        op=Operator.AT_MOST,
        label="is at most",
        text="<=",
        aliases=("at most",),
        value=ValueKind.NUMBER,
        types=frozenset({_N, _A}),
    ),
    OperatorSpec(
        op=Operator.GREATER_THAN,
        label="is greater than",
        text=">",
        aliases=("greater than",),
        value=ValueKind.NUMBER,
        types=frozenset({_N, _A}),
    ),
    OperatorSpec(
        op=Operator.AT_LEAST,
        label="is at least",
        text=">=",
        aliases=("at least",),
        value=ValueKind.NUMBER,
        types=frozenset({_N, _A}),
    ),
    OperatorSpec(
        op=Operator.BETWEEN,
        label="is between",
        text="between",
        value=ValueKind.RANGE,
        types=frozenset({_N, _A}),
    ),
    OperatorSpec(
        op=Operator.NOT_BETWEEN,
        label="is not between",
        text="not between",
        value=ValueKind.RANGE,
        types=frozenset({_N, _A}),
    ),
    OperatorSpec(
        op=Operator.CONTAINS,
        label="contains",
        text="contains",
        value=ValueKind.SCALAR,
        types=frozenset({_S, _L, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.NOT_CONTAINS,
        label="does not contain",
        text="does not contain",
        aliases=("not contains",),
        value=ValueKind.SCALAR,
        types=frozenset({_S, _L, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.STARTS_WITH,
        label="starts with",
        text="starts with",
        value=ValueKind.TEXT,
        types=frozenset({_S, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.MATCHES,
        label="matches pattern",
        text="matches",
        value=ValueKind.PATTERN,
        types=frozenset({_S, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.NOT_MATCHES,
        label="does not match pattern",
        text="does not match",
        aliases=("not matches",),
        value=ValueKind.PATTERN,
        types=frozenset({_S, _A}),
        text_compare=True,
    ),
    OperatorSpec(
        op=Operator.IS_BLANK,
        label="is blank",
        text="is blank",
        value=ValueKind.NONE,
        types=_ALL_TYPES,
    ),
    OperatorSpec(
        op=Operator.IS_NOT_BLANK,
        label="is not blank",
        text="is not blank",
        value=ValueKind.NONE,
        types=_ALL_TYPES,
    ),
    OperatorSpec(
        op=Operator.IS_TRUE,
        label="is true",
        text="is true",
        value=ValueKind.NONE,
        types=frozenset({_B, _A}),
    ),
    OperatorSpec(
        op=Operator.IS_FALSE,
        label="is false",
        text="is false",
        value=ValueKind.NONE,
        types=frozenset({_B, _A}),
    ),
)

_BY_OP: Final[dict[Operator, OperatorSpec]] = {spec.op: spec for spec in _OPERATORS}


def operator_spec(op: Operator) -> OperatorSpec:
    """Return the table row of *op*."""
    return _BY_OP[op]


def operator_table() -> list[dict[str, Any]]:
    """Return the operator table as JSON-serialisable data, in display order.

    Each entry has ``name``, ``label``, ``text``, ``aliases``, ``value`` (the value shape),
    ``types`` (the field types it applies to, sorted) and ``case_sensitive`` (whether the
    exact-case option applies).
    """
    return [
        {
            "name": spec.op.value,
            "label": spec.label,
            "text": spec.text,
            "aliases": list(spec.aliases),
            "value": spec.value.value,
            "types": sorted(t.value for t in spec.types),
            "case_sensitive": spec.text_compare,
        }
        for spec in _OPERATORS
    ]


def is_word_start(ch: str) -> bool:
    """Whether *ch* may start a name (a field path or a rule id): a letter or ``_``."""
    return ch.isalpha() or ch == "_"


def is_word_char(ch: str) -> bool:
    """Whether *ch* may continue a name segment: a letter, a digit, ``_`` or ``-``."""
    return ch.isalnum() or ch in "_-"


def is_word(text: str, *, dots: bool = False) -> bool:
    """Whether *text* is a name: starts like a name, continues with name characters.

    With *dots*, ``.`` may separate non-empty segments (a segment after a dot may start with
    a digit, to index a list: ``lead.phones.0``).
    """
    if not text or not is_word_start(text[0]):
        return False
    segments = text.split(".") if dots else [text]
    return all(seg and all(is_word_char(ch) for ch in seg) for seg in segments)


# The words of the text form that are not operator words; those come from the table, so that
# a new alias is reserved with nothing more to change.
_GRAMMAR_WORDS: Final = frozenset(
    {
        "accept",
        "and",
        "because",
        "case",
        "disabled",
        "extra",
        "false",
        "flag",
        "lead",
        "not",
        "or",
        "qa",
        "reject",
        "sensitive",
        "true",
        "unknown",
        "when",
    }
)
RESERVED_WORDS: Final = _GRAMMAR_WORDS | frozenset(
    word
    for spec in _OPERATORS
    for spelling in (spec.text, *spec.aliases)
    for word in spelling.lower().split()
    if is_word(word)
)
"""Words of the text form; a registry field may not be named after one (any case)."""


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _specs(specs: Iterable[FieldSpec]) -> tuple[FieldSpec, ...]:
    return tuple(specs)


def _check_spec_name(_: Any, __: Any, name: str) -> None:
    if not is_word(name):
        raise ValueError(f"a field name is letters, digits, '_' and '-', got {name!r}")
    if name.lower() in RESERVED_WORDS:
        raise ValueError(f"{name!r} is a word of the rule text form; choose another field name")


@frozen(kw_only=True)
class FieldSpec:
    """One answer field an integration offers to rules.

    Attributes:
        name: The name rules use (``reason``).
        type: Its type, which decides the operators it offers.
        label: A short label for admin UIs (``"Reason"``).
        description: One sentence for admin UIs.
        values: Known values, used for suggestions and for UI pick lists.
        open_values: Whether the vendor may send values outside ``values``. A rule value
            that is not known is then a warning, unless it is so close to a known value that
            it is surely a typo (an error); on a closed field it is always an error.
    """

    name: str = field(validator=_check_spec_name)
    type: FieldType = field(converter=FieldType)
    label: str = ""
    description: str = ""
    values: tuple[str, ...] = field(default=(), converter=_strings)
    open_values: bool = True


@frozen(kw_only=True)
class FieldRegistry:
    """The fields an integration offers to rules.

    Bare names (``status``) are the typed answer fields listed here; ``extra.<key>`` reads a key
    the vendor sent that the library does not type, and ``lead.<path>`` a field of the lead.
    Both of those are of type ``any``: every operator applies and values are checked only for
    shape.

    Attributes:
        integration: The integration's name (``"purecallerid"``).
        fields: The typed answer fields.
        extra: Whether rules may read ``extra.<key>``.
        lead: Whether rules may read ``lead.<path>``.
    """

    integration: str
    fields: tuple[FieldSpec, ...] = field(converter=_specs)
    extra: bool = True
    lead: bool = True

    def __attrs_post_init__(self) -> None:
        """Refuse two fields with the same name."""
        names = [spec.name for spec in self.fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"fields declared twice: {', '.join(duplicates)}")

    def get(self, name: str) -> FieldSpec | None:
        """Return the spec of the answer field *name*, or ``None``."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def names(self) -> tuple[str, ...]:
        """The answer field names, in declaration order."""
        return tuple(spec.name for spec in self.fields)

    def with_values(self, name: str, *values: str) -> FieldRegistry:
        """Return a copy where field *name* knows *values* too.

        Use it when a campaign's vendor side is configured with reasons of its own, so that
        rules on them validate without warnings and near-miss typos of them are caught.

        Raises:
            KeyError: There is no field *name*.
        """
        spec = self.get(name)
        if spec is None:
            raise KeyError(name)
        known = spec.values + tuple(v for v in values if v not in spec.values)
        new = FieldSpec(
            name=spec.name,
            type=spec.type,
            label=spec.label,
            description=spec.description,
            values=known,
            open_values=spec.open_values,
        )
        fields = tuple(new if s.name == name else s for s in self.fields)
        return FieldRegistry(
            integration=self.integration, fields=fields, extra=self.extra, lead=self.lead
        )

    def to_json(self) -> dict[str, Any]:
        """Return the registry as JSON-serialisable data for admin UIs.

        Each field lists the operators (machine names) it offers, in table order.
        """
        return {
            "integration": self.integration,
            "fields": [_spec_json(spec) for spec in self.fields],
            "extra": {"allowed": self.extra, "prefix": "extra.", "type": FieldType.ANY.value},
            "lead": {"allowed": self.lead, "prefix": "lead.", "type": FieldType.ANY.value},
            "any_operators": _operators_for(FieldType.ANY),
        }


def _operators_for(field_type: FieldType) -> list[str]:
    return [spec.op.value for spec in _OPERATORS if field_type in spec.types]


def _spec_json(spec: FieldSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "type": spec.type.value,
        "label": spec.label,
        "description": spec.description,
        "values": list(spec.values),
        "open_values": spec.open_values,
        "operators": _operators_for(spec.type),
    }


def _pairs(value: Any) -> tuple[tuple[str, Any], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(key), item) for key, item in items)


_LEAD: Final = "lead"


@frozen(kw_only=True)
class CampaignFields(FieldRegistry):
    """The fields of a campaign's integrations, read by qualified name: ``<id>.<field>``.

    What campaign rules and an integration's ``when`` read: each integration's answer fields
    by its id (``purecallerid.status``), a key it sent untyped as ``<id>.extra.<key>`` when its
    registry allows ``extra``, and the lead as ``lead.<path>``. It is a :class:`FieldRegistry`,
    so every part of the rule engine (the checker, :class:`~purecallerid.RuleSet`, the JSON
    Schema) takes it; its own typed fields are none.

    An id is matched as the longest one the name starts with followed by a dot, so that an id
    with dots in it still reads. ``lead`` always names the lead: an integration with that id
    cannot be read by name.

    Attributes:
        registries: Each integration's registry, by its id (a mapping or pairs).
        unavailable: Integrations the rules at hand may not read, by id, each with the reason
            a problem shows (``"runs in the same stage (sort 2): its answer is not there
            yet"``).
    """

    integration: str = "campaign"
    fields: tuple[FieldSpec, ...] = field(default=(), converter=_specs)
    extra: bool = False
    lead: bool = True
    registries: tuple[tuple[str, FieldRegistry], ...] = field(factory=tuple, converter=_pairs)
    unavailable: tuple[tuple[str, str], ...] = field(factory=tuple, converter=_pairs)
    _by_length: tuple[str, ...] = field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        """Refuse typed fields of its own; order the ids longest first, for :meth:`split`."""
        if self.fields:
            raise ValueError("campaign fields are the integrations' own: pass registries")
        ids = [ident for ident, _ in (*self.registries, *self.unavailable) if ident != _LEAD]
        object.__setattr__(self, "_by_length", tuple(sorted(ids, key=len, reverse=True)))

    def registry(self, integration_id: str) -> FieldRegistry | None:
        """The registry of the integration *integration_id*, or ``None`` when it has none here."""
        for ident, registry in self.registries:
            if ident == integration_id:
                return registry
        return None

    def reason_unavailable(self, integration_id: str) -> str | None:
        """Why the integration *integration_id* may not be read here, or ``None``."""
        return dict(self.unavailable).get(integration_id)

    @property
    def integration_ids(self) -> tuple[str, ...]:
        """Every integration id known here, readable or not, in the order given."""
        return tuple(ident for ident, _ in (*self.registries, *self.unavailable))

    def split(self, name: str) -> tuple[str, str] | None:
        """``(integration id, field)`` of a qualified *name*; ``None`` when no id starts it."""
        for ident in self._by_length:
            if len(name) > len(ident) + 1 and name.startswith(ident) and name[len(ident)] == ".":
                return ident, name[len(ident) + 1 :]
        return None

    def get(self, name: str) -> FieldSpec | None:
        """The spec of the qualified field *name* (``purecallerid.status``), or ``None``."""
        found = self.split(name)
        registry = None if found is None else self.registry(found[0])
        return None if registry is None or found is None else registry.get(found[1])

    @property
    def names(self) -> tuple[str, ...]:
        """The qualified names of every readable typed field, integration by integration."""
        return tuple(
            f"{ident}.{name}" for ident, registry in self.registries for name in registry.names
        )

    def with_values(self, name: str, *values: str) -> CampaignFields:
        """Return a copy where the qualified field *name* knows *values* too.

        Raises:
            KeyError: There is no field *name*.
        """
        found = self.split(name)
        registry = None if found is None else self.registry(found[0])
        if registry is None or found is None:
            raise KeyError(name)
        changed = registry.with_values(found[1], *values)
        registries = tuple(
            (ident, changed if ident == found[0] else other) for ident, other in self.registries
        )
        return CampaignFields(registries=registries, unavailable=self.unavailable, lead=self.lead)

    def to_json(self) -> dict[str, Any]:
        """Return the fields as JSON-serialisable data for admin UIs.

        The shape of :meth:`FieldRegistry.to_json`, the fields under their qualified names,
        with ``integrations``: each readable integration's id and whether it offers
        ``<id>.extra.<key>``.
        """
        fields = [
            {**_spec_json(spec), "name": f"{ident}.{spec.name}"}
            for ident, registry in self.registries
            for spec in registry.fields
        ]
        return {
            "integration": self.integration,
            "fields": fields,
            "integrations": [
                {"id": ident, "extra": registry.extra} for ident, registry in self.registries
            ],
            "extra": {"allowed": False, "prefix": "extra.", "type": FieldType.ANY.value},
            "lead": {"allowed": self.lead, "prefix": "lead.", "type": FieldType.ANY.value},
            "any_operators": _operators_for(FieldType.ANY),
        }
