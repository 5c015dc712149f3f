"""The calling window as an integration: may this lead be called now, in its own local time?

No HTTP and no vendor: the lead's state and time zone come from its ZIP code when it has one
(an address beats an area code, since mobile numbers travel), else from its phone number, read
with the data ``phonenumbers`` ships (libphonenumber's geocoder and time zone tables). The hours
are the federal window, 8:00 to 21:00 at the called party's location (47 CFR 64.1200(c)(1)),
narrowed by the stricter state laws of :data:`STATE_HOURS` and by the campaign's own hours.

Two conservative readings, both documented in ``docs/calling-window.md``:

* an area code or a ZIP prefix can span several time zones: the lead is within the window only
  when it is within it in *every* candidate zone (the law counts the called party's clock, and
  we cannot tell which one that is);
* a location that cannot be established (a toll-free number without a ZIP, a foreign number)
  is not guessed: ``within_calling_window`` is then ``None``, so that a rule on it is
  *unknown*, and ``location_known`` is ``False`` for a rule that wants to hold such leads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from attrs import evolve, field, frozen
from phonenumbers import timezone as phone_timezones
from phonenumbers.tzdata import TIMEZONE_DATA

from .._errors import ConfigurationError
from .._mapping import DEFAULT_FIELD_MAPPING, FieldMapping
from .._phone import PhoneFormat, normalize_phone
from .._rules.fields import FieldRegistry, FieldSpec, FieldType
from ..typing import IntegrationAnswer

if TYPE_CHECKING:
    from .._models import Lead
    from .._settings import IntegrationSettings

__all__ = [
    "CALLING_WINDOW_FIELDS",
    "CANADA_HOURS",
    "FEDERAL_HOURS",
    "STATE_HOURS",
    "STATE_ZONES",
    "CallingHours",
    "CallingWindowIntegration",
    "state_for_zip",
]

Window = tuple[int, int]
"""A day's hours as minutes after local midnight: calls from ``start`` up to, not at, ``end``."""


def _clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _span(text: str) -> Window | None:
    if text == "closed":
        return None
    start, end = text.split("-")
    return _clock(start), _clock(end)


@frozen(kw_only=True)
class CallingHours:
    """The hours one jurisdiction allows, by day of the week, at the called party's clock.

    Attributes:
        weekdays: Monday to Friday, or ``None`` when no call is allowed.
        saturday: Saturday, or ``None`` when no call is allowed.
        sunday: Sunday, or ``None`` when no call is allowed.
        source: The law the hours come from.
    """

    weekdays: Window | None
    saturday: Window | None
    sunday: Window | None
    source: str = ""

    def on(self, weekday: int) -> Window | None:
        """The hours of *weekday* (0 is Monday, as ``datetime.weekday``)."""
        if weekday == 5:  # noqa: PLR2004 - Saturday
            return self.saturday
        if weekday == 6:  # noqa: PLR2004 - Sunday
            return self.sunday
        return self.weekdays


def _hours(
    every: str, *, saturday: str | None = None, sunday: str | None = None, source: str
) -> CallingHours:
    window = _span(every)
    return CallingHours(
        weekdays=window,
        saturday=window if saturday is None else _span(saturday),
        sunday=window if sunday is None else _span(sunday),
        source=source,
    )


FEDERAL_HOURS: Final = _hours("08:00-21:00", source="47 CFR 64.1200(c)(1) (TCPA)")
"""8:00 to 21:00 at the called party's location, every day: the floor every lead gets."""

