"""Validation of rule documents: every problem at once, each with a JSON pointer and a code.

A rule document is JSON-shaped data (``{"version": 1, "rules": [...]}``); the text form is
parsed into the same shape first, so both forms get the same checks and messages. Problems
are errors (the document is refused with :class:`RuleValidationError`) or warnings (the
document loads; the warnings are kept on the rule set for the admin UI to show).
"""

from __future__ import annotations

import difflib
import enum
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeAlias

from attrs import frozen

from .._errors import RuleValidationError
from .fields import (
    CampaignFields,
    FieldRegistry,
    FieldSpec,
    FieldType,
    ValueKind,
    is_word,
    operator_spec,
)
from .model import (
    Action,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Not,
    Operator,
    Rule,
    UnknownPolicy,
    default_rule_id,
)
from .normalize import caseless_key, nfc
from .pattern import CompiledPattern, PatternError, compile_pattern

__all__ = [
    "ANY_FIELD",
    "LIMITS",
    "Checker",
    "Resolved",
    "RuleProblem",
    "Severity",
    "TemplatePart",
    "parse_template",
    "pointer",
    "resolve_field",
    "suggest_action",
]

LIMITS: Final[Mapping[str, int]] = {
    "rules": 1_000,
    "depth": 16,
    "list_items": 1_000,
    "string_length": 1_000,
    "id_length": 64,
    "field_length": 200,
    "reason_length": 500,
    "max_integer": 2**53,
}
"""Size limits of a rule document, so that a stored document cannot exhaust the process."""

ANY_FIELD: Final = FieldSpec(name="value", type=FieldType.ANY)
"""The spec of fields whose type is not declared (``extra.<key>``, ``lead.<path>``)."""

_SUGGEST_CUTOFF: Final = 0.6
# A value this close to a known one is taken as a typo, even on a field whose values are open.
_TYPO_CUTOFF: Final = 0.8

_ACTION_SYNONYMS: Final = {
    "qc": "qa",
    "review": "qa",
    "quality_control": "qa",
    "decline": "reject",
    "deny": "reject",
    "block": "reject",
    "pass": "accept",
    "allow": "accept",
}


class Severity(enum.StrEnum):
    """How bad a problem is: errors refuse the document, warnings only inform."""

    ERROR = "error"
    WARNING = "warning"


@frozen(kw_only=True)
class RuleProblem:
    """One problem found in a rule document.

    Attributes:
        path: JSON pointer to the offending value (``/rules/2/when/any/0/value``); for the text
            form, the pointer into the equivalent dict.
        code: A stable machine code (``unknown_field``, ``bad_pattern``...).
        message: One sentence for a person.
        suggestion: The likely intended value, when there is one.
        severity: Error or warning.
        line: 1-based line in the text form, when the document came as text.
        column: 1-based column in the text form, when the document came as text.
    """

    path: str
    code: str
    message: str
    suggestion: str | None = None
    severity: Severity = Severity.ERROR
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        """Render as ``where: message``, where is the line and column or the pointer."""
        where = self.path or "/"
        if self.line is not None:
            where = f"line {self.line}, column {self.column} ({where})"
        tag = " (warning)" if self.severity is Severity.WARNING else ""
        return f"{where}: {self.message}{tag}"


