"""Guard settings: quota, rate limit, cache and circuit breaker of one integration, and state.

Each guard is opt-in, per integration (``quota = {daily = 500}`` in a settings file, or
``IntegrationSettings(quota=QuotaSettings(daily=500))`` in code); the screener applies the
guards around *any* integration's ``screen``, so none of this is vendor code. Where the guards
keep their counters is the state backend, named once per process (a top-level ``[state]``
table, or the ``state`` argument of the screener). See "operating under quota" in the docs.

Each class checks its values when built (a :class:`SettingsError` naming every problem with
its path, ``quota.daily``); the settings loader reports the same problems, below the
integration's path.
"""

from __future__ import annotations

import difflib
import math
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs
from attrs import field, frozen

from .._errors import SettingsError, SettingsProblem
from .._secrets import Secret

__all__ = [
    "CacheSettings",
    "CircuitBreakerSettings",
    "QuotaSettings",
    "RateLimitSettings",
    "StateSettings",
]

_Check = Callable[[Any], "str | None"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(minimum: int) -> _Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            return f"must be a whole number >= {minimum}, not {value!r}"
        return None

    return check


def _positive(value: Any) -> str | None:
    return None if _number(value) and value > 0 else f"must be a number > 0, not {value!r}"


def _not_negative(value: Any) -> str | None:
    return None if _number(value) and value >= 0 else f"must be a number >= 0, not {value!r}"


def _fraction(value: Any) -> str | None:
    if _number(value) and 0 < value <= 1:
        return None
    return f"must be a fraction above 0 and at most 1 (0.8 is 80 %), not {value!r}"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty text"


def _texts(value: Any) -> str | None:
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v.strip() for v in value):
        return None
    return "must be a list of field names"


def _timezone(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a time zone name such as 'America/New_York'"
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}; use an IANA name such as 'America/New_York'"
    return None


def _one_of(*choices: str) -> _Check:
    def check(value: Any) -> str | None:
        if isinstance(value, str) and value.strip().lower() in choices:  # words, in any case
            return None
        return f"must be one of {', '.join(choices)}, not {value!r}"

    return check


def _nullable(cls: type) -> frozenset[str]:
    """The keys of *cls* that may be ``None``: those whose default is ``None``."""
    return frozenset(a.name for a in attrs.fields(cls) if a.default is None)


def _required(cls: type) -> frozenset[str]:
    """The keys of *cls* that a table must give: those without a default."""
    return frozenset(a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING)


