"""Field mapping: a campaign's lead fields turned into a vendor payload, checked before any call.

In LeadExec an admin maps lead fields to vendor fields once per campaign, in a UI that every
data-validation integration shares. :class:`FieldMapping` is that mapping as data: for each
*target* (a vendor-side field: ``phone``, ``zip``, ``email`` ...) a :class:`FieldSource` says
where its value comes from (a lead field or dotted path, fallbacks tried in order, or a
constant), which :class:`Transform` cleans it, and whether it is required.

Mapping a lead either returns the whole payload or raises :class:`MappingError` listing every
problem at once, with values masked, so that an admin fixes a lead source in one go and no
paid call is spent on a lead that cannot be screened.

The mapping is compiled once, when it is built: mapping a lead walks a prepared plan and
re-reads no configuration.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from attrs import evolve, field, frozen

from ._converter import converter
from ._errors import ConfigurationError, InvalidPhoneError, InvalidZipError, MappingError
from ._models import Lead
from ._phone import (
    PhoneFormat,
    check_region,
    coerce_format,
    normalize_phone,
    parse_phone,
    render_phone,
)
from ._secrets import mask_phone
from ._zip import ZipFormat, check_zip_format, render_zip

__all__ = [
    "DEFAULT_FIELD_MAPPING",
    "FieldMapping",
    "FieldSource",
    "MappingProblem",
    "ProblemCode",
    "Transform",
]


class Transform(enum.StrEnum):
    """The closed set of transforms a :class:`FieldSource` may apply.

    Every text value is trimmed before any transform, and a value that is blank after
    trimming counts as missing.
    """

    PHONE = "phone"
    """Normalize a phone number (see :func:`purecallerid.format_phone`), rendered in the
    mapping's ``phone_format``."""

    ZIP = "zip"
    """Normalize a US ZIP code (see :func:`purecallerid.normalize_zip`), rendered in the
    mapping's ``zip_format``."""

    STRIP = "strip"
    """Collapse every run of inner whitespace to one space (``"Jane   Doe"``)."""

    UPPER = "upper"
    """Upper-case (``"tx"`` becomes ``"TX"``)."""

    LOWER = "lower"
    """Lower-case."""

    TITLE = "title"
    """Title-case, as Python's ``str.title`` (``"JANE"`` becomes ``"Jane"``)."""


class ProblemCode(enum.StrEnum):
    """What is wrong with one target of a lead."""

    MISSING = "missing"
    """A required target has no value in any of its sources."""

    INVALID_PHONE = "invalid_phone"
    """A value given for a phone target is not a valid phone number."""

    INVALID_ZIP = "invalid_zip"
    """A value given for a ZIP target is not a ZIP code."""

    INVALID_VALUE = "invalid_value"
    """A value has a type the target cannot take (a list where text is expected ...)."""


# The standard lead fields, mapped as text; any other target is passed through as posted.
TEXT_TARGETS: Final = (
    "phone",
    "zip",
    "first_name",
    "last_name",
    "address",
    "street",
    "city",
    "state",
)
# The identifiers that Credentials carries come from the integration, never from a lead.
RESERVED_TARGETS: Final = frozenset({"campaign_id", "list_name", "dialer_list_id"})
_ADDRESS_PARTS: Final = ("street", "city", "state")
_MASK_LENGTH = 24
# A list index in a dotted source path: nine digits is far beyond any posted list.
_MAX_INDEX_DIGITS: Final = 9
_SHOWN_PATH: Final = 60
MAX_EXTRA_DEPTH: Final = 32
"""How deep an extra (a passed-through value) may nest lists and objects.

Lead forms post flat values or shallow objects; the cap keeps checking (and later encoding)
a hostile or cyclic value bounded, and far below Python's recursion limit.
"""
MAX_EXTRA_ITEMS: Final = 10_000
"""How many values (leaves and containers) one extra may hold in all.

Without it, a small object that shares one list many times over (``[a, a]`` nested 30 deep)
would be a billion values to check and to send.
"""
# No field holds a 30-digit number, and str() of an int past 4,300 digits raises ValueError
# (Python's integer string conversion limit), which would break repr() and sending.
_MAX_INT_BITS: Final = 100


# -- FieldSource --------------------------------------------------------------------------


