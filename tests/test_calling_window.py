"""The calling window: a lead's location, its hours, and the conservative readings."""

from __future__ import annotations

import asyncio
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezones

from purecallerid import (
    CALLING_WINDOW_FIELDS,
    Action,
    AsyncScreener,
    CacheSettings,
    CallingWindowIntegration,
    CampaignSettings,
    FieldMapping,
    FieldSource,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    Lead,
    MappingError,
    PureCallerIDError,
    RuleSet,
    ScreeningRecord,
    SettingsError,
    load_settings,
)
from purecallerid._integrations.calling_window import (
    _PROVINCES,
    _US_STATES,
    _ZIP3,
    CANADA_HOURS,
    FEDERAL_HOURS,
    STATE_HOURS,
    STATE_ZONES,
    CallingHours,
    _from_phone,
    _read_options,
    state_for_zip,
)

DOCS = Path(__file__).parent.parent / "docs" / "calling-window.md"
OUTSIDE = 'flag when within_calling_window is false because "outside the calling window"'


def at(text: str) -> datetime:
    """An instant written in UTC: ``"2026-06-10 12:30"``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def answer_at(
    instant: datetime, fields: dict[str, Any], options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The integration's answer for a lead with *fields*, screened at *instant*."""
    integration = CallingWindowIntegration(now=lambda: instant)
    settings = IntegrationSettings(id="window", kind="calling_window", options=options or {})
    assert integration.check_settings(settings) == []
    lead = Lead(lead_id="L", campaign_id="c", fields=fields)
    return dict(asyncio.run(integration.screen(lead, settings, deadline=1.0)).answer)


# -- the tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zip_code", "state"),
    [
        ("02134", "MA"),
        ("00501", "NY"),  # Holtsville's IRS center: a New York prefix below 010
        ("00901", "PR"),
        ("00802", "VI"),
        ("20500", "DC"),
        ("20101", "VA"),
        ("73301", "TX"),  # Austin's IRS center sits in Oklahoma's range
        ("88510", "TX"),
        ("32501", "FL"),
        ("89883", "NV"),
        ("96799", "AS"),  # served from Hawaii's prefix
        ("96950", "MP"),  # shares Guam's prefix
        ("96910", "GU"),
        ("99501", "AK"),
        ("02134-1234", "MA"),
    ],
)
def test_state_for_zip(zip_code: str, state: str) -> None:
    """A ZIP code's first three digits name its state; a few five-digit codes are exceptions."""
    assert state_for_zip(zip_code) == state


@pytest.mark.parametrize("zip_code", ["00001", "09012", "34002", "96201", "96940", "96960"])
def test_zip_without_a_us_location(zip_code: str) -> None:
    """Unassigned prefixes, military mail and the freely associated states name no location."""
    assert state_for_zip(zip_code) is None


def test_tables_agree() -> None:
    """Every place the tables name has its zones, and every zone loads."""
    assert set(STATE_ZONES) == _US_STATES
    assert set(_ZIP3.values()) <= _US_STATES
    assert set(STATE_HOURS) <= _US_STATES
    for zones in STATE_ZONES.values():
        assert zones
        for name in zones:
            ZoneInfo(name)
    # Each state entry narrows the federal hours, as the docs say (Canada's are its own).
    for hours in STATE_HOURS.values():
        for weekday in range(7):
            window = hours.on(weekday)
            federal = FEDERAL_HOURS.on(weekday)
            assert federal is not None
            assert window is None or federal[0] <= window[0] < window[1] <= federal[1]


def _docs_rows() -> dict[str, tuple[str, str, str]]:
    section = DOCS.read_text().split("## The hours", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w\w) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", section, re.MULTILINE)
    return {code: (week.strip(), sat.strip(), sun.strip()) for code, week, sat, sun in rows}


def _shown(window: tuple[int, int] | None) -> str:
    if window is None:
        return "no calls"
    return "-".join(f"{m // 60}:{m % 60:02d}" for m in window)


