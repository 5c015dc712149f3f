"""The JSON Schema (draft 2020-12) of a rule document, built from the same tables as the checker.

The schema describes the shape an admin UI must produce: keys, operators, value shapes per
operator, limits. What depends on an integration (which fields exist, their types and known
values) is checked by :class:`purecallerid.RuleSet` at load; given a registry, the schema
also lists that integration's field names.
"""

from __future__ import annotations

from typing import Any

from .check import LIMITS
from .fields import FieldRegistry, ValueKind, operator_spec
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
    if fields.lead:
        choices.append({"pattern": r"^lead\.[^\s.]+(\.[^\s.]+)*$"})
    return {**limit, "anyOf": choices}


def _when(ops: list[str], then: dict[str, Any]) -> dict[str, Any]:
    return {"if": {"properties": {"op": {"enum": ops}}, "required": ["op"]}, "then": then}


def rules_json_schema(fields: FieldRegistry | None = None) -> dict[str, Any]:
    """Return the JSON Schema of a rule document, as a JSON-serialisable dict.

    Args:
        fields: When given, the ``field`` of a comparison is restricted to that registry's
            names and the ``extra.`` / ``lead.`` prefixes it allows.
    """
    max_string = LIMITS["string_length"]
    limit = LIMITS["max_integer"]
    number = {"type": "number", "minimum": -limit, "maximum": limit}
    scalar = {"anyOf": [{"type": "string", "maxLength": max_string}, number, {"type": "boolean"}]}
    value_schema = {
        "anyOf": [
            scalar,
            {"type": "array", "minItems": 1, "maxItems": LIMITS["list_items"], "items": scalar},
        ]
    }
    comparison = {
        "type": "object",
        "required": ["field", "op"],
        "properties": {
            "field": _field_schema(fields),
            "op": {"enum": [op.value for op in Operator]},
            "value": value_schema,
            "case_sensitive": {"type": "boolean"},
        },
        "additionalProperties": False,
        "allOf": [
            _when(_ops(ValueKind.NONE), {"not": {"required": ["value"]}}),
            _when(
                _ops(ValueKind.LIST),
                {"required": ["value"], "properties": {"value": {"type": "array"}}},
            ),
            _when(
                _ops(ValueKind.RANGE),
                {
                    "required": ["value"],
                    "properties": {
                        "value": {"type": "array", "minItems": 2, "maxItems": 2, "items": number}
                    },
                },
            ),
            _when(_ops(ValueKind.NUMBER), {"required": ["value"], "properties": {"value": number}}),
            _when(
                _ops(ValueKind.TEXT) + _ops(ValueKind.PATTERN),
                {
                    "required": ["value"],
                    "properties": {"value": {"type": "string", "minLength": 1}},
                },
            ),
            _when(_ops(ValueKind.SCALAR), {"required": ["value"], "properties": {"value": scalar}}),
        ],
    }

    def group(key: str) -> dict[str, Any]:
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

    rule = {
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
        "$defs": {
            "rule": rule,
            "condition": {
                "oneOf": [
                    {"$ref": "#/$defs/comparison"},
                    {"$ref": "#/$defs/all"},
                    {"$ref": "#/$defs/any"},
                    {"$ref": "#/$defs/not"},
                ]
            },
            "comparison": comparison,
            "all": group("all"),
            "any": group("any"),
            "not": {
                "type": "object",
                "required": ["not"],
                "properties": {"not": {"$ref": "#/$defs/condition"}},
                "additionalProperties": False,
            },
        },
    }
