"""Paths into an answer (``result.code``, ``items[0]``, ``add_ons["a.b"]``) and XML as data.

A path is a dotted list of keys; ``[n]`` indexes a list (negative from the end) and
``["key"]`` names a key holding dots or spaces. An XML answer is read as the data of its root
element: an element with only text is that text; otherwise a table of its children by tag
(repeated tags a list), its attributes as ``@name`` and its own text as ``#text``.
"""

from __future__ import annotations

import re
from typing import Any, Final
from xml.etree import ElementTree as ET

__all__ = ["MISSING", "Path", "parse_path", "read_path", "xml_data"]

Path = tuple[str | int, ...]

MISSING: Final = object()
"""What :func:`read_path` returns when the path leads nowhere."""

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<key>[A-Za-z_@#][A-Za-z0-9_\-@#]*)
      | \[\s*(?P<index>-?[0-9]+)\s*\]
      | \[\s*"(?P<dq>(?:[^"\\]|\\.)*)"\s*\]
      | \[\s*'(?P<sq>(?:[^'\\]|\\.)*)'\s*\]
      | (?P<dot>\.)
    )""",
    re.VERBOSE,
)
_MAX_PATH: Final = 200


def parse_path(text: str) -> Path:
    """Read *text* into the keys and indexes it names.

    Raises:
        ValueError: It is not a path; the message says where.
    """
    if not text.strip() or len(text) > _MAX_PATH:
        raise ValueError(f"must be a path of 1 to {_MAX_PATH} characters")
    steps: list[str | int] = []
    position = 0
    need_step = True
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read the path {text!r} at character {position + 1}")
        position = match.end()
        if match["dot"]:
            if need_step:
                raise ValueError(f"the path {text!r} has an empty step at {position}")
            need_step = True
            continue
        if match["key"] is not None:
            if not need_step:
                raise ValueError(f"the path {text!r} needs a '.' before {match['key']!r}")
            steps.append(match["key"])
        elif match["index"] is not None:
            steps.append(int(match["index"]))
        else:
            quoted = match["dq"] if match["dq"] is not None else match["sq"]
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        need_step = False
    if need_step:
        raise ValueError(f"the path {text!r} ends with a '.'")
    return tuple(steps)


def read_path(data: Any, path: Path) -> Any:
    """The value at *path* in *data*, or :data:`MISSING`."""
    value = data
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list):
                # One XML element where several may come: [0] (or [-1]) is that element.
                if step in {0, -1} and value is not MISSING:
                    continue
                return MISSING
            if not -len(value) <= step < len(value):
                return MISSING
            value = value[step]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return MISSING
    return value


def xml_data(text: str) -> Any:
    """The data of an XML document's root element (see the module docstring).

    Raises:
        ValueError: It is not XML, or declares a DTD (entities are never expanded).
    """
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise ValueError("the XML answer declares a DTD, which is refused")
    try:
        root = ET.fromstring(text)  # noqa: S314 - no DTD (checked above), bounded size
        return _element(root)
    except ET.ParseError as exc:
        raise ValueError(f"the answer is not XML ({exc})") from None
    except RecursionError:
        raise ValueError("the XML answer nests too deep") from None


def _element(element: ET.Element) -> Any:
    children = list(element)
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    data: dict[str, Any] = {f"@{k}": v for k, v in element.attrib.items()}
    repeated: set[str] = set()
    for child in children:
        tag = child.tag.rsplit("}", 1)[-1]  # namespaces dropped: paths name local tags
        value = _element(child)
        if tag not in data:
            data[tag] = value
        elif tag in repeated:
            data[tag].append(value)  # in place: copying would make many children quadratic
        else:
            data[tag] = [data[tag], value]
            repeated.add(tag)
    if text:
        data["#text"] = text
    return data