def _problems(
    checks: Mapping[str, _Check], values: Mapping[str, Any], nullable: frozenset[str]
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, check in checks.items():
        if key not in values:
            continue
        value = values[key]
        if value is None:
            # JSON null (or None in code) means "the default" only where the default is
            # None; elsewhere it would slip past every check and fail at the first lead.
            if key not in nullable:
                found.append((key, check(None) or "must not be null"))
        elif (message := check(value)) is not None:
            found.append((key, message))
    return found


def _validate(instance: Any, checks: Mapping[str, _Check]) -> None:
    values = {
        a.name: getattr(instance, a.name) for a in attrs.fields(type(instance)) if a.name in checks
    }
    problems = _problems(checks, values, _nullable(type(instance)))
    if problems:
        raise _refused(type(instance), [(key, message) for key, message in problems])


def _refused(cls: type, problems: Iterable[tuple[str, str]]) -> SettingsError:
    """The problems of a guard (or state) class, at their paths below its settings key."""
    name = _KEY_OF[cls.__name__]
    found = [SettingsProblem(path=f"{name}.{key}", message=message) for key, message in problems]
    return SettingsError(found, source=cls.__name__)


def _as_texts(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list | tuple) else value  # type: ignore[return-value]


_QUOTA_CHECKS: Final[Mapping[str, _Check]] = {
    "daily": _whole(0),
    "timezone": _timezone,
    "warn_at": _fraction,
    "key": _text,
}


@frozen(kw_only=True)
class QuotaSettings:
    """A daily budget of calls per credential, shared by every worker using the same state.

    A call is counted when it is dispatched; it is given back only when it provably never left
    (connection refused, a lead that cannot be mapped, a guard that stopped it). A timed-out
    call counts. Once the day's budget is spent, the integration fails with class
    ``quota_exhausted`` without calling, and its failure policy decides.

    Attributes:
        daily: Calls allowed per vendor day (0 stops every call).
        timezone: The vendor's time zone, where its day starts (IANA name).
        warn_at: The fraction of the budget at which a warning is logged and reported to the
            observer (``on_event("quota_warning", ...)``).
        key: The quota's name in the state; by default derived from the integration kind, the
            base URL and a hash of the API token (never the token itself). Give two
            integrations the same key to share one budget.
    """

    daily: int
    timezone: str = "UTC"
    warn_at: float = 0.8
    key: str | None = None

    def __attrs_post_init__(self) -> None:
        """Refuse impossible values."""
        _validate(self, _QUOTA_CHECKS)


_RATE_CHECKS: Final[Mapping[str, _Check]] = {
    "per_second": _positive,
    "burst": _whole(1),
    "max_wait": _not_negative,
    "min_call_time": _not_negative,
    "key": _text,
}


@frozen(kw_only=True)
class RateLimitSettings:
    """A rate per credential: calls wait their turn instead of drawing the vendor's 429s.

    Turns are handed out by a generic cell rate algorithm (GCRA): at most *burst* calls at
    once, then one every ``1 / per_second`` seconds, across every worker sharing the state. A
    call waits for its turn up to *max_wait* and never past its own deadline; a turn later
    than that is refused at once (class ``throttled``, nothing sent). A vendor 429 pushes every
    later turn past its ``Retry-After``.

    Attributes:
        per_second: Calls per second.
        burst: Calls allowed at once before the rate applies.
        max_wait: The longest a call waits for its turn, in seconds; ``None``: up to its
            deadline (the rest of the integration's timeout is the call's).
        min_call_time: The seconds a call must still have after its turn; a turn leaving
            less is refused (class ``throttled``, quota given back) rather than spent on a
            call bound to time out. ``None``: 0.5 s, or a quarter of the integration's
            timeout when that is less.
        key: The limiter's name in the state; derived like :attr:`QuotaSettings.key` by
            default.
    """

    per_second: float
    burst: int = 1
    max_wait: float | None = None
    min_call_time: float | None = None
    key: str | None = None

    def __attrs_post_init__(self) -> None:
        """Refuse impossible values."""
        _validate(self, _RATE_CHECKS)


_CACHE_CHECKS: Final[Mapping[str, _Check]] = {
    "ttl": _positive,
    "phone": _text,
    "fields": _texts,
}


@frozen(kw_only=True)
class CacheSettings:
    """A result cache: an answer reused for the same phone (and fields) within *ttl*.

    Off unless set, and it must stay off for PureCallerID: a lead load puts the lead in a
    dialer list, so an answer served from the cache is a lead that was never loaded. For
    pure lookups (a DNC scrub, a line-type lookup) it saves money and quota.

    Only answers are cached, never errors; concurrent identical lookups in one process share
    one call (single flight). A reused answer is marked ``cached`` in the record, with the
    time it was fetched.

    Attributes:
        ttl: Seconds an answer stays fresh (a DNC result is commonly trusted for 31 days).
        phone: The lead field holding the phone; its value is keyed in E.164, so every way of
            writing the number hits the same entry. A lead without a valid phone is not cached.
        fields: More lead fields whose values change the answer (for example ``["zip"]``).
    """

    ttl: float
    phone: str = "phone"
    fields: tuple[str, ...] = field(default=(), converter=_as_texts)

    def __attrs_post_init__(self) -> None:
        """Refuse impossible values."""
        _validate(self, _CACHE_CHECKS)


_BREAKER_CHECKS: Final[Mapping[str, _Check]] = {
    "failures": _whole(1),
    "cooldown": _positive,
    "key": _text,
}


@frozen(kw_only=True)
class CircuitBreakerSettings:
    """A circuit breaker per endpoint: stop calling a vendor that is down.

    After *failures* consecutive failures (timeouts, 5xx, connection errors) the breaker opens:
    calls fail at once with class ``circuit_open`` for *cooldown* seconds. Then one call (one
    only, across every worker) probes: its success closes the breaker, its failure opens it
    for another cool-down.

    Attributes:
        failures: Consecutive failures that open the breaker.
        cooldown: Seconds the breaker stays open before a probe.
        key: The breaker's name in the state; by default the integration kind and its base
            URL (an outage is the endpoint's, whatever the credential).
    """

    failures: int = 5
    cooldown: float = 30.0
    key: str | None = None

    def __attrs_post_init__(self) -> None:
        """Refuse impossible values."""
        _validate(self, _BREAKER_CHECKS)


def _url(value: str | Secret | None) -> Secret | None:
    given: object = value
    if given is None or isinstance(given, Secret):
        return given
    if not isinstance(given, str):
        raise _refused(StateSettings, [("url", "must be a Redis URL (text)")])
    return Secret(given)


def _backend(value: str) -> str:
    given: object = value
    return given.strip().lower() if isinstance(given, str) else value


_STATE_CHECKS: Final[Mapping[str, _Check]] = {
    "backend": _one_of("memory", "sqlite", "redis"),
    "path": _text,
    "prefix": _text,
}


@frozen(kw_only=True)
class StateSettings:
    """Where the guards keep their state: the top-level ``[state]`` table of a settings file.

    Attributes:
        backend: ``memory`` (one process, the default), ``sqlite`` (several processes on one
            host) or ``redis`` (many hosts; needs the ``redis`` extra).
        path: The SQLite file (``sqlite``); relative to the settings file's folder.
        url: The Redis URL (``redis``), such as ``redis://127.0.0.1:6379/0``. Held as a
            :class:`~purecallerid.Secret`: it may carry a password.
        prefix: Prepended to every key the backend writes, to share one Redis between
            applications.
    """

    backend: str = field(default="memory", converter=_backend)
    path: str | None = None
    url: Secret | None = field(default=None, converter=_url)
    prefix: str = "purecallerid"

    def __attrs_post_init__(self) -> None:
        """Refuse impossible values and a backend without its location."""
        _validate(self, _STATE_CHECKS)
        if self.backend == "sqlite" and not self.path:
            raise _refused(
                StateSettings, [("path", "is required: the sqlite backend needs a path")]
            )
        if self.backend == "redis" and not self.url:
            raise _refused(StateSettings, [("url", "is required: the redis backend needs a url")])
        if self.url is not None and not self.url.reveal().startswith(_REDIS_SCHEMES):
            # Checked here, at load, rather than when the first lead opens the backend.
            raise _refused(
                StateSettings, [("url", "must start with redis://, rediss:// or unix://")]
            )


# -- loading from settings documents ------------------------------------------------------

GUARD_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "quota": frozenset(_QUOTA_CHECKS),
    "rate_limit": frozenset(_RATE_CHECKS),
    "cache": frozenset(_CACHE_CHECKS),
    "circuit_breaker": frozenset(_BREAKER_CHECKS),
}
"""Integration key -> the keys its table accepts."""