def _to_fallbacks(value: Sequence[str]) -> tuple[str, ...]:
    # Only an ordered list: a bare string would be read letter by letter, a dict by its keys,
    # and a set loses the order the fallbacks are tried in.
    checked: object = value
    if not isinstance(checked, list | tuple):
        raise ConfigurationError(
            f"fallbacks must be a list of field names, not {type(checked).__name__}"
        )
    return tuple(checked)


def _to_transform(value: Transform | str | None) -> Transform | None:
    if value is None:
        return None
    try:
        # A word, in any case, like the rule words: "UPPER" is upper.
        if isinstance(value, str):
            value = value.strip().lower()
        return Transform(value)
    except ValueError:
        choices = ", ".join(repr(t.value) for t in Transform)
        raise ConfigurationError(f"unknown transform {value!r}: use one of {choices}") from None


def _check_path(path: object, what: str) -> None:
    if not isinstance(path, str):
        raise ConfigurationError(f"{what} must be a field name, not {type(path).__name__}")
    if not path or path != path.strip() or "" in path.split("."):
        raise ConfigurationError(
            f"{what} {path!r} is not a field name: no blanks around it and no empty"
            " part between dots"
        )
    for part in path.split("."):
        # int() of a part of thousands of digits raises ValueError; no list is that long.
        if _is_index(part) and len(part) > _MAX_INDEX_DIGITS:
            raise ConfigurationError(
                f"{what} {_shown(path)}: a list index has at most {_MAX_INDEX_DIGITS} digits"
            )


def _shown(path: str) -> str:
    # A configuration message names the path, but not thousands of characters of it.
    return repr(path) if len(path) <= _SHOWN_PATH else repr(path[:_SHOWN_PATH]) + "..."


def _is_index(part: str) -> bool:
    # A path part made of digits indexes a list (when the value there is a list).
    return part.isdecimal()