# As of 2026: check with counsel. Only the laws this project could establish are here (each is
# a general telephone-solicitation rule, not one about a kind of call such as prerecorded
# messages); docs/calling-window.md lists the sources and what is left out, and a campaign adds
# or replaces entries with `options.states`. Legal-holiday bans (AL, LA, RI, UT) are not
# applied: those days are set by proclamation each year (the `local_date` field lets a rule
# hold them).
STATE_HOURS: Final[Mapping[str, CallingHours]] = {
    "AL": _hours("08:00-20:00", sunday="closed", source="Alabama PSC telephone solicitation rules"),
    "CT": _hours("09:00-20:00", source="Conn. Gen. Stat. 42-288a (Public Act 23-98, 2023-10-01)"),
    "FL": _hours("08:00-20:00", source="Fla. Stat. 501.616(6)(a) (SB 1120, 2021-07-01)"),
    "LA": _hours(
        "08:00-20:00", sunday="closed", source="La. R.S. 45:811; LPSC General Order R-29617"
    ),
    "MD": _hours("08:00-20:00", source="Stop the Spam Calls Act of 2023 (2024-01-01)"),
    "MS": _hours("08:00-20:00", sunday="closed", source="Miss. Code 77-3-723(1)"),
    "OK": _hours(
        "08:00-20:00", source="Okla. Stat. tit. 15, 775C.4 (Telephone Solicitation Act of 2022)"
    ),
    "RI": _hours(
        "09:00-18:00",
        saturday="10:00-17:00",
        sunday="closed",
        source="R.I. Gen. Laws 5-61-2, 5-61-3.6",
    ),
    "TX": _hours("09:00-21:00", sunday="12:00-21:00", source="Tex. Bus. & Com. Code 301.051"),
    "UT": _hours("08:00-21:00", sunday="closed", source="Utah Code title 13, chapter 25a"),
    "WA": _hours("08:00-20:00", source="RCW 19.158.040(2)"),
}
"""Stricter state hours (as of 2026; check with counsel), by two-letter state code.

The federal hours still apply on top of them: a lead's window is the narrowest of the federal
hours, its state's entry and the campaign's own hours.
"""

CANADA_HOURS: Final = _hours(
    "09:00-21:30",
    saturday="10:00-18:00",
    sunday="10:00-18:00",
    source="CRTC Unsolicited Telecommunications Rules, Part III (Telemarketing Rules)",
)
"""Canada's telemarketing hours, for numbers of every province (the federal hours apply too)."""


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Two-letter codes of the places a lead's location can resolve to. The US ones are the states,
# DC and the inhabited territories, whose numbers are in the NANP and under the TCPA.
_US_STATES: Final = frozenset(
    _codes(
        "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV"
        " NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU MP AS"
    )
)
_PROVINCES: Final = frozenset(_codes("AB BC MB NB NL NS NT NU ON PE QC SK YT"))
_US_REGIONS: Final = frozenset({"US", "PR", "VI", "GU", "MP", "AS"})

_NY, _CHI, _DEN, _LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)
# The official time zones of each state (15 U.S.C. 260-261 and the DOT's boundaries). A state
# split between zones lists each: a lead placed only to that state (by a ZIP prefix, or an area
# code libphonenumber cannot place) is judged in all of them. Arizona lists Denver for the Navajo
# Nation, which keeps daylight saving time. Unofficial local practice (Phenix City, Alabama on
# Eastern time; Kenton, Oklahoma on Mountain) is not listed.
STATE_ZONES: Final[Mapping[str, tuple[str, ...]]] = {
    **dict.fromkeys(_codes("CT DE DC GA ME MD MA NH NJ NY NC OH PA RI SC VT VA WV"), (_NY,)),
    **dict.fromkeys(_codes("AL AR IL IA LA MN MS MO OK WI"), (_CHI,)),
    **dict.fromkeys(_codes("CO MT NM UT WY"), (_DEN,)),
    **dict.fromkeys(_codes("CA WA"), (_LA,)),
    **dict.fromkeys(_codes("FL IN KY MI TN"), (_NY, _CHI)),
    **dict.fromkeys(_codes("KS NE ND SD TX"), (_CHI, _DEN)),
    **dict.fromkeys(_codes("ID NV OR"), (_DEN, _LA)),
    "AZ": ("America/Phoenix", _DEN),
    "AK": ("America/Anchorage", "America/Adak"),
    "HI": ("Pacific/Honolulu",),
    "PR": ("America/Puerto_Rico",),
    "VI": ("America/St_Thomas",),
    "GU": ("Pacific/Guam",),
    "MP": ("Pacific/Saipan",),
    "AS": ("Pacific/Pago_Pago",),
}
"""The time zones of each US state, DC and territory (IANA names), west and east alike."""