STATE_KEYS: Final = frozenset({"backend", "path", "url", "prefix"})
_REDIS_SCHEMES: Final = ("redis://", "rediss://", "unix://")
_KEY_OF: Final = {
    "QuotaSettings": "quota",
    "RateLimitSettings": "rate_limit",
    "CacheSettings": "cache",
    "CircuitBreakerSettings": "circuit_breaker",
    "StateSettings": "state",
}
"""A settings class's name -> its key in a settings file: the path its problems are given at."""

_GUARDS: Final[Mapping[str, tuple[type, Mapping[str, _Check]]]] = {
    "quota": (QuotaSettings, _QUOTA_CHECKS),
    "rate_limit": (RateLimitSettings, _RATE_CHECKS),
    "cache": (CacheSettings, _CACHE_CHECKS),
    "circuit_breaker": (CircuitBreakerSettings, _BREAKER_CHECKS),
}

Report = Callable[[str, str], None]


def _unknown(data: Mapping[str, Any], allowed: frozenset[str], path: str, add: Report) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {sorted(allowed)}"
            add(f"{path}.{key}", f"unknown key{hint}")


def _table(
    data: Any,
    path: str,
    *,
    checks: Mapping[str, _Check],
    required: frozenset[str],
    allowed: frozenset[str],
    nullable: frozenset[str],
    add: Report,
) -> dict[str, Any] | None:
    if not isinstance(data, Mapping):
        add(path, "must be a table")
        return None
    _unknown(data, allowed, path, add)
    problems = [(f"{path}.{key}", "is required") for key in sorted(required) if key not in data]
    problems += [(f"{path}.{key}", message) for key, message in _problems(checks, data, nullable)]
    for where, message in problems:
        add(where, message)
    if problems:
        return None
    return {key: data[key] for key in allowed & set(data)}


def load_guard(name: str, data: Any, path: str, add: Report) -> Any:
    """Read the guard table *name* (``quota``...) of an integration; ``None`` on problems."""
    cls, checks = _GUARDS[name]
    values = _table(
        data,
        path,
        checks=checks,
        required=_required(cls),
        allowed=GUARD_KEYS[name],
        nullable=_nullable(cls),
        add=add,
    )
    if values is None:
        return None
    try:
        return cls(**values)
    except SettingsError as exc:  # pragma: no cover - the checks above are the same
        for problem in exc.problems:
            add(f"{path}{problem.path.removeprefix(name)}", problem.message)
        return None


def load_state(data: Any, add: Report) -> StateSettings | None:
    """Read the top-level ``state`` table; ``None`` on problems."""
    values = _table(
        data,
        "state",
        checks=_STATE_CHECKS,
        required=_required(StateSettings),
        allowed=STATE_KEYS,
        nullable=_nullable(StateSettings),
        add=add,
    )
    if values is None:
        return None
    url = values.get("url")
    if url is not None and not (isinstance(url, str) and url.strip().startswith(_REDIS_SCHEMES)):
        add("state.url", "must be a Redis URL such as 'redis://127.0.0.1:6379/0'")
        return None
    try:
        return StateSettings(**values)
    except SettingsError as exc:
        for problem in exc.problems:
            add(problem.path, problem.message)
        return None


def guard_fingerprint(guard: Any) -> dict[str, Any] | None:
    """A guard's settings as JSON data, for the settings hash."""
    if guard is None:
        return None
    data = attrs.asdict(guard, recurse=False)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