def pointer(*parts: str | int) -> str:
    """Build a JSON pointer (RFC 6901) from keys and indexes."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _append(path: str, part: str | int) -> str:
    return path + pointer(part)


@frozen
class TemplatePart:
    """A piece of a reason template: literal text, or a field to insert.

    Attributes:
        text: The literal text, or the field path when ``is_field``.
        is_field: Whether this part inserts a field's value.
    """

    text: str
    is_field: bool = False


def parse_template(template: str) -> tuple[TemplatePart, ...]:
    """Split a reason template into literal and field parts (``{{``/``}}`` are braces).

    Raises:
        ValueError: A brace is not closed, or a ``}`` is not doubled.
    """
    parts: list[TemplatePart] = []
    text: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch in "{}" and template.startswith(ch * 2, i):
            text.append(ch)
            i += 2
            continue
        if ch == "}":
            raise ValueError(f"a single '}}' at character {i + 1}; write '}}}}' for a brace")
        if ch == "{":
            close = template.find("}", i)
            if close == -1:
                raise ValueError(f"the '{{' at character {i + 1} is not closed")
            if text:
                parts.append(TemplatePart("".join(text)))
                text = []
            parts.append(TemplatePart(template[i + 1 : close].strip(), is_field=True))
            i = close + 1
            continue
        text.append(ch)
        i += 1
    if text:
        parts.append(TemplatePart("".join(text)))
    return tuple(parts)


def _closest(word: str, candidates: Sequence[str]) -> tuple[str | None, float]:
    # Case-insensitive closeness; returns the candidate as spelled in `candidates`.
    folded = {c.casefold(): c for c in candidates}
    best = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=_SUGGEST_CUTOFF)
    if not best:
        return None, 0.0
    ratio = difflib.SequenceMatcher(None, word.casefold(), best[0]).ratio()
    return folded[best[0]], ratio


def suggest_action(word: str) -> str | None:
    """The action *word* was likely meant to be (``qc`` and ``review`` are ``qa``), or None."""
    best = _ACTION_SYNONYMS.get(word.casefold().replace(" ", "_"))
    if best is None:
        best, _ = _closest(word, [a.value for a in Action])
    return best


def _quote(value: object) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."  # noqa: PLR2004
        return '"' + shown + '"'
    return repr(value)


Resolved: TypeAlias = tuple[FieldSpec | None, str, str, str | None]
"""A field looked up: ``(spec, code, message, suggestion)``; spec is ``None`` on a problem."""


def resolve_field(path: Any, fields: FieldRegistry | None) -> Resolved:
    """Look *path* up: return ``(spec, code, message, suggestion)``; spec is None on a problem.

    With *fields* ``None`` only the syntax is checked and every field is of type ``any``;
    with :class:`CampaignFields`, names are qualified (``<integration id>.<field>``).
    """
    if not isinstance(path, str):
        return None, "wrong_type", "a field is a string", None
    if len(path) > LIMITS["field_length"]:
        return (
            None,
            "value_too_long",
            f"field names have at most {LIMITS['field_length']} characters",
            None,
        )
    if not is_word(path, dots=True):
        return (
            None,
            "invalid_field",
            f"{_quote(path)} is not a field name (letters, digits, '_' and '-', dots between)",
            None,
        )
    if isinstance(fields, CampaignFields):
        return _resolve_qualified(path, fields)
    return _resolve_own(path, fields)


def _resolve_own(path: str, fields: FieldRegistry | None) -> Resolved:
    """Look *path* up in one integration's fields (``None``: any field)."""
    head, dot, _ = path.partition(".")
    if head in {"lead", "extra"}:
        if not dot:
            return None, "invalid_field", f"name the {head} field: {head}.<name>", None
        allowed = fields is None or (fields.lead if head == "lead" else fields.extra)
        if not allowed:
            return None, "unknown_field", f"this integration's rules cannot read {head}.*", None
        return ANY_FIELD, "", "", None
    if fields is None:
        return ANY_FIELD, "", "", None
    spec = fields.get(path)
    if spec is not None:
        return spec, "", "", None
    best, _ = _closest(path, fields.names)
    known = ", ".join(fields.names)
    if best is not None:
        message = f"unknown field {_quote(path)}; did you mean {_quote(best)}?"
    else:
        message = (
            f"unknown field {_quote(path)} (known: {known}; extra.<key> reads a key the vendor "
            "sent, lead.<name> a lead field)"
        )
    return None, "unknown_field", message, best