def test_docs_table_is_the_data() -> None:
    """The hours table of docs/calling-window.md is the one the code applies."""
    expected = {
        code: (_shown(hours.weekdays), _shown(hours.saturday), _shown(hours.sunday))
        for code, hours in STATE_HOURS.items()
    }
    assert _docs_rows() == expected


# -- where the lead is --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "state", "zones"),
    [
        ("+12127360000", "NY", ("America/New_York",)),  # geocoded "New York, NY"
        ("+13055550100", "FL", ("America/New_York",)),  # geocoded "Florida"
        ("+12025550100", "DC", ("America/New_York",)),  # "Washington D.C."
        ("+13605550100", "WA", ("America/Los_Angeles",)),  # "Washington State"
        ("+12085550100", "ID", ("America/Boise", "America/Los_Angeles")),
        ("+17875550100", "PR", ("America/Puerto_Rico",)),
        ("+16846330000", "AS", ("Pacific/Pago_Pago",)),
        # libphonenumber places this exchange only to the country code: the state's zones
        ("+16842580000", "AS", ("Pacific/Pago_Pago",)),
        ("+14165550100", "ON", ("America/Toronto",)),
    ],
)
def test_phone_placed(phone: str, state: str, zones: tuple[str, ...]) -> None:
    """libphonenumber's description gives the state; its tables the zones."""
    place = _from_phone(phone)
    assert place is not None
    assert (place.state, place.zones, place.source) == (state, zones, "phone")


def test_canadian_number_spanning_provinces() -> None:
    """867 serves three territories: no province, but Canada's hours still judge it."""
    place = _from_phone("+18675550100")
    assert place is not None
    assert place.state is None
    assert place.canada


@pytest.mark.parametrize("phone", ["+18005550100", "+18095550100", "+442079460000"])
def test_phone_not_placed(phone: str) -> None:
    """Toll-free and foreign numbers are not placed: nothing is guessed."""
    assert _from_phone(phone) is None


def test_unknown_location_answer() -> None:
    """A toll-free number without a ZIP: unknown window, location_known false."""
    answer = answer_at(at("2026-06-10 16:00"), {"phone": "800-555-0100"})
    assert answer == {
        "within_calling_window": None,
        "location_known": False,
        "state": None,
        "timezone": None,
        "timezones": [],
        "local_time": None,
        "local_day": None,
        "local_date": None,
        "window": None,
        "source": None,
    }


def test_toll_free_with_zip_is_placed_by_zip() -> None:
    """The ZIP places a lead whose number cannot be placed."""
    answer = answer_at(at("2026-06-10 16:00"), {"phone": "800-555-0100", "zip": "10001"})
    assert (answer["state"], answer["source"], answer["within_calling_window"]) == (
        "NY",
        "zip",
        True,
    )


# -- the window ---------------------------------------------------------------------------


def test_answer_fields() -> None:
    """A New York number on a June weekday morning."""
    answer = answer_at(at("2026-06-10 12:30"), {"phone": "(212) 736-0000"})
    assert answer == {
        "within_calling_window": True,
        "location_known": True,
        "state": "NY",
        "timezone": "America/New_York",
        "timezones": ["America/New_York"],
        "local_time": "08:30",
        "local_day": "Wednesday",
        "local_date": "2026-06-10",
        "window": "08:00-21:00",
        "source": "phone",
    }
    assert set(answer) == set(CALLING_WINDOW_FIELDS.names)


@pytest.mark.parametrize(
    ("instant", "local", "within"),
    [
        # 2026-03-08, a Sunday: New York springs forward at 07:00 UTC. A fixed -5 hours would
        # say 07:30, before the window.
        ("2026-03-08 12:30", "08:30", True),
        ("2026-03-08 06:59", "01:59", False),
        # The evening before, still on standard time: 20:59 is in, 21:00 is out.
        ("2026-03-08 01:59", "20:59", True),
        ("2026-03-08 02:00", "21:00", False),
        # 2026-11-01, a Sunday: back to standard time at 06:00 UTC. A fixed -4 hours would
        # say 08:30, inside.
        ("2026-11-01 12:30", "07:30", False),
        ("2026-11-01 13:00", "08:00", True),
        ("2026-11-02 01:59", "20:59", True),
        ("2026-11-02 02:00", "21:00", False),
    ],
)
def test_daylight_saving_edges(instant: str, local: str, within: bool) -> None:
    """Local time follows the zone's rules on the days the clocks change."""
    answer = answer_at(at(instant), {"phone": "212-736-0000"})
    assert (answer["local_time"], answer["within_calling_window"]) == (local, within)
    assert answer["local_day"] in {"Saturday", "Sunday", "Monday"}


