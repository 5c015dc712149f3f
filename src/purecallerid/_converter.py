"""The library's own cattrs converter: every model to and from JSON-shaped data.

One converter, owned here and never the global one, so that hosts registering their own hooks
on ``cattrs.global_converter`` cannot change what the library reads or writes. Datetimes
travel as ISO 8601 strings, tuples as lists, mappings as dicts.

Each model registers its own hooks where it is defined (the field mapping in ``_mapping.py``,
rules in ``_rules/ruleset.py``, PureCallerID's answer in ``_integrations/purecallerid/wire.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import cattrs

__all__ = ["converter"]

converter: Final = cattrs.Converter(forbid_extra_keys=False)
"""The library-owned converter. Use it to store records and settings as JSON."""

converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_structure_hook(datetime, lambda value, _: _parse_datetime(value))


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    return datetime.fromisoformat(value)