def _encodable(text: str) -> bool:
    r"""Whether *text* can be encoded as UTF-8, as the request body will be.

    A lone surrogate (``"\ud800"``, from a badly decoded form post) is the only thing a
    Python string can hold that UTF-8 refuses. ``isascii`` is O(1), so ASCII text costs nothing.
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _blank(value: object) -> bool:
    return not isinstance(value, str) or not value.strip()


@frozen(kw_only=True)
class FieldSource:
    """Where one target's value comes from, and how it is cleaned.

    Give either *source* (with optional *fallbacks*) or *constant*.

    Attributes:
        source: The lead field to read: a name (``"phone"``) or a dotted path into nested
            values (``"contact.phones.0"``; a number indexes a list). A top-level field whose
            name contains dots is found before the path is walked.
        fallbacks: Fields read in order when *source* is missing, blank or invalid.
        constant: A fixed value, used for every lead (checked by the transform when the
            mapping is built).
        transform: The :class:`Transform` to apply, or ``None``. Left ``None``, the
            ``phone`` and ``zip`` targets use the phone and ZIP transforms.
        required: Whether a lead without a value is an error. Left ``None``, the ``phone``
            and ``zip`` targets are required and the others are not.
    """

    source: str | None = None
    fallbacks: tuple[str, ...] = field(default=(), converter=_to_fallbacks)
    constant: str | None = None
    transform: Transform | None = field(default=None, converter=_to_transform)
    required: bool | None = None

    def __attrs_post_init__(self) -> None:
        """Refuse a source that could never yield a value."""
        if (self.source is None) == (self.constant is None):
            raise ConfigurationError("give either a source field or a constant (exactly one)")
        if self.source is not None:
            _check_path(self.source, "source")
        for fallback in self.fallbacks:
            _check_path(fallback, "fallback")
        if self.constant is not None:
            if self.fallbacks:
                raise ConfigurationError("a constant takes no fallbacks")
            if _blank(self.constant):
                raise ConfigurationError("a constant must be non-blank text")
        if self.required is not None and not isinstance(self.required, bool):
            raise ConfigurationError(
                f"required must be true or false, not {type(self.required).__name__}"
            )

    @property
    def paths(self) -> tuple[str, ...]:
        """The lead fields read, in order (empty for a constant)."""
        return () if self.source is None else (self.source, *self.fallbacks)


# -- problems and the error ---------------------------------------------------------------


@frozen(kw_only=True)
class MappingProblem:
    """One reason a lead cannot be mapped.

    Attributes:
        target: The target field (``"phone"``).
        code: What is wrong (:class:`ProblemCode`).
        sources: Every lead field that was tried, in order.
        source: The field holding the offending value; ``None`` for a missing value.
        value: The offending value, masked (a phone keeps its last four digits; other text
            keeps only its shape: ``9`` per digit, ``A`` per letter); ``None`` when missing.
        message: Why, in words an admin can act on.
    """

    target: str
    code: ProblemCode
    sources: tuple[str, ...]
    source: str | None = None
    value: str | None = None
    message: str

    def __str__(self) -> str:
        """One line: target, code, where, masked value and why."""
        if self.code is ProblemCode.MISSING:
            return f"{self.target}: {self.code} ({self.message})"
        return f"{self.target}: {self.code} ({self.source} = {self.value} {self.message})"


# -- value handling (per lead: keep it lean) ----------------------------------------------


class _InvalidValueError(ValueError):
    """A value the target cannot take; the message is a predicate ("is a list, ...")."""


_ABSENT: Final[Any] = object()
_CONVERT_ERRORS: Final = (InvalidPhoneError, InvalidZipError, _InvalidValueError)


_NOT_UNICODE: Final = (
    "contains a lone surrogate (text that is not valid Unicode), which cannot be sent"
)


def _text(value: Any) -> str:
    if isinstance(value, str):
        if not (value.isascii() or _encodable(value)):  # isascii first: the usual case, O(1)
            raise _InvalidValueError(_NOT_UNICODE)
        return value
    if isinstance(value, bool):
        raise _InvalidValueError("is true or false, expected text")
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise _InvalidValueError("is a number too large to be a field value")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _InvalidValueError("is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    raise _InvalidValueError(f"is a {type(value).__name__}, expected text or a number")


def _json_scalar(value: Any, verb: str = "is") -> Any:
    # *verb* is "is" for the extra itself and "holds" for a value inside a list or object.
    if isinstance(value, str):
        if not (value.isascii() or _encodable(value)):
            raise _InvalidValueError(_NOT_UNICODE)
        return value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise _InvalidValueError(f"{verb} a number too large to be a field value")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _InvalidValueError(f"{verb} a number that is not finite")
        return value
    article = "an" if type(value).__name__[:1] in "aeiou" else "a"
    raise _InvalidValueError(f"{verb} {article} {type(value).__name__}, not a JSON value")


def _json_value(value: Any) -> Any:
    """Check that an extra can be sent as JSON, and return a plain copy of it to send.

    Extras are passed through as posted, so every part must survive encoding to the vendor
    (``json.dumps(..., allow_nan=False)`` then UTF-8) and ``repr``. Lists and objects are
    copied into plain ``list`` and ``dict`` (``json`` refuses other mapping types, and the
    request must not change when the caller later edits its lead). The walk is iterative and
    capped (:data:`MAX_EXTRA_DEPTH` levels, :data:`MAX_EXTRA_ITEMS` values), so a cyclic or
    hostile value is refused rather than exhausting the stack.
    """
    # Scalars first, without the slow isinstance check against the Mapping ABC: nearly every
    # extra is a string or a number.
    if (
        value is None
        or isinstance(value, str | int | float)
        or not isinstance(value, list | tuple | Mapping)
    ):
        return _json_scalar(value)
    root: list[Any] = [None]
    # Each entry: a container to copy, where its copy goes (parent and key), and its depth.
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 1)]
    budget = MAX_EXTRA_ITEMS
    while stack:
        source, parent, slot, depth = stack.pop()
        if depth > MAX_EXTRA_DEPTH:
            raise _InvalidValueError(
                f"nests lists or objects more than {MAX_EXTRA_DEPTH} levels deep"
                " (or contains itself)"
            )
        budget -= len(source) + 1
        if budget < 0:
            raise _InvalidValueError(f"holds more than {MAX_EXTRA_ITEMS} values")
        copy: Any
        if isinstance(source, Mapping):
            copy = {}
            for key, item in source.items():
                if not isinstance(key, str):
                    raise _InvalidValueError("holds an object whose keys are not all text")
                if not _encodable(key):
                    raise _InvalidValueError(_NOT_UNICODE)
                copy[key] = _json_item(item, copy, key, depth, stack)
        else:
            copy = [None] * len(source)
            for index, item in enumerate(source):
                copy[index] = _json_item(item, copy, index, depth, stack)
        parent[slot] = copy
    return root[0]


def _json_item(
    item: Any, parent: Any, slot: Any, depth: int, stack: list[tuple[Any, Any, Any, int]]
) -> Any:
    # A container is queued (its copy is written into parent[slot] when it is taken); a
    # scalar is checked now.
    if isinstance(item, list | tuple | Mapping):
        stack.append((item, parent, slot, depth + 1))
        return None
    return _json_scalar(item, "holds")


def _shape(text: str) -> str:
    shape = "".join(
        "9" if ch.isdigit() else "A" if ch.isalpha() else ch if ch.isprintable() else "?"
        for ch in text[:_MASK_LENGTH]
    )
    return shape + ("..." if len(text) > _MASK_LENGTH else "")


def _mask_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(_shape(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _shape(_safe_str(value))
    return f"<{type(value).__name__}>"


def _mask_phone_value(value: Any) -> str:
    if isinstance(value, str):
        return mask_phone(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return mask_phone(_safe_str(value))
    return f"<{type(value).__name__}>"


def _safe_str(value: float) -> str:
    # str() of a very large int is refused by Python (and a huge number is no phone anyway).
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return "9" * _MASK_LENGTH
    return str(value)


_TEXT_TRANSFORMS: Final[Mapping[Transform, Callable[[str], str]]] = {
    Transform.STRIP: lambda text: " ".join(text.split()),
    Transform.UPPER: str.upper,
    Transform.LOWER: str.lower,
    Transform.TITLE: str.title,
}


def _walk(fields: Mapping[str, Any], path: str, steps: tuple[tuple[str, int | None], ...]) -> Any:
    found = fields.get(path, _ABSENT)
    if found is not _ABSENT:
        return found
    current: Any = fields
    for key, index in steps:
        if isinstance(current, Mapping):
            current = current.get(key, _ABSENT)
            if current is _ABSENT:
                return _ABSENT
        elif index is not None and isinstance(current, list | tuple) and index < len(current):
            current = current[index]
        else:
            return _ABSENT
    return current


@frozen
class _Step:
    """One target, compiled: what the per-lead loop needs and nothing else."""

    target: str
    lookups: tuple[tuple[str, tuple[tuple[str, int | None], ...] | None], ...]
    constant: Any
    convert: Callable[[Any], Any]
    required: bool
    code: ProblemCode
    mask: Callable[[Any], str]
    paths: tuple[str, ...]


def _compile_path(path: str) -> tuple[str, tuple[tuple[str, int | None], ...] | None]:
    # _check_path has capped index parts at _MAX_INDEX_DIGITS, so int() cannot fail here.
    if "." not in path:
        return (path, None)
    steps = tuple((part, int(part) if _is_index(part) else None) for part in path.split("."))
    return (path, steps)


# -- FieldMapping -------------------------------------------------------------------------


def _to_targets(value: Mapping[str, FieldSource]) -> Mapping[str, FieldSource]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"targets must map target names to sources, not {type(value).__name__}"
        )
    return dict(value)


def _to_region(value: str) -> str:
    return check_region(value)


def _to_phone_format(value: PhoneFormat | str | None) -> PhoneFormat | None:
    # None stays None: it means "the region's default" and must survive a round trip.
    return None if value is None else coerce_format(value, "US")


@frozen(kw_only=True)
class FieldMapping:
    """A campaign's mapping from lead fields to a vendor's fields.

    Configure it as data (``purecallerid.converter.structure(data, FieldMapping)`` reads the
    JSON or TOML shape shown in the docs) or in code; it is checked and compiled when built,
    so a mistake is a :class:`purecallerid.ConfigurationError` at load time, not a failed lead.

    Attributes:
        targets: Target field name to :class:`FieldSource`, in payload order. ``phone`` is
            mandatory for a screening request; ``campaign_id``, ``list_name`` and
            ``dialer_list_id`` are reserved (they come from the credentials).
        phone_region: The region of numbers written without a country code (ISO 3166, ``US``).
        phone_format: How phone targets are written; ``None`` means national digits for NANP
            regions and E.164 elsewhere.
        zip_format: How ZIP targets are written: five digits or ZIP+4.
        compose_address: When no ``address`` value is mapped, write one as
            ``"street, city, state"`` from whichever of those targets have a value.
    """

    targets: Mapping[str, FieldSource] = field(converter=_to_targets)
    phone_region: str = field(default="US", converter=_to_region)
    phone_format: PhoneFormat | None = field(default=None, converter=_to_phone_format)
    zip_format: ZipFormat = field(default=ZipFormat.FIVE, converter=check_zip_format)
    compose_address: bool = True
    _plan: tuple[_Step, ...] = field(init=False, eq=False, repr=False)
    _phone_step: _Step | None = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Check the targets and compile the per-lead plan."""
        if not isinstance(self.compose_address, bool):
            raise ConfigurationError("compose_address must be true or false")
        plan = tuple(self._compile(name, spec) for name, spec in self.targets.items())
        object.__setattr__(self, "_plan", plan)
        # Found once: every screening reads the phone by it (the record is kept by phone).
        phone = next((step for step in plan if step.target == "phone"), None)
        object.__setattr__(self, "_phone_step", phone)

    def _compile(self, target: object, spec: object) -> _Step:
        if (
            not isinstance(target, str)
            or not target
            or target != target.strip()
            or not _encodable(target)
        ):
            raise ConfigurationError(f"target {target!r} is not a field name")
        where = f"targets.{target}"
        if not isinstance(spec, FieldSource):
            raise ConfigurationError(f"{where}: expected a FieldSource, not {type(spec).__name__}")
        if target in RESERVED_TARGETS:
            raise ConfigurationError(
                f"{where}: {target} comes from the integration's credentials, not from the lead"
            )
        transform = spec.transform
        if target in {"phone", "zip"}:
            expected = Transform.PHONE if target == "phone" else Transform.ZIP
            if transform not in {None, expected}:
                raise ConfigurationError(
                    f"{where}: the {target} target takes the {expected} transform"
                )
            transform = expected
        required = spec.required
        if target == "phone" and required is False:
            raise ConfigurationError(f"{where}: the phone target is always required")
        if required is None:
            required = target in {"phone", "zip"}
        convert, code, mask = self._converter_for(target, transform)
        constant = _ABSENT
        if spec.constant is not None:
            try:
                constant = convert(spec.constant.strip())
            except _CONVERT_ERRORS as exc:
                raise ConfigurationError(f"{where}: the constant {exc}") from None
        return _Step(
            target=target,
            lookups=tuple(_compile_path(path) for path in spec.paths),
            constant=constant,
            convert=convert,
            required=required,
            code=code,
            mask=mask,
            paths=spec.paths,
        )

    def _converter_for(
        self, target: str, transform: Transform | None
    ) -> tuple[Callable[[Any], Any], ProblemCode, Callable[[Any], str]]:
        if transform is Transform.PHONE:
            region = self.phone_region
            style = coerce_format(self.phone_format, region)

            def phone(value: Any) -> str:
                return render_phone(parse_phone(value, region), style, region)

            return phone, ProblemCode.INVALID_PHONE, _mask_phone_value
        if transform is Transform.ZIP:
            style_zip = self.zip_format

            def zip_code(value: Any) -> str:
                return render_zip(value, style_zip)

            return zip_code, ProblemCode.INVALID_ZIP, _mask_value
        if transform is not None:
            text_transform = _TEXT_TRANSFORMS[transform]
            return (
                lambda v: text_transform(_text(v)),
                ProblemCode.INVALID_VALUE,
                _mask_value,
            )
        # The standard lead fields are text; anything else is passed through as posted.
        keep = _text if target in TEXT_TARGETS else _json_value
        return keep, ProblemCode.INVALID_VALUE, _mask_value

    def with_targets(self, changes: Mapping[str, FieldSource | None]) -> FieldMapping:
        """Return a copy with targets added or replaced, and those mapped to ``None`` removed.

        >>> from purecallerid import DEFAULT_FIELD_MAPPING, FieldSource
        >>> optional_zip = FieldSource(source="zip", required=False)
        >>> m = DEFAULT_FIELD_MAPPING.with_targets({"zip": optional_zip})
        >>> m.targets["zip"].required
        False
        """
        targets = dict(self.targets)
        for name, spec in changes.items():
            if spec is None:
                targets.pop(name, None)
            else:
                targets[name] = spec
        return evolve(self, targets=targets)

    def phone_e164(self, lead: Lead | Mapping[str, Any]) -> str | None:
        """The lead's phone as this mapping reads it, in E.164; ``None`` when there is none.

        Only the ``phone`` target is resolved (its first usable source); no problem is raised.
        Records are found by this value.
        """
        fields = lead.fields if isinstance(lead, Lead) else lead
        step = self._phone_step
        if step is None:
            return None
        if step.constant is not _ABSENT:
            return self._e164(step.constant)
        for path, steps in step.lookups:
            value = fields.get(path) if steps is None else _walk(fields, path, steps)
            if value is None or value is _ABSENT:
                continue
            # One parse per lead: the first source that holds a valid phone, as the mapping
            # reads it, straight to E.164.
            phone = self._e164(value)
            if phone is not None:
                return phone
        return None

    def _e164(self, value: object) -> str | None:
        try:
            return normalize_phone(value, region=self.phone_region)
        except (InvalidPhoneError, ConfigurationError, TypeError, ValueError):
            return None

    def map_payload(self, lead: Lead | Mapping[str, Any]) -> dict[str, Any]:
        """Map *lead* to the generic payload: target name to cleaned value.

        Targets without a value are left out. Phones and ZIP codes are text in the configured
        formats; extras are passed through as posted (text trimmed).

        Args:
            lead: A :class:`purecallerid.Lead`, or its fields as a mapping.

        Raises:
            MappingError: At least one target is missing or invalid; lists them all.
        """
        fields, lead_id = (lead.fields, lead.lead_id) if isinstance(lead, Lead) else (lead, None)
        payload, problems = self._apply(fields)
        if problems:
            raise MappingError(problems, lead_id)
        return payload

    def _apply(self, fields: Mapping[str, Any]) -> tuple[dict[str, Any], list[MappingProblem]]:
        out: dict[str, Any] = {}
        problems: list[MappingProblem] = []
        for step in self._plan:
            if step.constant is not _ABSENT:
                out[step.target] = step.constant
            else:
                problems.extend(_resolve(step, fields, out))
        if self.compose_address and "address" not in out:
            problems = _compose_address(out, problems)
        return out, problems


