"""Exports for admin UIs: the JSON Schema, the field registry, the operator table, the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from purecallerid import (
    PURECALLERID_FIELDS,
    Operator,
    Rule,
    RuleSet,
    operator_table,
    rules_json_schema,
)
from test_rules_properties import rule_lists

DOCS = Path(__file__).parent.parent / "docs" / "rules.md"

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or (
        _TYPES["number"](a) and _TYPES["number"](b) and a == b
    )


def valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:  # noqa: C901, PLR0911, PLR0912
    """A small validator for the JSON Schema keywords the rule schema uses."""
    if "$ref" in schema:
        return valid(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_TYPES[name](value) for name in names):
            return False
    if "const" in schema and not _same(value, schema["const"]):
        return False
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        return False
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)) or len(value) < schema.get(
            "minLength", 0
        ):
            return False
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            return False
    if _TYPES["number"](value) and not (
        schema.get("minimum", value) <= value <= schema.get("maximum", value)
    ):
        return False
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        if "items" in schema and not all(valid(item, schema["items"], root) for item in value):
            return False
    if isinstance(value, dict):
        if any(key not in value for key in schema.get("required", ())):
            return False
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key in properties:
                if not valid(item, properties[key], root):
                    return False
            elif schema.get("additionalProperties") is False:
                return False
    if "anyOf" in schema and not any(valid(value, s, root) for s in schema["anyOf"]):
        return False
    if "oneOf" in schema and sum(valid(value, s, root) for s in schema["oneOf"]) != 1:
        return False
    if "allOf" in schema and not all(valid(value, s, root) for s in schema["allOf"]):
        return False
    if "not" in schema and valid(value, schema["not"], root):
        return False
    if "if" in schema and valid(value, schema["if"], root):
        return valid(value, schema["then"], root)
    return True


def conforms(document: Any, schema: dict[str, Any]) -> bool:
    return valid(document, schema, schema)


def test_schema_is_json_serialisable() -> None:
    """The schema is plain JSON data, draft 2020-12."""
    schema = json.loads(json.dumps(rules_json_schema(PURECALLERID_FIELDS)))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@given(rules=rule_lists())
def test_loaded_documents_conform_to_the_schema(rules: list[Rule]) -> None:
    """Every canonical document conforms to the generic and to the registry's schema."""
    document = json.loads(json.dumps(RuleSet(rules, PURECALLERID_FIELDS).to_dict()))
    assert conforms(document, rules_json_schema())
    assert conforms(document, rules_json_schema(PURECALLERID_FIELDS))


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"rules": [{"action": "maybe", "when": {"field": "status", "op": "is_blank"}}]},
        {"rules": [{"action": "flag", "when": {"field": "status", "op": "nope"}}]},
        {"rules": [{"action": "flag", "when": {"field": "status", "op": "is_blank", "value": 1}}]},
        {"rules": [{"action": "flag", "when": {"field": "status", "op": "equals"}}]},
        {"rules": [{"action": "flag", "when": {"field": "x", "op": "between", "value": [1]}}]},
        {"rules": [{"action": "flag", "when": {"field": "x", "op": "in", "value": "a"}}]},
        {"rules": [{"action": "flag", "when": {"all": [], "any": []}}]},
        {"rules": [{"action": "flag", "when": {"field": "status", "op": "is_blank"}, "x": 1}]},
    ],
)
def test_schema_refuses_malformed_documents(document: Any) -> None:
    """Documents of the wrong shape fail the schema (as they fail the loader)."""
    assert not conforms(document, rules_json_schema())


def test_registry_schema_restricts_field_names() -> None:
    """With a registry, the schema accepts its names and prefixes, and refuses others."""
    schema = rules_json_schema(PURECALLERID_FIELDS)

    def doc(field: str) -> dict[str, Any]:
        return {"rules": [{"action": "flag", "when": {"field": field, "op": "is_blank"}}]}

    assert conforms(doc("status"), schema)
    assert conforms(doc("extra.a.b"), schema)
    assert conforms(doc("lead.email"), schema)
    assert not conforms(doc("statuss"), schema)


def test_operator_table_covers_every_operator() -> None:
    """The operator table lists each operator once, with label and text spelling."""
    table = operator_table()
    assert [row["name"] for row in table] == [op.value for op in Operator]
    assert all(row["label"] and row["text"] for row in table)
    assert json.loads(json.dumps(table)) == table


def test_registry_export() -> None:
    """The registry exports its fields, their operators and known values as JSON data."""
    data = json.loads(json.dumps(PURECALLERID_FIELDS.to_json()))
    fields = {f["name"]: f for f in data["fields"]}
    assert fields["reason"]["values"] == ["INACTIVE", "DNC", "TCPA_FLAG", "INVALID", "SUPPRESSED"]
    assert "less_than" in fields["activity_score"]["operators"]
    assert "less_than" not in fields["reason"]["operators"]
    assert fields["known_litigator"]["operators"] == [
        "equals",
        "not_equals",
        "is_blank",
        "is_not_blank",
        "is_true",
        "is_false",
    ]
    assert data["extra"] == {"allowed": True, "prefix": "extra.", "type": "any"}


def _docs_block(heading: str) -> str:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    return section.split("```json\n", 1)[1].split("```", 1)[0]


def test_docs_publish_the_current_schema() -> None:
    """docs/rules.md carries the JSON Schema exactly as the code produces it."""
    assert json.loads(_docs_block("## JSON Schema")) == rules_json_schema()


def test_docs_list_every_operator() -> None:
    """docs/rules.md names every operator's machine name."""
    text = DOCS.read_text(encoding="utf-8")
    assert all(f"`{op.value}`" in text for op in Operator)