def test_split_state_zip_is_judged_in_every_zone() -> None:
    """A Florida ZIP prefix could be Central or Eastern: the lead must be inside in both."""
    fields = {"phone": "212-736-0000", "zip": "32501"}
    early = answer_at(at("2026-06-10 12:30"), fields)  # 07:30 Central, 08:30 Eastern
    assert early["timezones"] == ["America/Chicago", "America/New_York"]
    assert (early["timezone"], early["local_time"]) == ("America/Chicago", "07:30")
    assert early["within_calling_window"] is False
    assert answer_at(at("2026-06-10 13:00"), fields)["within_calling_window"] is True
    # Florida's 20:00 end: 19:30 Central but 20:30 Eastern is outside.
    late = answer_at(at("2026-06-11 00:30"), fields)
    assert (late["local_time"], late["window"]) == ("19:30", "08:00-20:00")
    assert late["within_calling_window"] is False


def test_zip_overrides_the_area_code() -> None:
    """A New York mobile number with a Seattle address is judged in Seattle."""
    answer = answer_at(at("2026-06-10 14:30"), {"phone": "212-736-0000", "zip": "98101-1234"})
    assert (answer["state"], answer["timezone"], answer["source"]) == (
        "WA",
        "America/Los_Angeles",
        "zip",
    )
    assert (answer["local_time"], answer["within_calling_window"]) == ("07:30", False)


def test_zip_without_a_location_falls_back_to_the_phone() -> None:
    """A military ZIP places nobody: the area code does."""
    answer = answer_at(at("2026-06-10 14:30"), {"phone": "212-736-0000", "zip": "09012"})
    assert (answer["state"], answer["source"]) == ("NY", "phone")


@pytest.mark.parametrize(
    ("phone", "instant", "window", "within"),
    [
        # Louisiana: no calls on Sunday, whatever the hour.
        ("504-555-0100", "2026-06-14 16:00", "closed", False),
        ("504-555-0100", "2026-06-13 16:00", "08:00-20:00", True),
        # Texas (Dallas): Sunday from noon.
        ("214-555-0100", "2026-06-14 16:30", "12:00-21:00", False),
        ("214-555-0100", "2026-06-14 17:00", "12:00-21:00", True),
        # Rhode Island: Saturday 10:00-17:00.
        ("401-555-0100", "2026-06-13 21:30", "10:00-17:00", False),
        # Connecticut: from 9:00.
        ("203-555-0100", "2026-06-10 12:30", "09:00-20:00", False),
        # Canada: the CRTC's weekend 10:00-18:00 within the federal hours; 21:30 capped at 21.
        ("416-555-0100", "2026-06-13 22:30", "10:00-18:00", False),
        ("416-555-0100", "2026-06-10 01:15", "09:00-21:00", False),
    ],
)
def test_state_hours(phone: str, instant: str, window: str, within: bool) -> None:
    """Stricter state hours apply on top of the federal ones."""
    answer = answer_at(at(instant), {"phone": phone})
    assert (answer["window"], answer["within_calling_window"]) == (window, within)


def test_campaign_hours_narrow_the_window() -> None:
    """options.start and options.end are the campaign's own hours."""
    fields = {"phone": "212-736-0000"}
    instant = at("2026-06-10 12:30")  # 08:30 in New York
    answer = answer_at(instant, fields, {"start": "09:00", "end": "20:00"})
    assert (answer["window"], answer["within_calling_window"]) == ("09:00-20:00", False)


