"""Field mapping: lead fields to a vendor payload, every problem reported at once."""

from __future__ import annotations

import json
import pickle
import tomllib
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from purecallerid import (
    DEFAULT_FIELD_MAPPING,
    ConfigurationError,
    FieldMapping,
    FieldSource,
    Lead,
    MappingError,
    MappingProblem,
    PhoneFormat,
    ProblemCode,
    PureCallerIDError,
    ScreeningRequest,
    Transform,
    ZipFormat,
    converter,
    map_request,
    mask_phone,
)
from purecallerid._mapping import MAX_EXTRA_DEPTH, MAX_EXTRA_ITEMS
from purecallerid.testing import FakePureCallerID

GOOD_FIELDS: dict[str, Any] = {
    "phone": "(512) 789-1111",
    "zip": "02134",
    "FirstName": "  Jane ",
    "last_name": "Doe",
    "address": "1 Main St",
    "city": "Boston",
    "state": "ma",
    "email": "jane@example.com",
    "lead_source": "web",
}


def lead(**fields: Any) -> Lead:
    """A lead with *fields* as posted."""
    return Lead(lead_id="L-1", campaign_id="camp", fields=fields)


def mapping(**targets: FieldSource) -> FieldMapping:
    """A mapping of *targets*, with a phone target unless one is given."""
    return FieldMapping(targets={"phone": FieldSource(source="phone"), **targets})


def problems_of(mapper: FieldMapping, fields: dict[str, Any]) -> tuple[MappingProblem, ...]:
    """The problems mapping *fields* raises (fails the test if it maps)."""
    with pytest.raises(MappingError) as caught:
        map_request(mapper, lead(**fields))
    return caught.value.problems


