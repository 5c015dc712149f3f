"""Vendor presets: a vendor's ``http`` table, mapping, rules and test answers, as data.

Each preset is one TOML file in ``presets/``, written from the vendor's public API
documentation (cited in its ``source``). A campaign enables one with ``kind = "<name>"`` and
its credentials; an ``http`` table in the campaign changes the preset key by key. The test
answers (``[fakes]``, by the line of a 555-01NN test number) serve the simulator and the
testing helpers, never production.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from importlib import resources
from typing import Any, Final

from attrs import field, frozen

from ..._mapping import FieldMapping, structure_mapping
from .definition import load_definition

__all__ = ["PRESET_NAMES", "Preset", "preset_named", "presets"]

_KEYS: Final = frozenset(
    {"name", "vendor", "source", "base_url", "mapping", "http", "rules", "fakes", "summary"}
)


def _as_dict(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class Preset:
    """One vendor preset.

    Attributes:
        name: The kind name campaigns use (``"trestle"``).
        vendor: The vendor's name, for messages and records.
        summary: One line: what the preset checks.
        source: The vendor's public API documentation the preset follows.
        base_url: The vendor's API host.
        mapping: The request fields from the lead (the phone, in the vendor's format).
        http: The ``http`` table (see "Configuring an HTTP vendor").
        rules: Recommended rules, in the text form.
        fakes: Test answers by test-number line (``"0101"``): ``{status, body, headers}``.
    """

    name: str
    vendor: str
    summary: str
    source: str
    base_url: str
    mapping: FieldMapping
    http: Mapping[str, Any] = field(converter=_as_dict)
    rules: str = ""
    fakes: Mapping[str, Mapping[str, Any]] = field(factory=dict, converter=_as_dict)


def _read(name: str) -> Preset:
    text = resources.files(__package__).joinpath("presets", f"{name}.toml").read_text("utf-8")
    data = tomllib.loads(text)
    unknown = set(data) - _KEYS
    if unknown:  # a packaging mistake, caught by the preset tests
        raise ValueError(f"preset {name}: unknown keys {sorted(unknown)}")
    load_definition(data["http"])  # checked whole: a broken preset never ships
    return Preset(
        name=data["name"],
        vendor=data["vendor"],
        summary=data["summary"],
        source=data["source"],
        base_url=data["base_url"],
        mapping=structure_mapping(data["mapping"]),
        http=data["http"],
        rules=data.get("rules", ""),
        fakes=data.get("fakes", {}),
    )


PRESET_NAMES: Final = (
    "trestle",
    "twilio",
    "blacklist_alliance",
    "dncscrub",
    "realvalidation",
    "ipqs",
)
"""The presets the library ships, by kind name."""


@functools.cache
def presets() -> tuple[Preset, ...]:
    """Every preset the library ships, read once."""
    return tuple(_read(name) for name in PRESET_NAMES)


def preset_named(name: str) -> Preset:
    """The preset called *name*.

    Raises:
        KeyError: There is none.
    """
    for preset in presets():
        if preset.name == name:
            return preset
    raise KeyError(name)