# The first three digits of a ZIP code name a USPS sectional center, which lies in one state.
# Public USPS facts, written as ranges. Prefixes left out are military mail (APO/FPO: 090-099,
# 340, 962-966) or unassigned (000-004), and are read as no location.
_ZIP3_RANGES: Final = (
    "005 NY|006-007 PR|008 VI|009 PR|010-027 MA|028-029 RI|030-038 NH|039-049 ME|050-054 VT"
    "|055 MA|056-059 VT|060-069 CT|070-089 NJ|100-149 NY|150-196 PA|197-199 DE|200 DC|201 VA"
    "|202-205 DC|206-219 MD|220-246 VA|247-268 WV|270-289 NC|290-299 SC|300-319 GA|320-339 FL"
    "|341-349 FL|350-369 AL|370-385 TN|386-397 MS|398-399 GA|400-427 KY|430-459 OH|460-479 IN"
    "|480-499 MI|500-528 IA|530-549 WI|550-567 MN|569 DC|570-577 SD|580-588 ND|590-599 MT"
    "|600-629 IL|630-658 MO|660-679 KS|680-693 NE|700-714 LA|716-729 AR|730-732 OK|733 TX"
    "|734-749 OK|750-799 TX|800-816 CO|820-831 WY|832-838 ID|840-847 UT|850-865 AZ|870-884 NM"
    "|885 TX|889-898 NV|900-961 CA|967-968 HI|969 GU|970-979 OR|980-994 WA|995-999 AK"
)
# Five-digit codes whose state differs from their prefix's: American Samoa is served from
# Hawaii's 967, the Northern Marianas share Guam's 969, and 969 also carries the freely
# associated states (Palau, Micronesia, the Marshall Islands), which are not US locations.
_ZIP5_EXCEPTIONS: Final[Mapping[str, str | None]] = {
    "96799": "AS",
    **dict.fromkeys(("96950", "96951", "96952"), "MP"),
    **dict.fromkeys(("96939", "96940", "96941", "96942", "96943", "96944", "96960", "96970")),
}


def _zip3_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for item in _ZIP3_RANGES.split("|"):
        span, state = item.split()
        first, _, last = span.partition("-")
        for prefix in range(int(first), int(last or first) + 1):
            table[f"{prefix:03d}"] = state
    return table


_ZIP3: Final = _zip3_table()


def state_for_zip(zip_code: str) -> str | None:
    """The state (two letters) of a five-digit ZIP code, ``None`` when it names no US location.

    ZIP+4 is read by its first five digits. Military (APO/FPO) and unassigned prefixes give
    ``None``.
    """
    five = zip_code[:5]
    if five in _ZIP5_EXCEPTIONS:
        return _ZIP5_EXCEPTIONS[five]
    return _ZIP3.get(five[:3])


# libphonenumber's English descriptions: "City, ST", or a state or province name when it knows
# only the area code. A name shared by several provinces ("Nova Scotia/Prince Edward Island")
# names none.
_NAMES: Final[Mapping[str, str]] = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC", "District of Columbia": "DC", "Puerto Rico": "PR",
    "U.S. Virgin Islands": "VI", "Guam": "GU", "Northern Mariana Islands": "MP",
    "American Samoa": "AS", "Alberta": "AB", "British Columbia": "BC",
    "British Colombia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK", "Yukon": "YT",
    "Northwest Territories": "NT", "Nunavut": "NU",
}  # fmt: skip
_CITY_STATE: Final = re.compile(r".*,\s*([A-Z]{2})")


CALLING_WINDOW_FIELDS: Final = FieldRegistry(
    integration="calling_window",
    extra=False,
    fields=(
        FieldSpec(
            name="within_calling_window",
            type=FieldType.BOOLEAN,
            description=(
                "Whether the lead may be called now: inside its hours in every candidate time"
                " zone. Absent (unknown) when its location is not known."
            ),
        ),
        FieldSpec(
            name="location_known",
            type=FieldType.BOOLEAN,
            description="Whether the lead's time zone and state (or Canada) were established.",
        ),
        FieldSpec(
            name="state",
            type=FieldType.STRING,
            description="The lead's state, territory or province, two letters, when known.",
        ),
        FieldSpec(
            name="timezone",
            type=FieldType.STRING,
            description="The westernmost candidate time zone (IANA name): local_time is its clock.",
        ),
        FieldSpec(
            name="timezones",
            type=FieldType.LIST,
            description="Every candidate time zone, west to east.",
        ),
        FieldSpec(
            name="local_time",
            type=FieldType.STRING,
            description="The lead's local time now, HH:MM on a 24-hour clock, in timezone.",
        ),
        FieldSpec(
            name="local_day",
            type=FieldType.STRING,
            values=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
            open_values=False,
            description="The lead's local day of the week, in timezone.",
        ),
        FieldSpec(
            name="local_date",
            type=FieldType.STRING,
            description="The lead's local date, YYYY-MM-DD, in timezone (for holiday rules).",
        ),
        FieldSpec(
            name="window",
            type=FieldType.STRING,
            description="Today's hours applied, HH:MM-HH:MM, or closed (in timezone).",
        ),
        FieldSpec(
            name="source",
            type=FieldType.STRING,
            values=("zip", "phone"),
            open_values=False,
            description="Where the location came from: the lead's ZIP code or its phone number.",
        ),
    ),
)
"""The answer fields of :class:`CallingWindowIntegration`, for rules."""

_DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# The default mapping's phone and ZIP sources; the ZIP optional, since a lead without one is
# placed by its area code.
_PHONE_AND_ZIP: Final = FieldMapping(
    targets={
        "phone": DEFAULT_FIELD_MAPPING.targets["phone"],
        "zip": evolve(DEFAULT_FIELD_MAPPING.targets["zip"], required=False),
    },
    phone_format=PhoneFormat.E164,
)


@frozen(kw_only=True)
class _Policy:
    """A campaign's options, read: its own hours, and the state entries it replaces."""

    start: int = 8 * 60
    end: int = 21 * 60
    states: Mapping[str, CallingHours] = field(factory=dict)

    def hours_for(self, state: str | None, *, canada: bool) -> CallingHours | None:
        """The entry that applies to *state*: the campaign's own, else the built-in one."""
        if state is not None and state in self.states:
            return self.states[state]
        if canada:
            return CANADA_HOURS
        return None if state is None else STATE_HOURS.get(state)


# -- options ------------------------------------------------------------------------------

_OPTION_KEYS: Final = ("start", "end", "states")
_ENTRY_KEYS: Final = ("start", "end", "saturday", "sunday")
_HHMM: Final = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
_CLOSED: Final = "closed"


def _format(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _format_window(window: Window | None) -> str:
    return _CLOSED if window is None else f"{_format(window[0])}-{_format(window[1])}"


class _OptionReader:
    """Reads a campaign's ``options``, noting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def keys(self, data: object, allowed: tuple[str, ...], path: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            self.problems.append(f"{path}: must be a table, not {type(data).__name__}")
            return {}
        unknown = sorted(str(key) for key in data if key not in allowed)
        if unknown:
            self.problems.append(
                f"{path}: unknown key {', '.join(map(repr, unknown))}; expected"
                f" {', '.join(allowed)}"
            )
        return data

    def window(self, data: Mapping[str, Any], path: str, default: Window) -> Window:
        """The ``start`` and ``end`` of *data*, each defaulting to *default*'s."""
        bounds = list(default)
        readable = True
        for index, key in enumerate(("start", "end")):
            if data.get(key) is None:
                continue
            minutes = self.clock(data[key], f"{path}.{key}")
            if minutes is None:
                readable = False  # already reported; comparing the default would mislead
            else:
                bounds[index] = minutes
        start, end = bounds
        federal = FEDERAL_HOURS.weekdays or (0, 0)
        if readable and start >= end:
            self.problems.append(f"{path}: start {_format(start)} is not before end {_format(end)}")
        elif readable and (start < federal[0] or end > federal[1]):
            # Silently capped, the admin would believe calls at 7:30 allowed: say it instead.
            self.problems.append(
                f"{path}: {_format_window((start, end))} reaches outside the federal"
                f" {_format_window(federal)}, which always applies"
            )
        return start, end

    def clock(self, value: object, path: str) -> int | None:
        """Minutes after midnight of an ``"HH:MM"`` text; ``None`` (reported) if not one."""
        if not isinstance(value, str) or _HHMM.fullmatch(value) is None:
            self.problems.append(
                f"{path}: {value!r} is not a time of day; write HH:MM on a 24-hour clock, such"
                " as '09:00'"
            )
            return None
        return _clock(value)

    def day(self, value: object, path: str, default: Window) -> Window | None:
        """A ``saturday`` or ``sunday`` entry: ``"closed"`` or a table of start and end."""
        if value == _CLOSED:
            return None
        if not isinstance(value, Mapping):
            self.problems.append(f'{path}: write "closed" or a table with start and end')
            return default
        return self.window(self.keys(value, ("start", "end"), path), path, default)

    def entry(self, code: object, data: object, path: str) -> CallingHours | None:
        if not (isinstance(code, str) and code in _US_STATES | _PROVINCES):
            self.problems.append(
                f"{path}: {code!r} is not a state, territory or province code; use two"
                " capital letters, such as 'FL'"
            )
            return None
        values = self.keys(data, _ENTRY_KEYS, path)
        every = self.window(values, path, FEDERAL_HOURS.weekdays or (0, 0))
        days = {
            day: self.day(values[day], f"{path}.{day}", every) if day in values else every
            for day in ("saturday", "sunday")
        }
        return CallingHours(
            weekdays=every, saturday=days["saturday"], sunday=days["sunday"], source=path
        )

    def policy(self, options: Mapping[str, Any]) -> _Policy:
        """The whole of ``options``: the campaign's hours and its state entries."""
        values = self.keys(options, _OPTION_KEYS, "options")
        start, end = self.window(values, "options", (_Policy().start, _Policy().end))
        states: dict[str, CallingHours] = {}
        table = values.get("states", {})
        if not isinstance(table, Mapping):
            self.problems.append("options.states: must be a table of state codes to hours")
            table = {}
        for code, data in table.items():
            entry = self.entry(code, data, f"options.states.{code}")
            if entry is not None:
                states[code] = entry
        return _Policy(start=start, end=end, states=states)


def _read_options(options: Mapping[str, Any]) -> tuple[_Policy, list[str]]:
    """A campaign's ``options`` read, with every problem found (each naming its path)."""
    reader = _OptionReader()
    policy = reader.policy(options)
    return policy, reader.problems


# -- where the lead is --------------------------------------------------------------------


@frozen(kw_only=True)
class _Place:
    """Where a lead is: its state (if known), whether in Canada, its candidate zones, whence."""

    state: str | None
    canada: bool
    zones: tuple[str, ...]
    source: str


def _from_zip(zip_code: str) -> _Place | None:
    state = state_for_zip(zip_code)
    if state is None:
        return None
    return _Place(state=state, canada=False, zones=STATE_ZONES[state], source="zip")


def _described_state(number: phonenumbers.PhoneNumber, region: str) -> str | None:
    # The geocoder's data takes a quarter of a second to import: it is loaded by the first
    # screening, not by `import purecallerid`.
    from phonenumbers import geocoder  # noqa: PLC0415

    text = geocoder.description_for_number(number, "en")
    match = _CITY_STATE.fullmatch(text)
    code = match.group(1) if match else _NAMES.get(text)
    if code in (_PROVINCES if region == "CA" else _US_STATES):
        return code
    # A territory's numbers have a region code of their own, which is its postal code.
    return region if region in _US_REGIONS and region != "US" else None


def _placed_zones(number: phonenumbers.PhoneNumber) -> tuple[str, ...]:
    zones = tuple(phone_timezones.time_zones_for_number(number))
    # A number libphonenumber cannot place (toll-free, or a prefix it has no data for) gets
    # "Etc/Unknown" or every zone of its country code: neither says where the lead is.
    if zones == (phone_timezones.UNKNOWN_TIMEZONE,) or zones == TIMEZONE_DATA.get(
        str(number.country_code)
    ):
        return ()
    return zones


def _from_phone(e164: str) -> _Place | None:
    number = phonenumbers.parse(e164)
    region = phonenumbers.region_code_for_number(number) or ""
    if region not in _US_REGIONS and region != "CA":
        return None  # the hours of other countries are not known here
    state = _described_state(number, region)
    zones = _placed_zones(number)
    if region != "CA":
        if state is None:
            return None
        zones = zones or STATE_ZONES.get(state, ())
    # Canada's hours are national, so a number placed to a zone but not to one province (867
    # serves three territories) is still judged.
    if not zones:
        return None
    return _Place(state=state, canada=region == "CA", zones=zones, source="phone")


# -- the judgment -------------------------------------------------------------------------


def _window_on(hours: CallingHours | None, policy: _Policy, weekday: int) -> Window | None:
    """The narrowest of the federal hours, the state's and the campaign's on *weekday*."""
    windows = [FEDERAL_HOURS.on(weekday), (policy.start, policy.end)]
    if hours is not None:
        windows.append(hours.on(weekday))
    if any(window is None for window in windows):
        return None
    start = max(window[0] for window in windows if window is not None)
    end = min(window[1] for window in windows if window is not None)
    return (start, end) if start < end else None


def _inside(local: datetime, window: Window | None) -> bool:
    if window is None:
        return False
    # Microseconds since midnight against the window's bounds: 20:59:59.9 is inside, 21:00 not.
    now = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
    return window[0] * 60_000_000 <= now < window[1] * 60_000_000


def _unknown(place: _Place | None) -> dict[str, Any]:
    return {
        "within_calling_window": None,
        "location_known": False,
        "state": None if place is None else place.state,
        "timezone": None,
        "timezones": [],
        "local_time": None,
        "local_day": None,
        "local_date": None,
        "window": None,
        "source": None if place is None else place.source,
    }


def _judge(place: _Place | None, policy: _Policy, instant: datetime) -> dict[str, Any]:
    """The answer for a lead at *place* (``None``: not known) at *instant* (aware)."""
    if place is None:
        return _unknown(place)
    try:
        zones = [ZoneInfo(name) for name in dict.fromkeys(place.zones)]
    except (ZoneInfoNotFoundError, ValueError):
        return _unknown(place)  # a zone this machine's tz database lacks: nothing is guessed
    # West to east: the smallest offset from UTC first, then by name for a stable order.
    clocks = sorted(
        (instant.astimezone(zone) for zone in zones),
        key=lambda local: (local.utcoffset(), str(local.tzinfo)),
    )
    hours = policy.hours_for(place.state, canada=place.canada)
    windows = [_window_on(hours, policy, local.weekday()) for local in clocks]
    first = clocks[0]
    return {
        "within_calling_window": all(map(_inside, clocks, windows)),
        "location_known": True,
        "state": place.state,
        "timezone": str(first.tzinfo),
        "timezones": [str(local.tzinfo) for local in clocks],
        "local_time": first.strftime("%H:%M"),
        "local_day": _DAYS[first.weekday()],
        "local_date": first.date().isoformat(),
        "window": _format_window(windows[0]),
        "source": place.source,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CallingWindowIntegration:
    """Whether a lead may be called now, at its local time. Kind ``"calling_window"`` by default.

    Local: no HTTP, no vendor, nothing paid. The lead's location comes from its ZIP code when
    the mapping finds a valid one, else from its phone number; its hours are the federal
    window (8:00 to 21:00 local), narrowed by :data:`STATE_HOURS` and by the campaign's
    ``options`` (``start``, ``end``, and ``states`` entries that replace the built-in ones).
    A lead placed in several time zones is within the window only when it is within it in
    every one; a lead that cannot be placed has ``within_calling_window`` unknown and
    ``location_known`` false. A typical rule is
    ``flag when within_calling_window is false because "outside the calling window"``.

    Answers are never cached (``cacheable`` is false): they depend on the time of screening.

    Args:
        kind: The kind name settings use to select this integration.
        now: The clock, returning the current instant (a naive value is read as UTC); tests
            pass a fixed one.
    """

    def __init__(
        self, *, kind: str = "calling_window", now: Callable[[], datetime] = _utc_now
    ) -> None:
        """Create the integration; see the class docstring for the arguments."""
        self._kind = kind
        self._now = now

    @property
    def kind(self) -> str:
        """The kind name (``"calling_window"`` by default)."""
        return self._kind

    @property
    def fields(self) -> FieldRegistry:
        """:data:`CALLING_WINDOW_FIELDS`."""
        return CALLING_WINDOW_FIELDS

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        """Check the mapping finds a phone, no cache is set, and ``options`` read cleanly."""
        problems: list[str] = []
        if settings.mapping is not None and "phone" not in settings.mapping.targets:
            problems.append("mapping: the calling window needs a 'phone' target")
        if settings.cache is not None:
            problems.append(
                "cache: a calling window depends on the time of screening, so a cached answer"
                " would be stale; leave the cache off"
            )
        problems.extend(_read_options(settings.options)[1])
        return problems

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        """Place the lead and judge the current instant against its hours."""
        del deadline  # a local computation does not wait on anything
        mapping = settings.mapping or _PHONE_AND_ZIP
        payload = mapping.map_payload(lead)  # MappingError before anything else
        policy, problems = _read_options(settings.options)
        if problems:
            raise ConfigurationError(f"calling window options: {'; '.join(problems)}")
        place = _from_zip(payload["zip"]) if payload.get("zip") else None
        if place is None:
            place = _from_phone(normalize_phone(payload["phone"], region=mapping.phone_region))
        instant = self._now()
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return IntegrationAnswer(answer=_judge(place, policy, instant), raw=None, cacheable=False)

    async def aclose(self) -> None:
        """Nothing to release: the integration holds no connection or file."""