def _nest(depth: int, leaf: Any = "x") -> Any:
    """*leaf* inside *depth* levels of lists and objects, alternately."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _cyclic(kind: str) -> Any:
    """A list or an object that contains itself."""
    if kind == "list":
        items: list[Any] = ["x"]
        items.append(items)
        return items
    table: dict[str, Any] = {"a": 1}
    table["self"] = table
    return table


def encode_like_httpx(request: ScreeningRequest) -> bytes:
    """Every request field as JSON bytes, the way httpx encodes a request body."""
    body = {f.name: getattr(request, f.name) for f in attrs.fields(ScreeningRequest)}
    body["extra"] = dict(request.extra)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )


_GOOD = {"phone": "2125550102", "zip": "02134"}


# -- the default mapping -------------------------------------------------------------------


def test_default_mapping_maps_a_typical_leadexec_lead() -> None:
    """Common field names fill every request attribute; email becomes an extra."""
    request = map_request(
        DEFAULT_FIELD_MAPPING,
        lead(**GOOD_FIELDS),
        campaign_id="C-9",
        list_name="Main",
        dialer_list_id="42",
    )
    assert request == ScreeningRequest(
        phone="5127891111",
        zip="02134",
        first_name="Jane",
        last_name="Doe",
        address="1 Main St, Boston, MA",
        street="1 Main St",
        city="Boston",
        state="MA",
        extra={"email": "jane@example.com"},
        campaign_id="C-9",
        list_name="Main",
        dialer_list_id="42",
    )


def test_vendor_identifiers_default_to_none() -> None:
    """campaign_id, list_name and dialer_list_id are left None unless passed."""
    request = map_request(DEFAULT_FIELD_MAPPING, lead(phone="5127891111", zip="02134"))
    assert (request.campaign_id, request.list_name, request.dialer_list_id) == (None, None, None)


def test_default_mapping_requires_phone_and_zip() -> None:
    """An empty lead misses exactly phone and zip."""
    problems = problems_of(DEFAULT_FIELD_MAPPING, {})
    assert [(p.target, p.code) for p in problems] == [
        ("phone", ProblemCode.MISSING),
        ("zip", ProblemCode.MISSING),
    ]


def test_default_mapping_reads_pascal_case_names() -> None:
    """PascalCase LeadExec names are among the fallbacks."""
    request = map_request(
        DEFAULT_FIELD_MAPPING,
        lead(PhoneNumber="512-789-1111", ZipCode="02134", LastName="Doe", State="tx"),
    )
    assert (request.phone, request.zip, request.last_name, request.state) == (
        "5127891111",
        "02134",
        "Doe",
        "TX",
    )


# -- sources and fallbacks -----------------------------------------------------------------


def test_fallbacks_are_tried_in_order() -> None:
    """The first fallback with a value wins over later ones."""
    mapper = mapping(phone=FieldSource(source="phone", fallbacks=("phone_cell", "phone_work")))
    request = map_request(mapper, lead(phone_work="212-555-0101", phone_cell="212-555-0102"))
    assert request.phone == "2125550102"


@pytest.mark.parametrize("blank", [None, "", "   ", "\t\n"])
def test_blank_values_count_as_missing(blank: object) -> None:
    """None and whitespace-only text are skipped like an absent field."""
    mapper = mapping(phone=FieldSource(source="phone", fallbacks=("phone_cell",)))
    assert map_request(mapper, lead(phone=blank, phone_cell="2125550102")).phone == "2125550102"


def test_an_invalid_source_gives_way_to_a_valid_fallback() -> None:
    """A garbled home phone does not reject a lead whose cell phone is valid."""
    mapper = mapping(phone=FieldSource(source="phone", fallbacks=("phone_cell",)))
    assert map_request(mapper, lead(phone="n/a", phone_cell="2125550102")).phone == "2125550102"


def test_values_are_trimmed() -> None:
    """Surrounding whitespace never reaches the vendor."""
    mapper = mapping(city=FieldSource(source="city"))
    assert map_request(mapper, lead(phone="2125550102", city="  Austin \n")).city == "Austin"


def test_dotted_path_reads_nested_values() -> None:
    """'contact.phones.1' walks into mappings and list indexes."""
    mapper = FieldMapping(targets={"phone": FieldSource(source="contact.phones.1")})
    fields = {"contact": {"phones": ["bad", "212-555-0103"]}}
    assert map_request(mapper, lead(**fields)).phone == "2125550103"


def test_a_dotted_top_level_name_wins_over_the_path() -> None:
    """A field literally named 'contact.phone' is read before walking 'contact'."""
    mapper = FieldMapping(targets={"phone": FieldSource(source="contact.phone")})
    fields = {"contact.phone": "212-555-0104", "contact": {"phone": "212-555-0105"}}
    assert map_request(mapper, lead(**fields)).phone == "2125550104"


@pytest.mark.parametrize(
    "fields",
    [
        {"contact": "212-555-0105"},
        {"contact": ["212-555-0105"]},
        {"contact": {"phones": ["212-555-0105"]}},
    ],
)
def test_a_path_that_does_not_fit_the_lead_is_missing(fields: dict[str, Any]) -> None:
    """Walking into text, a short list or a wrong key finds nothing."""
    mapper = FieldMapping(targets={"phone": FieldSource(source="contact.phones.3")})
    assert [p.code for p in problems_of(mapper, fields)] == [ProblemCode.MISSING]


def test_a_constant_is_used_for_every_lead() -> None:
    """A constant target ignores the lead and goes through its transform once."""
    mapper = mapping(
        state=FieldSource(constant="tx", transform="upper"),
        source=FieldSource(constant="leadexec"),
    )
    request = map_request(mapper, lead(phone="2125550102", state="CA"))
    assert (request.state, request.extra) == ("TX", {"source": "leadexec"})


def test_an_invalid_constant_fails_when_the_mapping_is_built() -> None:
    """A constant the transform refuses is a configuration error, not a per-lead one."""
    with pytest.raises(ConfigurationError, match=r"targets\.zip: the constant has 4 digits"):
        mapping(zip=FieldSource(constant="2134"))


# -- transforms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "raw", "expected"),
    [
        (None, "  jane   DOE ", "jane   DOE"),
        ("strip", "  jane   DOE ", "jane DOE"),
        ("upper", " tx ", "TX"),
        ("lower", "Jane@Example.COM", "jane@example.com"),
        ("title", "JANE DOE", "Jane Doe"),
        (None, 42, "42"),
        (None, 4.5, "4.5"),
    ],
)
def test_text_transforms(transform: str | None, raw: object, expected: str) -> None:
    """Each named transform applies to trimmed text; numbers become text."""
    mapper = mapping(first_name=FieldSource(source="name", transform=transform))
    assert map_request(mapper, lead(phone="2125550102", name=raw)).first_name == expected


@pytest.mark.parametrize("raw", [["Jane"], {"first": "Jane"}, True, float("inf"), b"Jane"])
def test_a_text_target_refuses_values_that_are_not_text(raw: object) -> None:
    """A list, object, boolean, infinity or bytes for a name is invalid_value."""
    mapper = mapping(first_name=FieldSource(source="name", transform="title"))
    problems = problems_of(mapper, {"phone": "2125550102", "name": raw})
    assert [(p.target, p.code) for p in problems] == [("first_name", ProblemCode.INVALID_VALUE)]


def test_unknown_transform_is_refused_with_the_closed_set() -> None:
    """Only the named transforms exist; the error lists them."""
    with pytest.raises(ConfigurationError, match="'phone', 'zip', 'strip', 'upper'"):
        FieldSource(source="x", transform="reverse")


def test_phone_format_and_region_are_configurable() -> None:
    """phone_format picks the rendering; phone_region reads national numbers."""
    mapper = FieldMapping(
        targets={"phone": FieldSource(source="phone")},
        phone_region="GB",
        phone_format=PhoneFormat.DIGITS,
    )
    assert map_request(mapper, lead(phone="020 7946 0958")).phone == "442079460958"


def test_non_nanp_region_defaults_to_e164() -> None:
    """Without a phone_format, a GB mapping sends E.164."""
    mapper = FieldMapping(targets={"phone": FieldSource(source="phone")}, phone_region="GB")
    assert map_request(mapper, lead(phone="020 7946 0958")).phone == "+442079460958"


def test_zip_plus4_is_configurable() -> None:
    """zip_format='zip+4' keeps the four extra digits."""
    mapper = FieldMapping(
        targets={"phone": FieldSource(source="phone"), "zip": FieldSource(source="zip")},
        zip_format="zip+4",
    )
    assert map_request(mapper, lead(phone="2125550102", zip="021341234")).zip == "02134-1234"


def test_other_targets_may_use_the_phone_transform() -> None:
    """A second phone target is normalized too and lands in extra."""
    mapper = mapping(alt_phone=FieldSource(source="phone2", transform="phone"))
    request = map_request(mapper, lead(phone="2125550102", phone2="+1 (212) 555-0103"))
    assert request.extra == {"alt_phone": "2125550103"}


# -- extras --------------------------------------------------------------------------------


def test_extras_pass_through_as_posted() -> None:
    """An unmapped-type extra keeps its JSON value: numbers, lists, objects."""
    mapper = mapping(score=FieldSource(source="score"), tags=FieldSource(source="meta"))
    meta = {"tags": ["a", "b"], "nested": {"ok": True, "n": 1.5}}
    request = map_request(mapper, lead(phone="2125550102", score=7, meta=meta))
    assert request.extra == {"score": 7, "tags": meta}


@pytest.mark.parametrize("raw", [b"bytes", {1: "x"}, [float("nan")], {"a": {1, 2}}])
def test_an_extra_must_be_a_json_value(raw: object) -> None:
    """Bytes, non-text keys, NaN or sets cannot be sent, so they are invalid_value."""
    mapper = mapping(meta=FieldSource(source="meta"))
    problems = problems_of(mapper, {"phone": "2125550102", "meta": raw})
    assert [(p.target, p.code) for p in problems] == [("meta", ProblemCode.INVALID_VALUE)]


def _shared(levels: int) -> list[Any]:
    """A small object that holds 2**levels values: one list shared twice at every level."""
    value: list[Any] = [1]
    for _ in range(levels):
        value = [value, value]
    return value


@pytest.mark.parametrize(
    ("target", "raw", "why"),
    [
        ("first_name", "Ann\ud800", "contains a lone surrogate"),
        ("meta", "a\udfffb", "contains a lone surrogate"),
        ("meta", {"\ud800": 1}, "contains a lone surrogate"),
        ("meta", ["ok", ["\udc80"]], "contains a lone surrogate"),
        ("meta", 10**5_000, "is a number too large"),
        ("meta", {"n": [10**40]}, "holds a number too large"),
        ("meta", _cyclic("list"), "more than 32 levels deep"),
        ("meta", _cyclic("object"), "more than 32 levels deep"),
        ("meta", _nest(5_000), "more than 32 levels deep"),
        ("meta", _nest(MAX_EXTRA_DEPTH + 1), "more than 32 levels deep"),
        ("meta", _shared(20), "more than 10000 values"),
    ],
    ids=[
        "surrogate-text-target",
        "surrogate-extra",
        "surrogate-key",
        "surrogate-nested",
        "huge-int",
        "huge-int-nested",
        "cyclic-list",
        "cyclic-object",
        "5000-deep",
        "33-deep",
        "shared-million",
    ],
)
def test_values_that_cannot_be_sent_are_invalid_value(target: str, raw: object, why: str) -> None:
    """What would fail at encoding or repr (or exhaust the stack) is refused when mapped."""
    mapper = mapping(first_name=FieldSource(source="first_name"), meta=FieldSource(source="meta"))
    problems = problems_of(mapper, {"phone": "2125550102", target: raw})
    assert [(p.target, p.code) for p in problems] == [(target, ProblemCode.INVALID_VALUE)]
    assert why in problems[0].message
    assert "\ud800" not in str(problems[0])  # the masked value is printable


def test_an_extra_nested_up_to_the_cap_is_sent() -> None:
    """MAX_EXTRA_DEPTH levels of lists and objects map and encode."""
    deepest = _nest(MAX_EXTRA_DEPTH, leaf="ünïcode")  # 32 lists and objects, one in another
    request = map_request(
        mapping(meta=FieldSource(source="meta")), lead(phone="2125550102", meta=deepest)
    )
    assert request.extra == {"meta": deepest}
    assert json.loads(encode_like_httpx(request))["extra"]["meta"] == deepest
    assert MAX_EXTRA_ITEMS == 10_000


def test_a_mapped_extra_is_a_plain_private_copy() -> None:
    """Extras are copied to plain lists and dicts: later edits of the lead do not change them."""
    posted: dict[str, Any] = {"tags": ["a"], "view": MappingProxyType({"k": (1, 2)})}
    request = map_request(
        mapping(meta=FieldSource(source="meta")), lead(phone="2125550102", meta=posted)
    )
    posted["tags"].append("b")
    assert request.extra == {"meta": {"tags": ["a"], "view": {"k": [1, 2]}}}
    assert type(request.extra["meta"]["view"]) is dict
    json.dumps(dict(request.extra))


@pytest.mark.parametrize("dialect", ["leadexec", "public"])
def test_text_that_cannot_be_encoded_never_reaches_the_transport(dialect: str) -> None:
    """A lone surrogate is a MappingError before the call; other Unicode is sent as is."""
    fake = FakePureCallerID()
    credentials = {"campaign_id": "C", "list_name": "L", "dialer_list_id": "7"}
    with pytest.raises(MappingError) as caught:
        map_request(DEFAULT_FIELD_MAPPING, lead(**_GOOD, first_name="\ud800"), **credentials)
    assert caught.value.codes == {ProblemCode.INVALID_VALUE}
    request = map_request(DEFAULT_FIELD_MAPPING, lead(**_GOOD, first_name="José 😀"), **credentials)
    with fake.client(dialect=dialect) as client:
        client.screen(request)
    [received] = fake.requests
    assert "José 😀" in received.fields.values()


def test_map_payload_returns_the_generic_payload() -> None:
    """map_payload gives target names to values, without vendor identifiers."""
    payload = DEFAULT_FIELD_MAPPING.map_payload(
        {"phone": "2125550102", "zip": "02134", "city": "X"}
    )
    assert payload == {"phone": "2125550102", "zip": "02134", "city": "X", "address": "X"}


# -- address -------------------------------------------------------------------------------


def test_address_is_composed_from_the_parts_present() -> None:
    """Without an address value, street, city and state make one, skipping gaps."""
    request = map_request(DEFAULT_FIELD_MAPPING, lead(phone="2125550102", zip="02134", state="ny"))
    assert request.address == "NY"


def test_a_mapped_address_wins_over_composition() -> None:
    """An address target with a value is sent as is."""
    mapper = DEFAULT_FIELD_MAPPING.with_targets({"address": FieldSource(source="full_address")})
    request = map_request(
        mapper,
        lead(phone="2125550102", zip="02134", full_address="1 Main St, Austin TX", city="Austin"),
    )
    assert request.address == "1 Main St, Austin TX"


def test_composition_can_be_switched_off() -> None:
    """compose_address=False leaves address empty."""
    mapper = FieldMapping(
        targets={"phone": FieldSource(source="phone"), "city": FieldSource(source="city")},
        compose_address=False,
    )
    assert map_request(mapper, lead(phone="2125550102", city="Austin")).address is None


def test_a_composed_address_satisfies_a_required_address() -> None:
    """A required address is not missing when street, city or state compose one."""
    mapper = mapping(
        address=FieldSource(source="address_line", required=True),
        city=FieldSource(source="city"),
    )
    assert map_request(mapper, lead(phone="2125550102", city="Austin")).address == "Austin"


# -- required and optional -----------------------------------------------------------------


def test_zip_can_be_made_optional_per_campaign() -> None:
    """With zip required=False, a lead without a ZIP maps with zip None."""
    mapper = DEFAULT_FIELD_MAPPING.with_targets({"zip": FieldSource(source="zip", required=False)})
    assert map_request(mapper, lead(phone="2125550102")).zip is None


def test_an_optional_zip_must_still_be_valid() -> None:
    """Optional relaxes absence only: a present but invalid ZIP is still reported."""
    mapper = DEFAULT_FIELD_MAPPING.with_targets({"zip": FieldSource(source="zip", required=False)})
    problems = problems_of(mapper, {"phone": "2125550102", "zip": "ABCDE"})
    assert [p.code for p in problems] == [ProblemCode.INVALID_ZIP]


def test_any_target_can_be_required() -> None:
    """required=True on an extra makes its absence a problem."""
    mapper = mapping(email=FieldSource(source="email", required=True))
    problems = problems_of(mapper, {"phone": "2125550102"})
    assert [(p.target, p.code, p.sources) for p in problems] == [
        ("email", ProblemCode.MISSING, ("email",))
    ]


def test_with_targets_removes_a_target_mapped_to_none() -> None:
    """with_targets({name: None}) drops the target."""
    mapper = DEFAULT_FIELD_MAPPING.with_targets({"zip": None, "email": None})
    assert "zip" not in mapper.targets
    assert map_request(mapper, lead(phone="2125550102", email="x@y.z")).extra == {}


# -- MappingError --------------------------------------------------------------------------


def test_mapping_error_lists_every_problem_at_once() -> None:
    """Missing phone, a numeric ZIP and a list name are all reported in one error."""
    with pytest.raises(MappingError) as caught:
        map_request(DEFAULT_FIELD_MAPPING, lead(zip=2134, first_name=["Jane"], email="a@b.c"))
    error = caught.value
    assert [(p.target, p.code, p.source) for p in error.problems] == [
        ("phone", ProblemCode.MISSING, None),
        ("zip", ProblemCode.INVALID_ZIP, "zip"),
        ("first_name", ProblemCode.INVALID_VALUE, "first_name"),
    ]
    assert error.problems[0].sources == DEFAULT_FIELD_MAPPING.targets["phone"].paths
    assert error.codes == {
        ProblemCode.MISSING,
        ProblemCode.INVALID_ZIP,
        ProblemCode.INVALID_VALUE,
    }


def test_mapping_error_message_is_readable_by_an_admin() -> None:
    """The message names the lead, counts the problems and explains each one."""
    mapper = mapping(zip=FieldSource(source="zip"))
    with pytest.raises(MappingError) as caught:
        map_request(mapper, lead(zip=2134))
    assert str(caught.value) == (
        "lead 'L-1' cannot be mapped (2 problems):\n"
        "  - phone: missing (required; no value in phone)\n"
        "  - zip: invalid_zip (zip = 9999 arrived as a number with 4 digits, so a leading"
        " zero was probably lost (spreadsheets and numeric columns drop it); it is not padded"
        " back because that would also hide typos: send ZIP codes as text, such as '02134')"
    )


def test_every_invalid_value_of_a_target_is_reported() -> None:
    """When no fallback is usable, each invalid one is a problem of its own."""
    mapper = mapping(phone=FieldSource(source="phone", fallbacks=("phone_cell", "phone_work")))
    problems = problems_of(mapper, {"phone": "abc", "phone_work": "512-78"})
    assert [(p.source, p.code) for p in problems] == [
        ("phone", ProblemCode.INVALID_PHONE),
        ("phone_work", ProblemCode.INVALID_PHONE),
    ]


def test_phone_values_are_masked_with_mask_phone() -> None:
    """An invalid phone shows only its last four digits."""
    raw = "512-789-11"
    problems = problems_of(mapping(), {"phone": raw})
    assert problems[0].value == mask_phone(raw)
    assert "789-11" not in str(MappingError(problems))


def test_other_values_are_masked_to_their_shape() -> None:
    """A bad ZIP or name shows 9 per digit and A per letter, never the text."""
    mapper = mapping(zip=FieldSource(source="zip"), tag=FieldSource(source="tag"))
    problems = problems_of(mapper, {"phone": "2125550102", "zip": "0213A", "tag": b"x"})
    assert [p.value for p in problems] == ["'9999A'", "<bytes>"]
    assert "0213" not in str(MappingError(problems))


def test_a_mapping_of_fields_maps_without_a_lead_id() -> None:
    """A plain dict can be mapped; the error then speaks of 'the lead'."""
    with pytest.raises(MappingError, match=r"^the lead cannot be mapped") as caught:
        DEFAULT_FIELD_MAPPING.map_payload({"zip": "02134"})
    assert caught.value.lead_id is None


def test_mapping_error_is_a_library_value_error() -> None:
    """MappingError is caught as PureCallerIDError and as ValueError."""
    assert issubclass(MappingError, PureCallerIDError)
    assert issubclass(MappingError, ValueError)


def test_mapping_error_survives_pickling() -> None:
    """A MappingError crosses process boundaries with its problems and lead id."""
    with pytest.raises(MappingError) as caught:
        map_request(DEFAULT_FIELD_MAPPING, lead())
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own object
    assert (copy.problems, copy.lead_id, str(copy)) == (
        caught.value.problems,
        "L-1",
        str(caught.value),
    )


# -- configuration checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({}, "exactly one"),
        ({"source": "a", "constant": "b"}, "exactly one"),
        ({"constant": "b", "fallbacks": ("a",)}, "no fallbacks"),
        ({"constant": "  "}, "non-blank"),
        ({"source": ""}, "not a field name"),
        ({"source": "a..b"}, "not a field name"),
        ({"source": " a"}, "not a field name"),
        ({"source": "a", "fallbacks": "phone_home"}, "list of field names"),
        ({"source": "a", "fallbacks": {"phone_home": 1}}, "list of field names, not dict"),
        ({"source": "a", "fallbacks": {"phone_home", "phone_2"}}, "list of field names, not set"),
        ({"source": "a", "fallbacks": frozenset({"b"})}, "list of field names, not frozenset"),
        ({"source": "a", "fallbacks": iter(["b"])}, "list of field names"),
        ({"source": "a", "fallbacks": ("ok", 3)}, "must be a field name"),
        ({"source": "a." + "9" * 5_000}, "a list index has at most 9 digits"),
        ({"source": "a", "fallbacks": ["b.1234567890"]}, "a list index has at most 9 digits"),
        ({"source": "a", "required": "yes"}, "true or false"),
    ],
)
def test_field_source_refuses_impossible_settings(kwargs: dict[str, Any], why: str) -> None:
    """A source that could never yield a value is a configuration error."""
    with pytest.raises(ConfigurationError, match=why):
        FieldSource(**kwargs)


@pytest.mark.parametrize(
    ("targets", "why"),
    [
        ({"phone": FieldSource(source="p", required=False)}, "always required"),
        ({"phone": FieldSource(source="p", transform=Transform.ZIP)}, "takes the phone"),
        ({"zip": FieldSource(source="z", transform="upper")}, "takes the zip"),
        ({"campaign_id": FieldSource(constant="C1")}, "credentials"),
        ({"list_name": FieldSource(source="list")}, "credentials"),
        ({" phone": FieldSource(source="p")}, "not a field name"),
        ({"email\ud800": FieldSource(source="e")}, "not a field name"),
        ({"phone": {"source": "p"}}, "expected a FieldSource"),
    ],
)
def test_field_mapping_refuses_inconsistent_targets(targets: Any, why: str) -> None:
    """Phone rules, reserved names and bad specs fail when the mapping is built."""
    with pytest.raises(ConfigurationError, match=why):
        FieldMapping(targets=targets)


def test_unknown_phone_region_is_refused() -> None:
    """phone_region must be a region libphonenumber knows."""
    with pytest.raises(ConfigurationError, match="unknown phone region"):
        FieldMapping(targets={"phone": FieldSource(source="p")}, phone_region="XX")


def test_map_request_needs_a_phone_target() -> None:
    """A generic mapping without phone maps payloads but cannot make a ScreeningRequest."""
    mapper = FieldMapping(targets={"email": FieldSource(source="email")})
    assert mapper.map_payload({"email": "a@b.c"}) == {"email": "a@b.c"}
    with pytest.raises(ConfigurationError, match="no 'phone' target"):
        map_request(mapper, lead(email="a@b.c"))


# -- serialisation -------------------------------------------------------------------------

TOML_MAPPING = """
phone_region = "US"
phone_format = "digits"
zip_format = "zip+4"