def _resolve(step: _Step, fields: Mapping[str, Any], out: dict[str, Any]) -> list[MappingProblem]:
    """Write *step*'s value into *out* from the first usable source; return its problems."""
    bad: list[MappingProblem] = []
    for path, steps in step.lookups:
        value = fields.get(path, _ABSENT) if steps is None else _walk(fields, path, steps)
        if value is None or value is _ABSENT:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        try:
            out[step.target] = step.convert(value)
        except _CONVERT_ERRORS as exc:
            # Keep looking: a valid fallback beats rejecting the lead for one bad field.
            bad.append(_invalid(step, path, value, str(exc)))
            continue
        return []
    if not bad and step.required:
        return [_missing(step)]
    return bad


def _compose_address(out: dict[str, Any], problems: list[MappingProblem]) -> list[MappingProblem]:
    parts = [out[name] for name in _ADDRESS_PARTS if name in out]
    if not parts:
        return problems
    out["address"] = ", ".join(parts)
    # A composed address satisfies a required address target.
    return [p for p in problems if not (p.target == "address" and p.code is ProblemCode.MISSING)]


def _missing(step: _Step) -> MappingProblem:
    tried = ", ".join(step.paths)
    return MappingProblem(
        target=step.target,
        code=ProblemCode.MISSING,
        sources=step.paths,
        message=f"required; no value in {tried}",
    )