def _resolve_qualified(path: str, fields: CampaignFields) -> Resolved:
    """Look a qualified *path* up: ``<integration id>.<field>``, or ``lead.<path>``."""
    head, dot, _ = path.partition(".")
    if head == "lead":
        if not dot:
            return None, "invalid_field", "name the lead field: lead.<name>", None
        if not fields.lead:
            return None, "unknown_field", "these rules cannot read lead.*", None
        return ANY_FIELD, "", "", None
    found = fields.split(path)
    if found is None:
        return _unknown_integration(path, fields)
    ident, name = found
    why = fields.reason_unavailable(ident)
    registry = fields.registry(ident)
    if why is not None or registry is None:
        message = f"{_quote(path)} cannot be read here: {ident} {why or 'is not readable'}"
        return None, "unavailable_field", message, None
    return _resolve_in(ident, name, registry)


def _resolve_in(  # noqa: PLR0911 - one return per kind of name
    ident: str, name: str, registry: FieldRegistry
) -> Resolved:
    """Look *name* up in the fields of the integration *ident*, for a qualified name."""
    inner, dot, _ = name.partition(".")
    if inner == "lead":
        message = f"the lead is read as lead.<name>, not through {ident}"
        return None, "invalid_field", message, name
    if inner == "extra":
        if not dot:
            return None, "invalid_field", f"name the key: {ident}.extra.<key>", None
        if not registry.extra:
            return None, "unknown_field", f"{ident} has no extra.* keys to read", None
        return ANY_FIELD, "", "", None
    spec = registry.get(name)
    if spec is not None:
        return spec, "", "", None
    best, _ = _closest(name, registry.names)
    if best is not None:
        suggestion = f"{ident}.{best}"
        message = f"{ident} has no field {_quote(name)}; did you mean {_quote(suggestion)}?"
        return None, "unknown_field", message, suggestion
    known = ", ".join(registry.names) or "none"
    extra = f"; {ident}.extra.<key> reads a key it sent untyped" if registry.extra else ""
    message = f"{ident} has no field {_quote(name)} (its fields: {known}{extra})"
    return None, "unknown_field", message, None