def test_state_entry_replaces_the_built_in_one() -> None:
    """options.states replaces a state's entry whole, and can add a state."""
    sunday_in_new_orleans = at("2026-06-14 16:00")
    opened = answer_at(sunday_in_new_orleans, {"phone": "504-555-0100"}, {"states": {"LA": {}}})
    assert (opened["window"], opened["within_calling_window"]) == ("08:00-21:00", True)
    closed = answer_at(
        at("2026-06-14 16:00"), {"phone": "212-736-0000"}, {"states": {"NY": {"sunday": "closed"}}}
    )
    assert (closed["window"], closed["within_calling_window"]) == ("closed", False)


def test_naive_clock_is_utc() -> None:
    """A clock without a zone is read as UTC."""
    aware = answer_at(at("2026-06-10 12:30"), {"phone": "212-736-0000"})
    naive = answer_at(datetime(2026, 6, 10, 12, 30), {"phone": "212-736-0000"})  # noqa: DTZ001
    assert aware == naive


def test_answers_are_not_cacheable() -> None:
    """An answer is true of the instant it was computed at only."""
    integration = CallingWindowIntegration()
    settings = IntegrationSettings(id="w", kind="calling_window")
    lead = Lead(lead_id="L", campaign_id="c", fields={"phone": "212-736-0000"})
    assert asyncio.run(integration.screen(lead, settings, deadline=1.0)).cacheable is False


def test_unmappable_lead_is_a_mapping_error_before_anything_else() -> None:
    """No phone, or a ZIP that is not one: MappingError, and the clock is never read."""
    read: list[int] = []

    def clock() -> datetime:
        read.append(1)
        return at("2026-06-10 12:30")

    integration = CallingWindowIntegration(now=clock)
    settings = IntegrationSettings(id="w", kind="calling_window")
    for fields in ({}, {"phone": "212-736-0000", "zip": "2134"}):
        lead = Lead(lead_id="L", campaign_id="c", fields=fields)
        with pytest.raises(MappingError):
            asyncio.run(integration.screen(lead, settings, deadline=1.0))
    assert read == []


# -- settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"strat": "09:00"}, "options: unknown key 'strat'; expected start, end, states"),
        ({"start": "9am"}, "options.start: '9am' is not a time of day"),
        ({"start": 9}, "options.start: 9 is not a time of day"),
        ({"start": "20:00", "end": "09:00"}, "options: start 20:00 is not before end 09:00"),
        ({"start": "07:00"}, "options: 07:00-21:00 reaches outside the federal 08:00-21:00"),
        ({"states": ["FL"]}, "options.states: must be a table"),
        ({"states": {"ZZ": {}}}, "options.states.ZZ: 'ZZ' is not a state"),
        ({"states": {"FL": {"sunday": "open"}}}, 'options.states.FL.sunday: write "closed"'),
        ({"states": {"FL": {"sunday": {"end": "22:00"}}}}, "options.states.FL.sunday: 08:00-22:00"),
        ({"states": {"FL": {"hours": "9-5"}}}, "options.states.FL: unknown key 'hours'"),
        ({"states": {"FL": "09:00"}}, "options.states.FL: must be a table, not str"),
    ],
)
def test_broken_options_are_reported_with_their_path(options: dict[str, Any], problem: str) -> None:
    """Each problem names where it is."""
    settings = IntegrationSettings(id="w", kind="calling_window", options=options)
    (found,) = CallingWindowIntegration().check_settings(settings)
    assert found.startswith(problem)


def test_every_option_problem_at_once() -> None:
    """Problems are all listed, not the first only."""
    _, problems = _read_options({"start": "x", "states": {"ZZ": {}, "FL": {"end": "y"}}})
    assert [p.split(":")[0] for p in problems] == [
        "options.start",
        "options.states.ZZ",
        "options.states.FL.end",
    ]