def _invalid(step: _Step, path: str, value: Any, message: str) -> MappingProblem:
    return MappingProblem(
        target=step.target,
        code=step.code,
        sources=step.paths,
        source=path,
        value=step.mask(value),
        message=message,
    )


# -- serialisation ------------------------------------------------------------------------

_SOURCE_KEYS: Final = ("source", "fallbacks", "constant", "transform", "required")
_MAPPING_KEYS: Final = ("targets", "phone_region", "phone_format", "zip_format", "compose_address")


def _check_keys(data: object, allowed: tuple[str, ...], where: str, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{where}: expected {what}, not {type(data).__name__}")
    # A misspelt key ("fallback") would otherwise be ignored and the mapping silently differ.
    unknown = sorted(str(key) for key in data if key not in allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key {', '.join(map(repr, unknown))}; expected {', '.join(allowed)}"
        )
    return data


def _structure_source(data: object, where: str) -> FieldSource:
    # A bare string is shorthand for {"source": name}: `first_name = "FirstName"` in TOML.
    if isinstance(data, str):
        data = {"source": data}
    values = _check_keys(data, _SOURCE_KEYS, where, "a field name or a table of source settings")
    try:
        return FieldSource(**values)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from None


def structure_mapping(data: object) -> FieldMapping:
    """Read a :class:`FieldMapping` from its JSON/TOML shape (the converter's structure hook).

    Raises:
        ConfigurationError: The data is not a valid mapping; the message names the key.
    """
    values = dict(_check_keys(data, _MAPPING_KEYS, "mapping", "a table of mapping settings"))
    targets = values.pop("targets", None)
    if not isinstance(targets, Mapping):
        raise ConfigurationError("mapping: 'targets' must be a table of target names to sources")
    sources = {name: _structure_source(spec, f"targets.{name}") for name, spec in targets.items()}
    try:
        return FieldMapping(targets=sources, **values)
    except ConfigurationError as exc:
        raise ConfigurationError(f"mapping: {exc}") from None


def unstructure_source(source: FieldSource) -> dict[str, Any]:
    """Write *source* as a JSON/TOML-shaped dict, leaving out unset settings (TOML has no null)."""
    out: dict[str, Any] = {}
    if source.source is not None:
        out["source"] = source.source
    if source.fallbacks:
        out["fallbacks"] = list(source.fallbacks)
    if source.constant is not None:
        out["constant"] = source.constant
    if source.transform is not None:
        out["transform"] = source.transform.value
    if source.required is not None:
        out["required"] = source.required
    return out


def unstructure_mapping(mapping: FieldMapping) -> dict[str, Any]:
    """Write *mapping* as a JSON/TOML-shaped dict (inverse of :func:`structure_mapping`)."""
    out: dict[str, Any] = {
        "targets": {name: unstructure_source(spec) for name, spec in mapping.targets.items()},
        "phone_region": mapping.phone_region,
        "zip_format": mapping.zip_format.value,
        "compose_address": mapping.compose_address,
    }
    if mapping.phone_format is not None:
        out["phone_format"] = mapping.phone_format.value
    return out


converter.register_unstructure_hook(FieldSource, unstructure_source)
converter.register_structure_hook(FieldSource, lambda data, _: _structure_source(data, "source"))
converter.register_unstructure_hook(FieldMapping, unstructure_mapping)
converter.register_structure_hook(FieldMapping, lambda data, _: structure_mapping(data))


# -- the default mapping ------------------------------------------------------------------

DEFAULT_FIELD_MAPPING: Final = FieldMapping(
    targets={
        "phone": FieldSource(
            source="phone",
            fallbacks=(
                "phone_home",
                "phone_cell",
                "phone_mobile",
                "phone_work",
                "home_phone",
                "cell_phone",
                "mobile_phone",
                "work_phone",
                "phone_number",
                "phone1",
                "Phone",
                "HomePhone",
                "CellPhone",
                "MobilePhone",
                "WorkPhone",
                "PhoneNumber",
            ),
        ),
        "zip": FieldSource(
            source="zip",
            fallbacks=("zip_code", "zipcode", "postal_code", "Zip", "ZipCode", "PostalCode"),
        ),
        "first_name": FieldSource(
            source="first_name", fallbacks=("firstname", "fname", "FirstName"), transform="strip"
        ),
        "last_name": FieldSource(
            source="last_name", fallbacks=("lastname", "lname", "LastName"), transform="strip"
        ),
        "street": FieldSource(
            source="street",
            fallbacks=("address", "address1", "street_address", "Address", "Address1", "Street"),
            transform="strip",
        ),
        "city": FieldSource(source="city", fallbacks=("City",), transform="strip"),
        "state": FieldSource(source="state", fallbacks=("state_code", "State"), transform="upper"),
        "email": FieldSource(source="email", fallbacks=("email_address", "Email", "EmailAddress")),
    }
)
"""A mapping for the field names LeadExec lead types commonly use (snake_case and PascalCase).

Phone and ZIP are required; names, street, city and state are cleaned; ``address`` is
composed from street, city and state; ``email`` passes through as an extra. Adapt it with
:meth:`FieldMapping.with_targets`.
"""