def _unknown_integration(path: str, fields: CampaignFields) -> Resolved:
    """The problem of a name that starts with no integration's id."""
    head, dot, rest = path.partition(".")
    if not dot:
        # A bare field name: which integrations have it, to name the one meant.
        owners = [f"{i}.{path}" for i, registry in fields.registries if registry.get(path)]
        if owners:
            message = (
                f"{_quote(path)} names no integration: write <integration id>.<field>; "
                f"did you mean {_quote(owners[0])}?"
            )
            return None, "unknown_field", message, owners[0]
    best, _ = _closest(head, fields.integration_ids)
    if best is not None:
        suggestion = f"{best}.{rest}" if dot else best
        message = (
            f"unknown integration {_quote(head)} in {_quote(path)}; "
            f"did you mean {_quote(suggestion)}?"
        )
        return None, "unknown_field", message, suggestion
    known = ", ".join(fields.integration_ids) or "none"
    message = (
        f"unknown field {_quote(path)}: fields here are <integration id>.<field> or "
        f"lead.<name> (integrations: {known})"
    )
    return None, "unknown_field", message, None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Checker:
    """One validation pass over a document; collects problems instead of stopping at the first.

    Attributes:
        problems: The problems found so far.
        patterns: The patterns compiled while checking, reused by the compiler.
    """

    def __init__(
        self,
        fields: FieldRegistry | None,
        positions: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """Check against *fields* (``None``: syntax only); *positions* map pointers to text."""
        self.fields = fields
        self.positions = positions or {}
        self.problems: list[RuleProblem] = []
        self.patterns: dict[tuple[str, bool], CompiledPattern] = {}

    # -- reporting --------------------------------------------------------------------------

    def report(
        self,
        path: str,
        code: str,
        message: str,
        suggestion: str | None = None,
        severity: Severity = Severity.ERROR,
    ) -> None:
        """Record one problem at *path*, with its text position when known."""
        line, column = self._position(path)
        self.problems.append(
            RuleProblem(
                path=path,
                code=code,
                message=message,
                suggestion=suggestion,
                severity=severity,
                line=line,
                column=column,
            )
        )

    def _position(self, path: str) -> tuple[int | None, int | None]:
        probe = path
        while True:
            if probe in self.positions:
                return self.positions[probe]
            if not probe:
                return None, None
            probe = probe.rpartition("/")[0]

    @property
    def failed(self) -> bool:
        """Whether an error (not only warnings) was found."""
        return any(p.severity is Severity.ERROR for p in self.problems)

    def raise_if_failed(self) -> None:
        """Raise :class:`RuleValidationError` when an error was found."""
        if self.failed:
            raise RuleValidationError(self.problems)

    @property
    def warnings(self) -> tuple[RuleProblem, ...]:
        """The warnings found."""
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    # -- document and rules -----------------------------------------------------------------

    def document(self, data: Any) -> tuple[Rule, ...]:
        """Check a whole document; return its rules (meaningful only when not ``failed``)."""
        if not isinstance(data, Mapping):
            self.report("", "wrong_type", 'a rule document is an object: {"rules": [...]}')
            return ()
        self._unknown_keys(data, "", ("version", "rules"))
        version = data.get("version", 1)
        if version != 1 or not isinstance(version, int) or isinstance(version, bool):
            self.report("/version", "unsupported_version", "the only document version is 1")
        raw_rules = data.get("rules")
        if "rules" not in data:
            self.report("", "missing_key", 'a rule document needs "rules" (a list)')
            return ()
        if not isinstance(raw_rules, list | tuple):
            self.report("/rules", "wrong_type", '"rules" is a list of rules')
            return ()
        if len(raw_rules) > LIMITS["rules"]:
            self.report("/rules", "too_many_rules", f"at most {LIMITS['rules']} rules")
            return ()
        rules: list[Rule] = []
        first_use: dict[str, str] = {}
        for index, raw in enumerate(raw_rules):
            path = pointer("rules", index)
            rule = self.rule(raw, path, index)
            if rule is None:
                continue
            if rule.id in first_use:
                self.report(
                    _append(path, "id"),
                    "duplicate_id",
                    f"rule id {_quote(rule.id)} is already used by {first_use[rule.id]}",
                )
            else:
                first_use[rule.id] = path
            rules.append(rule)
        return tuple(rules)

    def rule(self, data: Any, path: str, index: int) -> Rule | None:
        """Check one rule; return it, or ``None`` when it has errors."""
        before = len(self.errors_so_far())
        if not isinstance(data, Mapping):
            self.report(path, "wrong_type", "a rule is an object with an action and a condition")
            return None
        self._unknown_keys(data, path, ("id", "action", "when", "reason", "enabled", "unknown"))
        rule_id = self._rule_id(data, path, index)
        action = self._action(data, path)
        when: Condition | None = None
        if "when" in data:
            when = self.condition(data["when"], _append(path, "when"), depth=1)
        else:
            self.report(path, "missing_key", 'a rule needs "when" (its condition)')
        reason = self._reason(data, path)
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.report(_append(path, "enabled"), "wrong_type", '"enabled" is true or false')
        unknown = self._unknown_policy(data, path)
        if len(self.errors_so_far()) > before or when is None or action is None:
            return None
        return Rule(
            id=rule_id,
            action=action,
            when=when,
            reason=reason,
            enabled=bool(enabled),
            unknown=unknown,
        )

    def errors_so_far(self) -> list[RuleProblem]:
        """The errors recorded so far."""
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def _unknown_keys(self, data: Mapping[Any, Any], path: str, allowed: Sequence[str]) -> None:
        for key in data:
            if key in allowed:
                continue
            shown = key if isinstance(key, str) else repr(key)
            best, _ = _closest(shown, allowed)
            hint = (
                f"; did you mean {_quote(best)}?" if best else f" (allowed: {', '.join(allowed)})"
            )
            self.report(
                _append(path, shown), "unknown_key", f"unknown key {_quote(shown)}{hint}", best
            )

    def _rule_id(self, data: Mapping[str, Any], path: str, index: int) -> str:
        if "id" not in data:
            return default_rule_id(index)
        rule_id = data["id"]
        ok = isinstance(rule_id, str) and is_word(rule_id, dots=True)
        if not ok or len(rule_id) > LIMITS["id_length"]:
            self.report(
                _append(path, "id"),
                "invalid_id",
                "a rule id is letters, digits, '_', '-' and '.', starting with a letter or '_', "
                f"at most {LIMITS['id_length']} characters",
            )
            return default_rule_id(index)
        return str(rule_id)

    def _action(self, data: Mapping[str, Any], path: str) -> Action | None:
        if "action" not in data:
            self.report(path, "missing_key", 'a rule needs "action" (accept, flag, qa or reject)')
            return None
        raw = data["action"]
        if isinstance(raw, str) and raw in Action.__members__.values():
            return Action(raw)
        shown = raw if isinstance(raw, str) else repr(raw)
        best = suggest_action(shown)
        hint = f"; did you mean {_quote(best)}?" if best else " (accept, flag, qa or reject)"
        self.report(
            _append(path, "action"), "unknown_action", f"unknown action {_quote(shown)}{hint}", best
        )
        return None

    def _reason(self, data: Mapping[str, Any], path: str) -> str | None:
        reason = data.get("reason")
        if reason is None:
            return None
        at = _append(path, "reason")
        if not isinstance(reason, str):
            self.report(at, "wrong_type", "a reason is a string")
            return None
        if len(reason) > LIMITS["reason_length"]:
            self.report(
                at, "value_too_long", f"a reason has at most {LIMITS['reason_length']} characters"
            )
            return None
        try:
            parts = parse_template(reason)
        except ValueError as exc:
            self.report(at, "bad_reason", f"bad reason template: {exc}")
            return None
        for part in parts:
            if part.is_field:
                spec, code, message, suggestion = resolve_field(part.text, self.fields)
                if spec is None:
                    self.report(at, code, f"in the reason: {message}", suggestion)
        return reason

    def _unknown_policy(self, data: Mapping[str, Any], path: str) -> UnknownPolicy:
        raw = data.get("unknown", UnknownPolicy.NO_MATCH.value)
        if isinstance(raw, str) and raw in UnknownPolicy.__members__.values():
            return UnknownPolicy(raw)
        shown = raw if isinstance(raw, str) else repr(raw)
        best, _ = _closest(shown, [u.value for u in UnknownPolicy])
        hint = f"; did you mean {_quote(best)}?" if best else ' ("no_match" or "match")'
        self.report(
            _append(path, "unknown"), "invalid_value", f"unknown policy {_quote(shown)}{hint}", best
        )
        return UnknownPolicy.NO_MATCH

    # -- conditions -------------------------------------------------------------------------

    def condition(self, data: Any, path: str, depth: int) -> Condition | None:
        """Check one condition (recursively); return it, or ``None`` when it has errors."""
        if depth > LIMITS["depth"]:
            self.report(path, "too_deep", f"conditions nest at most {LIMITS['depth']} levels deep")
            return None
        if not isinstance(data, Mapping):
            self.report(path, "wrong_type", _CONDITION_SHAPE)
            return None
        kinds = [k for k in ("field", "all", "any", "not") if k in data]
        if len(kinds) != 1:
            message = (
                _CONDITION_SHAPE if not kinds else f"a condition has only one of {', '.join(kinds)}"
            )
            self.report(path, "invalid_condition", message)
            return None
        kind = kinds[0]
        if kind == "field":
            return self.comparison(data, path)
        self._unknown_keys(data, path, (kind,))
        inner_path = _append(path, kind)
        if kind == "not":
            inner = self.condition(data["not"], inner_path, depth + 1)
            return None if inner is None else Not(inner)
        return self._group(kind, data[kind], inner_path, depth)

    def _group(self, kind: str, items: Any, path: str, depth: int) -> Condition | None:
        if not isinstance(items, list | tuple):
            self.report(path, "wrong_type", f'"{kind}" is a list of conditions')
            return None
        if not items:
            self.report(path, "empty_group", f'"{kind}" needs at least one condition')
            return None
        if len(items) > LIMITS["list_items"]:
            self.report(path, "too_many_items", f"at most {LIMITS['list_items']} conditions")
            return None
        children = [
            self.condition(item, _append(path, i), depth + 1) for i, item in enumerate(items)
        ]
        valid = [c for c in children if c is not None]
        if len(valid) != len(children):
            return None
        # A group of one is the condition itself (the canonical form has no singleton groups).
        if len(valid) == 1:
            return valid[0]
        return AllOf(tuple(valid)) if kind == "all" else AnyOf(tuple(valid))

    def comparison(self, data: Mapping[str, Any], path: str) -> Comparison | None:
        """Check a comparison: field, operator, value shape and type, exact-case option."""
        before = len(self.errors_so_far())
        self._unknown_keys(data, path, ("field", "op", "value", "case_sensitive"))
        spec, code, message, suggestion = resolve_field(data["field"], self.fields)
        if spec is None:
            self.report(_append(path, "field"), code, message, suggestion)
        op = self._operator(data, path, spec)
        case_sensitive = data.get("case_sensitive", False)
        if not isinstance(case_sensitive, bool):
            self.report(
                _append(path, "case_sensitive"), "wrong_type", '"case_sensitive" is true or false'
            )
            case_sensitive = False
        value: Any = None
        if op is not None:
            # An unknown field still gets its value checked for shape, as a field of type any.
            value_spec = ANY_FIELD if spec is None else spec
            value = self._value(data, path, op, value_spec, case_sensitive=case_sensitive)
            self._case_option(op, value, path, case_sensitive=case_sensitive)
        if len(self.errors_so_far()) > before or op is None:
            return None
        return Comparison(data["field"], op, value, case_sensitive)

    def _operator(
        self, data: Mapping[str, Any], path: str, spec: FieldSpec | None
    ) -> Operator | None:
        at = _append(path, "op")
        if "op" not in data:
            self.report(path, "missing_key", 'a comparison needs "op" (its operator)')
            return None
        raw = data["op"]
        if not (isinstance(raw, str) and raw in Operator.__members__.values()):
            shown = raw if isinstance(raw, str) else repr(raw)
            best = _OP_SPELLINGS.get(shown.casefold().strip())
            if best is None:
                best, _ = _closest(shown, [o.value for o in Operator])
            hint = f"; did you mean {_quote(best)}?" if best else ""
            self.report(at, "unknown_operator", f"unknown operator {_quote(shown)}{hint}", best)
            return None
        op = Operator(raw)
        if spec is not None and spec.type not in operator_spec(op).types:
            offered = [o.value for o in Operator if spec.type in operator_spec(o).types]
            self.report(
                at,
                "operator_not_applicable",
                f"{_quote(op.value)} does not apply to {data['field']} "
                f"(a {spec.type.value} field); use one of: {', '.join(offered)}",
            )
            return None
        return op

    def _value(  # noqa: C901, PLR0911 - one branch per value shape
        self,
        data: Mapping[str, Any],
        path: str,
        op: Operator,
        spec: FieldSpec,
        *,
        case_sensitive: bool,
    ) -> Any:
        kind = operator_spec(op).value
        at = _append(path, "value")
        if kind is ValueKind.NONE:
            if "value" in data:
                self.report(at, "unexpected_value", f"{_quote(op.value)} takes no value")
            return None
        if "value" not in data:
            self.report(path, "missing_value", f"{_quote(op.value)} needs a value")
            return None
        raw = data["value"]
        if kind is ValueKind.LIST:
            return self._list(raw, at, op, spec, case_sensitive=case_sensitive)
        if kind is ValueKind.RANGE:
            return self._range(raw, at)
        if kind is ValueKind.NUMBER:
            return raw if self._number(raw, at) else None
        if kind in {ValueKind.TEXT, ValueKind.PATTERN}:
            return self._text(raw, at, op, case_sensitive=case_sensitive)
        if self._scalar(raw, at, spec, op):
            if isinstance(raw, str) and op in _KNOWN_VALUE_OPS:
                self._known(raw, at, spec, case_sensitive=case_sensitive)
            if isinstance(raw, str) and not raw and op in _NON_EMPTY_OPS:
                self.report(at, "empty_value", f"{_quote(op.value)} needs a non-empty string")
            return raw
        return None

    def _scalar(self, raw: Any, at: str, spec: FieldSpec, op: Operator) -> bool:
        expected = _SCALAR_TYPES[spec.type]
        if op in {Operator.CONTAINS, Operator.NOT_CONTAINS} and spec.type is FieldType.LIST:
            expected = "string"
        ok = (
            (isinstance(raw, str) and expected in {"string", "scalar"})
            or (_is_number(raw) and expected in {"number", "scalar"})
            or (isinstance(raw, bool) and expected in {"boolean", "scalar"})
        )
        if not ok:
            wanted = "a string, a number or a boolean" if expected == "scalar" else f"a {expected}"
            self.report(at, "wrong_value_type", f"the value must be {wanted}, not {_kind(raw)}")
            return False
        if isinstance(raw, str):
            return self._string_length(raw, at)
        if _is_number(raw):
            return self._number(raw, at)
        return True

    def _number(self, raw: Any, at: str) -> bool:
        if not _is_number(raw):
            self.report(at, "wrong_value_type", f"the value must be a number, not {_kind(raw)}")
            return False
        limit = LIMITS["max_integer"]
        if isinstance(raw, float) and not math.isfinite(raw):
            self.report(at, "value_out_of_range", "numbers must be finite")
            return False
        if abs(raw) > limit:
            self.report(at, "value_out_of_range", f"numbers are limited to ±2**53 ({limit})")
            return False
        return True

    def _string_length(self, raw: str, at: str) -> bool:
        if len(raw) > LIMITS["string_length"]:
            self.report(
                at, "value_too_long", f"strings have at most {LIMITS['string_length']} characters"
            )
            return False
        return True

    def _list(
        self, raw: Any, at: str, op: Operator, spec: FieldSpec, *, case_sensitive: bool
    ) -> Any:
        if not isinstance(raw, list | tuple):
            self.report(
                at,
                "wrong_value_type",
                f"{_quote(op.value)} takes a list of values, not {_kind(raw)}",
            )
            return None
        if not raw:
            self.report(at, "empty_list", f"{_quote(op.value)} needs at least one value")
            return None
        if len(raw) > LIMITS["list_items"]:
            self.report(at, "too_many_items", f"at most {LIMITS['list_items']} values")
            return None
        ok = True
        for index, item in enumerate(raw):
            item_at = _append(at, index)
            if self._scalar(item, item_at, spec, op):
                if isinstance(item, str):
                    self._known(item, item_at, spec, case_sensitive=case_sensitive)
            else:
                ok = False
        return tuple(raw) if ok else None

    def _range(self, raw: Any, at: str) -> Any:
        shape_ok = isinstance(raw, list | tuple) and len(raw) == 2  # noqa: PLR2004
        if not shape_ok:
            self.report(at, "wrong_value_type", "between takes two numbers: [low, high]")
            return None
        if not (self._number(raw[0], _append(at, 0)) and self._number(raw[1], _append(at, 1))):
            return None
        if raw[0] > raw[1]:
            self.report(
                at, "invalid_range", f"the low bound {raw[0]} is above the high bound {raw[1]}"
            )
            return None
        return (raw[0], raw[1])

    def _text(self, raw: Any, at: str, op: Operator, *, case_sensitive: bool) -> str | None:
        if not isinstance(raw, str):
            self.report(
                at, "wrong_value_type", f"{_quote(op.value)} takes a string, not {_kind(raw)}"
            )
            return None
        if op not in {Operator.MATCHES, Operator.NOT_MATCHES}:
            if not raw:
                self.report(at, "empty_value", f"{_quote(op.value)} needs a non-empty string")
                return None
            return raw if self._string_length(raw, at) else None
        try:
            # Compiled in NFC, the form evaluation reads values in (ASCII patterns, nearly all,
            # are unchanged; a composed or decomposed accent in one meets either in the value).
            self.patterns[raw, not case_sensitive] = compile_pattern(
                nfc(raw), ignore_case=not case_sensitive
            )
        except PatternError as exc:
            self.report(at, "bad_pattern", f"bad pattern: {exc}")
            return None
        return raw

    def _known(self, value: str, at: str, spec: FieldSpec, *, case_sensitive: bool) -> None:
        if not spec.values:
            return
        # Known values are compared as evaluation compares text: NFC, folded unless exact case.
        folded = caseless_key(value)
        if (
            any(nfc(v) == nfc(value) for v in spec.values)
            if case_sensitive
            else any(caseless_key(v) == folded for v in spec.values)
        ):
            return
        label = spec.name.replace("_", " ")
        same = next((v for v in spec.values if caseless_key(v) == folded), None)
        if same is not None:
            self.report(
                at,
                "unknown_value",
                f"{_quote(value)} never matches with exact case; did you mean {_quote(same)}?",
                same,
            )
            return
        best, ratio = _closest(value, spec.values)
        hint = f"; did you mean {_quote(best)}?" if best else ""
        message = f"{_quote(value)} is not a known {label}{hint}"
        if spec.open_values and ratio < _TYPO_CUTOFF:
            self.report(at, "unknown_value", message, best, Severity.WARNING)
        else:
            self.report(at, "unknown_value", message, best)

    def _case_option(self, op: Operator, value: Any, path: str, *, case_sensitive: bool) -> None:
        if not case_sensitive:
            return
        values = value if isinstance(value, tuple) else (value,)
        if not (operator_spec(op).text_compare and any(isinstance(v, str) for v in values)):
            self.report(
                _append(path, "case_sensitive"),
                "case_sensitive_not_applicable",
                "exact case applies only to comparisons with a string",
            )


_CONDITION_SHAPE: Final = (
    'a condition is an object with "field" (a comparison), "all", "any" or "not"'
)
_SCALAR_TYPES: Final = {
    FieldType.STRING: "string",
    FieldType.NUMBER: "number",
    FieldType.BOOLEAN: "boolean",
    FieldType.LIST: "string",
    FieldType.ANY: "scalar",
}
_KNOWN_VALUE_OPS: Final = frozenset({Operator.EQUALS, Operator.NOT_EQUALS})
_NON_EMPTY_OPS: Final = frozenset({Operator.CONTAINS, Operator.NOT_CONTAINS})


def _spellings() -> dict[str, str]:
    out: dict[str, str] = {}
    for op in Operator:
        spec = operator_spec(op)
        for spelling in (spec.text, spec.label, *spec.aliases):
            out[spelling.casefold()] = op.value
    return out


_OP_SPELLINGS: Final = _spellings()


def _kind(value: object) -> str:  # noqa: PLR0911 - one return per JSON type
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