def test_options_read() -> None:
    """An entry's days default to its every-day hours."""
    policy, problems = _read_options(
        {"start": "09:00", "states": {"KY": {"start": "10:00", "saturday": {"end": "18:00"}}}}
    )
    assert problems == []
    assert (policy.start, policy.end) == (540, 1260)
    assert policy.states["KY"] == CallingHours(
        weekdays=(600, 1260), saturday=(600, 1080), sunday=(600, 1260), source="options.states.KY"
    )
    assert policy.hours_for("FL", canada=False) is STATE_HOURS["FL"]
    assert policy.hours_for("ON", canada=True) is CANADA_HOURS
    assert policy.hours_for("NY", canada=False) is None


def test_cache_and_mapping_without_phone_are_refused() -> None:
    """A cached window would be stale; a window needs a phone."""
    settings = IntegrationSettings(
        id="w",
        kind="calling_window",
        cache=CacheSettings(ttl=60),
        mapping=FieldMapping(targets={"zip": FieldSource(source="zip")}),
    )
    problems = CallingWindowIntegration().check_settings(settings)
    assert [p.split(":")[0] for p in problems] == ["mapping", "cache"]


SETTINGS_TOML = """
[[campaigns.solar.integrations]]
id = "window"
kind = "calling_window"
options = { start = "09:00", end = "20:00", states = { KY = { start = "10:00" } } }
rules = [
  'flag when within_calling_window is false because "outside: {local_time} {timezone}"',
  'hold-unplaced: qa when location_known is false because "no location"',
]
"""


def test_settings_file_with_calling_window(tmp_path: Path) -> None:
    """A settings file enables the kind, sets its options and writes rules on its fields."""
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS_TOML)
    campaigns = load_settings(path, kinds=[CallingWindowIntegration()])
    (window,) = campaigns["solar"].integrations
    assert window.kind == "calling_window"
    assert window.options["states"] == {"KY": {"start": "10:00"}}
    assert [rule.id for rule in window.rules.rules][1] == "hold-unplaced"


def test_settings_file_with_broken_options(tmp_path: Path) -> None:
    """Broken options refuse the file, with the integration's path and the option's."""
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS_TOML.replace('start = "10:00"', 'start = "10am"'))
    with pytest.raises(SettingsError) as caught:
        load_settings(path, kinds=[CallingWindowIntegration()])
    (problem,) = caught.value.problems
    assert problem.path == "campaigns.solar.integrations[0]"
    assert problem.message.startswith("options.states.KY.start: '10am' is not a time of day")


def test_rule_on_an_unknown_field_is_refused(tmp_path: Path) -> None:
    """Rules are checked against CALLING_WINDOW_FIELDS."""
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS_TOML.replace("location_known", "location_knwon"))
    with pytest.raises(SettingsError, match="location_knwon"):
        load_settings(path, kinds=[CallingWindowIntegration()])


# -- through the screener -----------------------------------------------------------------


def screen_all(instant: datetime, leads: dict[str, dict[str, Any]]) -> dict[str, ScreeningRecord]:
    """Screen each lead of *leads* (id to fields) through a screener, at *instant*."""
    integration = CallingWindowIntegration(now=lambda: instant)
    rules = RuleSet.from_text(
        f"{OUTSIDE}\nunplaced: qa when location_known is false", CALLING_WINDOW_FIELDS
    )
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=[
            IntegrationSettings(id="window", kind="calling_window", rules=rules),
        ],
    )

    async def run() -> dict[str, ScreeningRecord]:
        async with AsyncScreener(
            settings=InMemorySettings([campaign]),
            store=InMemoryResultStore(),
            integrations=[integration],
        ) as screener:
            return {
                lead_id: await screener.screen(Lead(lead_id=lead_id, campaign_id="c", fields=f))
                for lead_id, f in leads.items()
            }

    return asyncio.run(run())


