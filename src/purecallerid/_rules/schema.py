"""The JSON Schema (draft 2020-12) of a rule document, built from the same tables as the checker.

The schema describes the shape an admin UI must produce: keys, operators, value shapes per
operator, limits. What depends on an integration (which fields exist, their types and known
values) is checked by :class:`purecallerid.RuleSet` at load; given a registry, the schema
also lists that integration's field names.
"""

from __future__ import annotations

import re
from typing import Any

from .check import LIMITS
from .fields import CampaignFields, FieldRegistry, ValueKind, operator_spec
from .model import Action, Operator, UnknownPolicy

__all__ = ["rules_json_schema"]

_PATH = r"^[^\s.:#\"(),=<>!]+(\.[^\s.:#\"(),=<>!]+)*$"


def _ops(kind: ValueKind) -> list[str]:
    return [op.value for op in Operator if operator_spec(op).value is kind]


def _field_schema(fields: FieldRegistry | None) -> dict[str, Any]:
    limit = {"type": "string", "maxLength": LIMITS["field_length"]}
    if fields is None:
        return {**limit, "pattern": _PATH}
    choices: list[dict[str, Any]] = [{"enum": list(fields.names)}]
    if fields.extra:
        choices.append({"pattern": r"^extra\.[^\s.]+(\.[^\s.]+)*$"})
    if isinstance(fields, CampaignFields):
        # Qualified names: each integration's untyped keys, below its id.
        choices.extend(
            {"pattern": rf"^{re.escape(ident)}\.extra\.[^\s.]+(\.[^\s.]+)*$"}
            for ident, registry in fields.registries
            if registry.extra
        )
    if fields.lead:
        choices.append({"pattern": r"^lead\.[^\s.]+(\.[^\s.]+)*$"})
    return {**limit, "anyOf": choices}


def _when(ops: list[str], then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"op": {"enum": ops}}, "required": ["op"]}, "then": then}


def _number() -> dict[str, Any]:
    limit = LIMITS["max_integer"]
    return {"type": "number", "minimum": -limit, "maximum": limit}


def _scalar() -> dict[str, Any]:
    string = {"type": "string", "maxLength": LIMITS["string_length"]}
    return {"anyOf": [string, _number(), {"type": "boolean"}]}


def _any_value() -> dict[str, Any]:
    values = {"type": "array", "minItems": 1, "maxItems": LIMITS["list_items"], "items": _scalar()}
    return {"anyOf": [_scalar(), values]}


def _value(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": ["value"], "properties": {"value": schema}}


def _value_by_operator() -> list[dict[str, Any]]:
    # The shape of "value" depends on "op": one if/then per value kind, with the operators read
    # from the operator table, so that a new operator of a known kind needs no change here.
    pair = {"type": "array", "minItems": 2, "maxItems": 2, "items": _number()}
    return [
        _when(_ops(ValueKind.NONE), {"not": {"required": ["value"]}}),
        _when(_ops(ValueKind.LIST), _value({"type": "array"})),
        _when(_ops(ValueKind.RANGE), _value(pair)),
        _when(_ops(ValueKind.NUMBER), _value(_number())),
        _when(
            _ops(ValueKind.TEXT) + _ops(ValueKind.PATTERN),
            _value({"type": "string", "minLength": 1}),
        ),
        _when(_ops(ValueKind.SCALAR), _value(_scalar())),
    ]


def _comparison(fields: FieldRegistry | None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["field", "op"],
        "properties": {
            "field": _field_schema(fields),
            "op": {"enum": [op.value for op in Operator]},
            "value": _any_value(),
            "case_sensitive": {"type": "boolean"},
        },
        "additionalProperties": False,
        "allOf": _value_by_operator(),
    }


def _group(key: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key],
        "properties": {
            key: {
                "type": "array",
                "minItems": 1,
                "maxItems": LIMITS["list_items"],
                "items": {"$ref": "#/$defs/condition"},
            }
        },
        "additionalProperties": False,
    }


def _not() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["not"],
        "properties": {"not": {"$ref": "#/$defs/condition"}},
        "additionalProperties": False,
    }


def _rule() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["action", "when"],
        "properties": {
            "id": {"type": "string", "maxLength": LIMITS["id_length"], "pattern": _PATH},
            "action": {"enum": [a.value for a in Action]},
            "when": {"$ref": "#/$defs/condition"},
            "reason": {"type": ["string", "null"], "maxLength": LIMITS["reason_length"]},
            "enabled": {"type": "boolean"},
            "unknown": {"enum": [u.value for u in UnknownPolicy]},
        },
        "additionalProperties": False,
    }


def _definitions(fields: FieldRegistry | None) -> dict[str, Any]:
    kinds = ("comparison", "all", "any", "not")
    return {
        "rule": _rule(),
        "condition": {"oneOf": [{"$ref": f"#/$defs/{kind}"} for kind in kinds]},
        "comparison": _comparison(fields),
        "all": _group("all"),
        "any": _group("any"),
        "not": _not(),
    }


def rules_json_schema(fields: FieldRegistry | None = None) -> dict[str, Any]:
    """Return the JSON Schema of a rule document, as a JSON-serialisable dict.

    Args:
        fields: When given, the ``field`` of a comparison is restricted to that registry's
            names and the ``extra.`` / ``lead.`` prefixes it allows.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "purecallerid rule document",
        "type": "object",
        "required": ["rules"],
        "properties": {
            "version": {"const": 1},
            "rules": {
                "type": "array",
                "maxItems": LIMITS["rules"],
                "items": {"$ref": "#/$defs/rule"},
            },
        },
        "additionalProperties": False,
        "$defs": _definitions(fields),
    }
