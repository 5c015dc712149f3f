"""The JSON Schema of a rule document is pinned byte for byte.

The fixture was captured from the schema builder before it was split into one function per
part; it fails on any change to the schema, keys and key order included. After an intended
change, regenerate it with ``.venv/bin/python tests/test_rules_schema_snapshot.py`` and review
the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from purecallerid import PURECALLERID_FIELDS, FieldRegistry, FieldSpec, rules_json_schema

FIXTURE = Path(__file__).parent / "fixtures" / "rules_json_schema.json"

# A registry without the extra. and lead. prefixes, so that every branch of the field schema
# is pinned.
CLOSED = FieldRegistry(
    integration="closed",
    fields=(FieldSpec(name="score", type="number"),),
    extra=False,
    lead=False,
)
REGISTRIES: dict[str, FieldRegistry | None] = {
    "generic": None,
    "purecallerid": PURECALLERID_FIELDS,
    "closed": CLOSED,
}


def _regenerate() -> None:
    data = {name: rules_json_schema(fields) for name, fields in REGISTRIES.items()}
    FIXTURE.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _pinned() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", list(REGISTRIES))
def test_schema_is_unchanged(name: str) -> None:
    """The schema, generic and per registry, is exactly the pinned one."""
    schema = rules_json_schema(REGISTRIES[name])
    pinned = _pinned()[name]
    assert json.dumps(schema, sort_keys=True) == json.dumps(pinned, sort_keys=True)
    # Key order too: admin UIs and the published docs show the schema as it is built.
    assert json.dumps(schema) == json.dumps(pinned)


def test_fixture_covers_every_registry() -> None:
    """The fixture holds exactly the schemas this module checks."""
    assert list(_pinned()) == list(REGISTRIES)


if __name__ == "__main__":
    _regenerate()