def test_through_the_screener() -> None:
    """Inside accepts, outside flags, an unplaced lead goes to QA, a bad lead fails to QA."""
    records = screen_all(
        at("2026-06-10 12:30"),  # 08:30 in New York, 05:30 in Seattle
        {
            "inside": {"phone": "212-736-0000"},
            "outside": {"phone": "212-736-0000", "zip": "98101"},
            "unplaced": {"phone": "800-555-0100"},
            "no-phone": {"zip": "98101"},
        },
    )
    assert records["inside"].decision is Action.ACCEPT
    assert records["outside"].decision is Action.FLAG
    assert records["outside"].flags == ("outside the calling window",)
    window = records["outside"].integration("window")
    assert window.answer is not None
    assert (window.answer["local_time"], window.answer["source"]) == ("05:30", "zip")
    # Unknown is not "outside": the flag rule does not fire, the location rule does.
    unplaced = records["unplaced"]
    assert (unplaced.decision, unplaced.decided_by, unplaced.flags) == (
        Action.QA,
        "window:unplaced",
        (),
    )
    failed = records["no-phone"].integration("window")
    assert (failed.error_class, records["no-phone"].decision) == ("mapping_error", Action.QA)


# -- the property -------------------------------------------------------------------------

_US_NUMBERS = st.builds(
    lambda npa, nxx, line: f"+1{npa}{nxx}{line:04d}",
    st.integers(200, 999),
    st.integers(200, 999),
    st.integers(0, 9999),
).filter(lambda e164: phonenumbers.is_valid_number(phonenumbers.parse(e164)))
_INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2037, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def _expected(answer: dict[str, Any], instant: datetime) -> bool:
    """The window recomputed: the local hour in each candidate zone, against the hours."""
    canada = answer["state"] in _PROVINCES or answer["state"] is None
    hours = CANADA_HOURS if canada else STATE_HOURS.get(answer["state"], FEDERAL_HOURS)
    for name in answer["timezones"]:
        local = instant.astimezone(ZoneInfo(name))
        minute = local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7
        federal, own = FEDERAL_HOURS.on(local.weekday()), hours.on(local.weekday())
        assert federal is not None
        if own is None or not (max(federal[0], own[0]) <= minute < min(federal[1], own[1])):
            return False
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    phone=_US_NUMBERS,
    instant=_INSTANTS,
    zip_code=st.none() | st.from_regex(r"[0-9]{5}", fullmatch=True),
)
def test_window_agrees_with_each_zone(phone: str, instant: datetime, zip_code: str | None) -> None:
    """Any valid NANP number, any instant: no error but the library's, and the window agrees."""
    fields = {"phone": phone} if zip_code is None else {"phone": phone, "zip": zip_code}
    integration = CallingWindowIntegration(now=lambda: instant)
    settings_ = IntegrationSettings(id="w", kind="calling_window")
    lead = Lead(lead_id="L", campaign_id="c", fields=fields)
    try:
        answer = dict(asyncio.run(integration.screen(lead, settings_, deadline=1.0)).answer)
    except PureCallerIDError:
        return
    if not answer["location_known"]:
        assert answer["within_calling_window"] is None
        return
    assert answer["within_calling_window"] is _expected(answer, instant)
    if answer["source"] == "phone":
        zones = set(phone_timezones.time_zones_for_number(phonenumbers.parse(phone)))
        state_zones = set(STATE_ZONES.get(answer["state"] or "", ()))
        assert set(answer["timezones"]) in (zones, state_zones)
    else:
        assert zip_code is not None
        assert answer["state"] == state_for_zip(zip_code)
    local = datetime.fromisoformat(f"{answer['local_date']}T{answer['local_time']}")
    shown = instant.astimezone(ZoneInfo(answer["timezone"])).replace(tzinfo=None)
    assert timedelta(0) <= shown - local < timedelta(minutes=1)


def test_docs_rules_and_settings_load() -> None:
    """The page's typical rules parse, and its TOML example loads."""
    text = DOCS.read_text()
    rules = re.search(r"Typical rules:\n\n```text\n(.*?)```", text, re.DOTALL)
    assert rules is not None
    assert len(RuleSet.from_text(rules.group(1), CALLING_WINDOW_FIELDS).rules) == 3
    toml = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert toml is not None
    campaigns = load_settings(tomllib.loads(toml.group(1)), kinds=[CallingWindowIntegration()])
    (window,) = campaigns["solar"].integrations
    assert set(window.options["states"]) == {"KY", "PA"}