[targets]
first_name = "FirstName"

[targets.phone]
source = "phone"
fallbacks = ["phone_cell", "contact.phone"]

[targets.zip]
source = "zip"
required = false

[targets.state]
source = "state"
transform = "upper"

[targets.source]
constant = "leadexec"
"""


def test_a_toml_document_structures_into_a_mapping() -> None:
    """The TOML shape in the docs reads into the expected FieldMapping."""
    loaded = converter.structure(tomllib.loads(TOML_MAPPING), FieldMapping)
    assert loaded == FieldMapping(
        targets={
            "first_name": FieldSource(source="FirstName"),
            "phone": FieldSource(source="phone", fallbacks=("phone_cell", "contact.phone")),
            "zip": FieldSource(source="zip", required=False),
            "state": FieldSource(source="state", transform="upper"),
            "source": FieldSource(constant="leadexec"),
        },
        phone_format="digits",
        zip_format=ZipFormat.PLUS4,
    )


def test_default_mapping_round_trips_through_json() -> None:
    """unstructure, JSON text and structure give back an equal mapping."""
    text = json.dumps(converter.unstructure(DEFAULT_FIELD_MAPPING))
    assert converter.structure(json.loads(text), FieldMapping) == DEFAULT_FIELD_MAPPING


def test_unstructure_leaves_out_unset_settings() -> None:
    """Only what was set is written, so the output is valid TOML (no nulls)."""
    data = converter.unstructure(FieldMapping(targets={"phone": FieldSource(source="p")}))
    assert data == {
        "targets": {"phone": {"source": "p"}},
        "phone_region": "US",
        "zip_format": "zip5",
        "compose_address": True,
    }


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ({"targets": {"phone": {"source": "p", "fallback": ["x"]}}}, "unknown key 'fallback'"),
        ({"targets": {"phone": "p"}, "region": "US"}, "unknown key 'region'"),
        ({"targets": {"phone": {"source": "p", "fallbacks": "x"}}}, "targets.phone: fallbacks"),
        (
            {"targets": {"phone": {"source": "p", "fallbacks": {"x": 1}}}},
            "targets.phone: fallbacks must be a list of field names, not dict",
        ),
        ({"targets": {"phone": "p." + "9" * 5_000}}, "targets.phone: source 'p.999"),
        ({"targets": {"phone": {"source": "p", "transform": "x"}}}, "targets.phone: unknown"),
        ({"targets": {"phone": 5}}, "targets.phone: expected a field name"),
        ({"targets": ["phone"]}, "'targets' must be a table"),
        ({}, "'targets' must be a table"),
        ({"targets": {"phone": "p"}, "zip_format": "zip9"}, "unknown ZIP format"),
        ({"targets": {"phone": "p"}, "phone_format": "intl"}, "unknown phone format"),
        ({"targets": {"phone": "p"}, "compose_address": "yes"}, "true or false"),
        ("phone", "expected a table"),
    ],
)
def test_bad_data_is_a_configuration_error_naming_the_key(data: Any, why: str) -> None:
    """Typos and wrong types in stored settings fail loudly, with where and why."""
    with pytest.raises(ConfigurationError, match=why):
        converter.structure(data, FieldMapping)


def test_a_field_source_structures_on_its_own() -> None:
    """FieldSource has its own hooks, shorthand included."""
    assert converter.structure("FirstName", FieldSource) == FieldSource(source="FirstName")
    spec = FieldSource(source="a", fallbacks=("b",), transform="lower", required=True)
    assert converter.structure(converter.unstructure(spec), FieldSource) == spec


_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)
_paths = st.lists(_names, min_size=1, max_size=3).map(".".join)


@st.composite
def field_sources(draw: st.DrawFn, *, allow_constant: bool = True) -> FieldSource:
    """Any valid FieldSource for a free-form target."""
    required = draw(st.sampled_from([None, True, False]))
    if allow_constant and draw(st.booleans()):
        transform = draw(st.sampled_from([None, "strip", "upper", "lower", "title"]))
        constant = draw(st.text(min_size=1, max_size=12).filter(str.strip))
        return FieldSource(constant=constant, transform=transform, required=required)
    return FieldSource(
        source=draw(_paths),
        fallbacks=tuple(draw(st.lists(_paths, max_size=3))),
        transform=draw(st.sampled_from([None, *Transform])),
        required=required,
    )


@st.composite
def field_mappings(draw: st.DrawFn) -> FieldMapping:
    """Any valid FieldMapping: a phone target plus free-form ones."""
    phone = FieldSource(
        source=draw(_paths),
        fallbacks=tuple(draw(st.lists(_paths, max_size=3))),
        required=draw(st.sampled_from([None, True])),
        transform=draw(st.sampled_from([None, Transform.PHONE])),
    )
    others = draw(
        st.dictionaries(
            _names.filter(lambda n: n not in {"phone", "zip", "campaign_id", "list_name"}),
            field_sources(),
            max_size=5,
        )
    )
    return FieldMapping(
        targets={"phone": phone, **others},
        phone_region=draw(st.sampled_from(["US", "CA", "GB", "de"])),
        phone_format=draw(st.sampled_from([None, *PhoneFormat])),
        zip_format=draw(st.sampled_from(list(ZipFormat))),
        compose_address=draw(st.booleans()),
    )


def _no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nulls(v) for v in value)
    return value is not None


@given(field_mappings())
def test_any_mapping_round_trips_through_the_converter(mapper: FieldMapping) -> None:
    """structure(unstructure(m)) == m, through JSON text, with no null anywhere."""
    data = converter.unstructure(mapper)
    assert _no_nulls(data)
    assert converter.structure(json.loads(json.dumps(data)), FieldMapping) == mapper


# -- robustness ----------------------------------------------------------------------------

# Text that UTF-8 refuses: lone surrogates, as a badly decoded form post leaves them.
_BAD_TEXT = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
_ANY_TEXT = st.one_of(
    st.text(max_size=20),
    st.tuples(st.text(max_size=8), _BAD_TEXT, st.text(max_size=8)).map("".join),
)
_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    # Past 4,300 digits str() raises ValueError: repr() and sending would fail.
    st.integers(min_value=10**30, max_value=10**5_000),
    st.floats(),
    _ANY_TEXT,
)
_values = st.one_of(
    st.recursive(
        st.one_of(_json_leaves, st.binary(max_size=4), st.sets(st.integers(), max_size=2)),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.one_of(st.text(max_size=5), _BAD_TEXT), inner)
        ),
        max_leaves=8,
    ),
    # Deeper than the cap, but not so deep that Hypothesis cannot print it (a 5,000-level
    # value has its own test below).
    st.builds(_nest, st.integers(min_value=0, max_value=200)),
    st.builds(_cyclic, st.sampled_from(["list", "object"])),
)
_keys = st.one_of(
    st.sampled_from([*DEFAULT_FIELD_MAPPING.targets, "phone_cell", "Zip", "contact"]),
    st.text(max_size=10),
)
_phoneish = st.one_of(
    st.from_regex(
        r"\+?1?[ (]*[2-9][0-9]{2}[) .-]*[0-9]{3}[ .-]*[0-9]{4}( x[0-9]+)?", fullmatch=True
    ),
    st.integers(min_value=0, max_value=10**12),
)


@example({**_GOOD, "first_name": "\ud800"}, DEFAULT_FIELD_MAPPING)
@example({**_GOOD, "email": "a\udfffb@example.com"}, DEFAULT_FIELD_MAPPING)
@example({**_GOOD, "email": {"\ud800": 1}}, DEFAULT_FIELD_MAPPING)
@example({**_GOOD, "email": 10**5_000}, DEFAULT_FIELD_MAPPING)
@example({**_GOOD, "email": [[10**5_000]]}, DEFAULT_FIELD_MAPPING)
@example({**_GOOD, "email": _cyclic("list")}, DEFAULT_FIELD_MAPPING)
@example({**_GOOD, "email": _nest(40)}, DEFAULT_FIELD_MAPPING)
@given(
    st.dictionaries(_keys, _values | _phoneish, max_size=10),
    st.sampled_from([DEFAULT_FIELD_MAPPING]) | field_mappings(),
)
def test_any_lead_maps_or_raises_mapping_error(
    fields: dict[str, Any], mapper: FieldMapping
) -> None:
    """Arbitrary posted fields give a sendable ScreeningRequest or a MappingError, nothing else."""
    problems: tuple[MappingProblem, ...] = ()
    try:
        request = map_request(mapper, lead(**fields))
    except MappingError as error:
        problems = error.problems
        str(error)  # the message (masked values) must be printable too
    if problems:
        assert all(isinstance(p.code, ProblemCode) for p in problems)
        return
    assert isinstance(request.phone, str)
    assert request.phone.isdigit() or request.phone.startswith("+")
    # What a mapped request must survive before the vendor sees it: logging and sending.
    repr(request)
    assert json.loads(encode_like_httpx(request))["phone"] == request.phone


@given(st.from_regex(r"0[0-9]{4}([ -]?[0-9]{4})?", fullmatch=True))
def test_a_mapped_zip_never_loses_its_leading_zero(zip_code: str) -> None:
    """A valid ZIP starting with 0 reaches the request with its zero."""
    request = map_request(DEFAULT_FIELD_MAPPING, lead(phone="2125550102", zip=zip_code))
    assert request.zip == zip_code[:5]


# -- before the transport ------------------------------------------------------------------


def screen_lead(fake: FakePureCallerID, fields: dict[str, Any]) -> None:
    """Map a lead then screen it: the order every integration follows."""
    request = map_request(DEFAULT_FIELD_MAPPING, lead(**fields), campaign_id="C", list_name="L")
    with fake.client() as client:
        client.screen(request)


def test_a_mapped_lead_reaches_the_vendor() -> None:
    """Control case: a valid lead is sent once, with its phone as mapped."""
    fake = FakePureCallerID()
    screen_lead(fake, {"phone": "(212) 555-0199", "zip": "02134"})
    assert [r.phone for r in fake.requests] == ["2125550199"]


def test_a_lead_missing_its_phone_never_reaches_the_transport() -> None:
    """No phone (and a bad ZIP): MappingError names both and the fake sees zero requests."""
    fake = FakePureCallerID()
    with pytest.raises(MappingError) as caught:
        screen_lead(fake, {"phone": "  ", "zip": 2134, "email": "a@b.c"})
    assert [(p.target, p.code) for p in caught.value.problems] == [
        ("phone", ProblemCode.MISSING),
        ("zip", ProblemCode.INVALID_ZIP),
    ]
    assert fake.requests == []
