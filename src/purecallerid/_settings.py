"""Campaign settings: what to screen a campaign's leads with, and how.

Settings are data. A host builds :class:`CampaignSettings` in code from its own settings UI
and database, or loads them from a TOML or JSON file with :func:`load_settings` (in
``_settings_loader``). Either way they accept the same shapes (a table where a file has one,
0/1 for true/false, numbers as text where the reference says so) and are checked when built:
a problem is a :class:`SettingsError` naming its path, not a failed lead at 2 a.m. This module
holds the settings classes, whose defaults are the only statement of the defaults, the readers
of each value (the loader calls them too, so that a file and code agree), and the providers.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs
from attrs import Factory, field, frozen

from ._errors import ConfigurationError, RuleValidationError, SettingsError, SettingsProblem
from ._guards.settings import (
    GUARD_KEYS,
    CacheSettings,
    CircuitBreakerSettings,
    QuotaSettings,
    RateLimitSettings,
    StateSettings,
    guard_fingerprint,
    load_guard,
)
from ._mapping import FieldMapping, structure_mapping, unstructure_mapping
from ._rules.check import RuleProblem, Severity
from ._rules.condition import RunCondition
from ._rules.model import Action, AllOf, AnyOf, Comparison, Condition, Not
from ._rules.ruleset import RuleSet, UncheckedRules
from ._secrets import Secret

if TYPE_CHECKING:
    from .typing import Integration

logger: Final = logging.getLogger("purecallerid.settings")

__all__ = [
    "CacheSettings",
    "CampaignSettings",
    "CircuitBreakerSettings",
    "Credentials",
    "FileSettings",
    "InMemorySettings",
    "IntegrationSettings",
    "QuotaSettings",
    "RateLimitSettings",
    "SettingsProblem",
    "StateSettings",
]

Flag: TypeAlias = bool | int | str
"""A true/false setting: ``True``/``False``, ``1``/``0`` (a database's booleans), or the texts
``"true"``/``"false"``/``"1"``/``"0"`` in any case."""
Seconds: TypeAlias = float | str
"""A number of seconds: a number, or its digits as text (``"2.5"``)."""
RulesGiven: TypeAlias = (
    RuleSet | UncheckedRules | str | Sequence[str | Mapping[str, Any]] | Mapping[str, Any]
)
"""Rules as a settings file writes them (text, lines, rule tables, a rule document) or built."""
ConditionGiven: TypeAlias = RunCondition | Condition | str | Mapping[str, Any]
"""A ``when`` as a settings file writes it (text, a condition table) or built."""

MIN_SECRET_LENGTH: Final = 8
"""Characters a secret has at least: a shorter one could not be masked without masking words."""

_INTEGRATION: Final = "IntegrationSettings"
_CAMPAIGN: Final = "CampaignSettings"
_CREDENTIALS: Final = "Credentials"
_SHOWN: Final = 40
_WHOLE_TEXT: Final = re.compile(r"\s*[+-]?[0-9]{1,18}\s*")
_NUMBER_TEXT: Final = re.compile(r"\s*([0-9]{1,18}(?:\.[0-9]*)?|\.[0-9]+)\s*")
_DURATION: Final = re.compile(r"\s*([0-9]{1,18}(?:\.[0-9]+)?)\s*([smhd])\s*", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TRUE_WORDS: Final = frozenset({"true", "1"})
_FALSE_WORDS: Final = frozenset({"false", "0"})
_CREDENTIAL_NAMES: Final = ("api_token", "campaign_id", "list_name", "dialer_list_id")

# The defaults of the settings a None stands for (a database's NULL, a document's null): each
# is stated here once, for its field and for its reader.
_ENABLED: Final = True
_SORT: Final = 1
_DIALECT: Final = "leadexec"
_TIMEOUT: Final = 5.0
_FAILURE_POLICY: Final = Action.QA
_SKIP_REMAINING: Final = True
_CANCEL_SIBLINGS: Final = False
_SHADOW: Final = False
_PERCENT: Final = 100.0
_DEADLINE: Final = 15.0


# -- reading values -----------------------------------------------------------------------
# Every reader takes what a host may hold (a database row, parsed JSON, a settings file) and
# returns the setting, or raises a SettingsError naming the setting's path. The loader calls
# the same readers (through the fields' converters), so a file and code accept the same shapes.


def _type_of(value: object) -> str:
    """What a refused value is, never the value itself.

    For places a secret may have been put by mistake (``credentials = "${TOKEN}"``).
    """
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if value is None or isinstance(value, Mapping | list | tuple):
        return _shown(value)
    return f"a {type(value).__name__}"


def _shown(value: object) -> str:
    """A refused value as a message shows it: short scalars as written, anything else by kind."""
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 4]}...'"
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        text = repr(value)
        return text if len(text) <= _SHOWN else "a number of many digits"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _refused(path: str, message: str, source: str) -> SettingsError:
    return SettingsError([SettingsProblem(path=path, message=message)], source=source)


def _under(prefix: str, problems: Iterable[SettingsProblem]) -> list[SettingsProblem]:
    """*problems* at paths below *prefix* (``integrations[0]`` + ``sort``)."""
    return [
        SettingsProblem(
            path=prefix if not p.path else f"{prefix}{'' if p.path[0] == '[' else '.'}{p.path}",
            message=p.message,
        )
        for p in problems
    ]


def _flag(value: object, name: str, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in {0, 1}:  # SQLite and MySQL booleans
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
    raise _refused(name, f"must be true or false (or 1 or 0), not {_shown(value)}", _INTEGRATION)


def _seconds(value: object, name: str, source: str) -> float:
    """A positive, finite number of seconds, from a number or its digits as text."""
    number = float(value) if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value) else value
    seconds = math.nan
    if isinstance(number, int | float) and not isinstance(number, bool):
        try:
            seconds = float(number)  # 5 and 5.0 are one setting, and hash as one
        except OverflowError:
            seconds = math.inf
    if not (math.isfinite(seconds) and seconds > 0):
        raise _refused(name, f"must be a positive number of seconds, not {_shown(value)}", source)
    return seconds


def _text(value: object, name: str, what: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _refused(name, f"must be {what}, not {_shown(value)}", source)
    return value


def _table(value: object, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _refused(name, f"must be a table, not {_shown(value)}", _INTEGRATION)
    return dict(value)


# -- credentials ----------------------------------------------------------------------------


def _secret(value: object, name: str) -> Secret | None:
    """A secret credential: text (a number is taken as its digits), trimmed; empty is none."""
    if value is None:
        return None
    if isinstance(value, Secret):
        text = value.reveal()
    elif isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        text = str(value)
    else:
        raise _refused(f"credentials.{name}", "must be text", _CREDENTIALS)
    text = text.strip()  # a newline from a file or a form would break the header it goes in
    if not text:
        return None  # an empty value is a missing one, as in a settings file
    if len(text) < MIN_SECRET_LENGTH:
        # Masking a value that short would also mask ordinary words in records and logs.
        raise _refused(
            f"credentials.{name}", f"shorter than {MIN_SECRET_LENGTH} characters", _CREDENTIALS
        )
    if isinstance(value, Secret) and text == value.reveal():
        return value
    return Secret(text)


def _credential_text(value: object, name: str) -> str | None:
    """A vendor-side id: text (a number is taken as its digits), trimmed; empty is none."""
    if value is None:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value).strip() or None
    raise _refused(f"credentials.{name}", "must be text", _CREDENTIALS)


def _api_token(value: str | Secret | int | None) -> Secret | None:
    return _secret(value, "api_token")


def _campaign_id(value: str | int | None) -> str | None:
    return _credential_text(value, "campaign_id")


def _list_name(value: str | int | None) -> str | None:
    return _credential_text(value, "list_name")


def _dialer_list_id(value: str | int | None) -> str | None:
    return _credential_text(value, "dialer_list_id")


def _secret_map(value: Mapping[str, str | Secret | int] | None) -> Mapping[str, Secret]:
    """Named secrets, every problem at once; an empty one is left out, as in a file."""
    given: object = value
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        message = f"must be a table, not {_type_of(given)}"
        raise _refused("credentials.secrets", message, _CREDENTIALS)
    out: dict[str, Secret] = {}
    problems: list[SettingsProblem] = []
    for name, secret in given.items():
        if not isinstance(name, str) or not name.isidentifier() or name in _CREDENTIAL_NAMES:
            message = "is not a credential name (letters, digits and '_')"
            if name in _CREDENTIAL_NAMES:
                message = f"is a credential of its own: Credentials({name}=...)"
            problems.append(SettingsProblem(path=f"credentials.{name}", message=message))
            continue
        try:
            checked = _secret(secret, name)
        except SettingsError as exc:
            problems.extend(exc.problems)
        else:
            if checked is not None:
                out[name] = checked
    if problems:
        raise SettingsError(problems, source=_CREDENTIALS)
    return out


@frozen(kw_only=True)
class Credentials:
    """An integration's credential set. Every secret is a :class:`Secret`: never shown.

    Each value is text (a number is taken as its digits), trimmed; an empty one counts as
    missing. A secret (the token, a named secret) shorter than 8 characters is refused with
    a :class:`SettingsError` at ``credentials.<name>``, whatever the kind: it could not be
    masked without masking ordinary words.

    Attributes:
        api_token: The vendor's API token.
        campaign_id: The vendor-side campaign id.
        list_name: The vendor-side dialer list name.
        dialer_list_id: The vendor-side dialer list id (PureCallerID's ``public`` dialect).
        secrets: Other named secrets, for vendors with credentials of their own (an account
            SID and an auth token, a login id). In a settings file they are the credential
            keys besides the four above; an HTTP integration places them with
            ``{credentials.<name>}``. Masked wherever they land, like the token.
    """

    api_token: Secret | None = field(default=None, converter=_api_token)
    campaign_id: str | None = field(default=None, converter=_campaign_id)
    list_name: str | None = field(default=None, converter=_list_name)
    dialer_list_id: str | None = field(default=None, converter=_dialer_list_id)
    secrets: Mapping[str, Secret] = field(factory=dict, converter=_secret_map)

    @classmethod
    def from_table(cls, data: Mapping[str, Any]) -> Credentials:
        """Credentials from a settings file's table: the four named keys, any other a secret.

        Raises:
            SettingsError: Every problem of the table, each at ``credentials.<key>``.
        """
        named: dict[str, Any] = {}
        secrets: dict[str, Any] = {}
        for key, value in data.items():
            (named if key in _CREDENTIAL_NAMES else secrets)[key] = value
        problems: list[SettingsProblem] = []
        for key, value in named.items():
            try:
                _convert(cls, key, value)
            except SettingsError as exc:
                problems.extend(exc.problems)
        try:
            checked = _secret_map(secrets)
        except SettingsError as exc:
            problems.extend(exc.problems)
        if problems:
            raise SettingsError(problems, source=_CREDENTIALS)
        return cls(**named, secrets=checked)


# -- integration settings -----------------------------------------------------------------


def _kind(value: str) -> str:
    return _text(value, "kind", "a kind name", _INTEGRATION)


def _identifier(value: str) -> str:
    return _text(value, "id", "a name (or left out: the kind)", _INTEGRATION)


def _enabled(value: Flag | None) -> bool:
    return _flag(value, "enabled", default=_ENABLED)


def _skip_remaining(value: Flag | None) -> bool:
    return _flag(value, "skip_remaining_on_reject", default=_SKIP_REMAINING)


def _cancel_siblings(value: Flag | None) -> bool:
    return _flag(value, "cancel_siblings_on_reject", default=_CANCEL_SIBLINGS)


def _sort(value: int | str | None) -> int:
    given: object = value
    if given is None:
        return _SORT
    if isinstance(given, int) and not isinstance(given, bool):
        return given
    if isinstance(given, str) and _WHOLE_TEXT.fullmatch(given):
        return int(given)
    raise _refused("sort", f"must be a whole number, not {_shown(given)}", _INTEGRATION)


def _timeout(value: Seconds | None) -> float:
    return _TIMEOUT if value is None else _seconds(value, "timeout", _INTEGRATION)


def _base_url(value: str | None) -> str | None:
    given: object = value
    if given is None or isinstance(given, str):
        return given
    raise _refused("base_url", f"must be a URL (text), not {_shown(given)}", _INTEGRATION)


def _dialect(value: str | None) -> str:
    given: object = value
    if given is None:
        return _DIALECT
    if not isinstance(given, str):
        raise _refused("dialect", f"must be a dialect name, not {_shown(given)}", _INTEGRATION)
    return given.strip().lower()  # a word, like the rule words: "LeadExec" is "leadexec"


def _failure_policy(value: Action | str | None) -> Action:
    given: object = value
    if given is None:
        return _FAILURE_POLICY
    if isinstance(given, str):
        try:
            return Action(given.strip().lower())  # "QA" is qa, as in rule text
        except ValueError:
            pass
    raise _refused(
        "failure_policy",
        f"unknown action {_shown(given)}; use accept, flag, qa or reject",
        _INTEGRATION,
    )


def _options(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _table(value, "options")


def _http(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _table(value, "http")


def _credentials(value: Credentials | Mapping[str, Any] | None) -> Credentials:
    given: object = value
    if given is None:
        return Credentials()
    if isinstance(given, Credentials):
        return given
    if isinstance(given, Mapping):
        return Credentials.from_table(given)
    raise _refused(
        "credentials", f"must be a table or a Credentials, not {_type_of(given)}", _INTEGRATION
    )


def _mapping(value: FieldMapping | Mapping[str, Any] | None) -> FieldMapping | None:
    given: object = value
    if given is None or isinstance(given, FieldMapping):
        return given
    if not isinstance(given, Mapping):
        raise _refused(
            "mapping", f"must be a table or a FieldMapping, not {_shown(given)}", _INTEGRATION
        )
    try:
        return structure_mapping(given)
    except ConfigurationError as exc:
        raise _refused("mapping", str(exc).removeprefix("mapping: "), _INTEGRATION) from None


def rule_problem(problem: RuleProblem, path: str) -> SettingsProblem:
    """A rule problem as a settings problem: at its line in rule text, its pointer in data."""
    where = (
        problem.path if problem.line is None else f"line {problem.line}, column {problem.column}"
    )
    suggestion = (
        f" (did you mean {problem.suggestion!r}?)"
        if problem.suggestion and "did you mean" not in problem.message
        else ""
    )
    return SettingsProblem(path=f"{path} {where}", message=f"{problem.message}{suggestion}")


def rules_source(value: object) -> str | Mapping[str, Any] | None:
    """The rule text or document that rules given as data stand for; ``None``: not rules."""
    if isinstance(value, str | Mapping):
        return value
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return "\n".join(value)  # a list of lines is the text, one rule a line
        return {"rules": list(value)}
    return None


def read_rules(value: object, name: str, source: str) -> RuleSet | UncheckedRules:
    """Rules built, or read from data (at *name*); their fields are checked later, when known."""
    if value is None:
        return RuleSet.empty()
    if isinstance(value, RuleSet | UncheckedRules):
        return value
    text = rules_source(value)
    if text is None:
        raise _refused(
            name, f"must be text, a list of rules or a rule document, not {_shown(value)}", source
        )
    try:
        return UncheckedRules(text)
    except RuleValidationError as exc:
        errors = [rule_problem(p, name) for p in exc.problems if p.severity is Severity.ERROR]
        raise SettingsError(errors, source=source) from None


def _rules(value: RulesGiven | None) -> RuleSet | UncheckedRules:
    """Rules built, or read from data; their fields are checked once the kind is known."""
    return read_rules(value, "rules", _INTEGRATION)


def _when(value: ConditionGiven | None) -> RunCondition | None:
    """A condition built, or read from data; the fields it reads are checked with the campaign."""
    given: object = value
    if given is None or (isinstance(given, str) and not given.strip()):
        return None  # an empty text is no condition, as an empty credential is none
    if isinstance(given, RunCondition):
        return given
    if not isinstance(given, str | Mapping | Comparison | AllOf | AnyOf | Not):
        message = f"must be a condition (text or a condition table), not {_shown(given)}"
        raise _refused("when", message, _INTEGRATION)
    try:
        return RunCondition(given)
    except RuleValidationError as exc:
        errors = [rule_problem(p, "when") for p in exc.problems if p.severity is Severity.ERROR]
        raise SettingsError(errors, source=_INTEGRATION) from None


def _shadow(value: Flag | None) -> bool:
    return _flag(value, "shadow", default=_SHADOW)


def _sample(value: float | str | None) -> float | None:
    """A percentage of leads, 0 to 100: a number, or its digits as text (``"25"``, ``"25%"``)."""
    given: object = value
    if given is None:
        return None
    if isinstance(given, str):
        digits = given.strip().removesuffix("%")
        given = float(digits) if _NUMBER_TEXT.fullmatch(digits) else given
    if isinstance(given, int | float) and not isinstance(given, bool):
        percent = float(given)
        if 0 <= percent <= _PERCENT:  # NaN fails both
            return percent
    message = f"must be a percentage of leads from 0 to 100, not {_shown(value)}"
    raise _refused("sample", message, _INTEGRATION)


def _guard(name: str, cls: type[Any], value: object) -> Any:
    if value is None or isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        message = f"must be a table or a {cls.__name__}, not {_shown(value)}"
        raise _refused(name, message, _INTEGRATION)
    problems: list[SettingsProblem] = []

    def add(path: str, message: str) -> None:
        problems.append(SettingsProblem(path=path, message=message))

    guard = load_guard(name, value, name, add)
    if problems:
        raise SettingsError(problems, source=_INTEGRATION)
    return guard


def _quota(value: QuotaSettings | Mapping[str, Any] | None) -> QuotaSettings | None:
    return _guard("quota", QuotaSettings, value)  # type: ignore[no-any-return]


def _rate_limit(value: RateLimitSettings | Mapping[str, Any] | None) -> RateLimitSettings | None:
    return _guard("rate_limit", RateLimitSettings, value)  # type: ignore[no-any-return]


def _cache(value: CacheSettings | Mapping[str, Any] | None) -> CacheSettings | None:
    return _guard("cache", CacheSettings, value)  # type: ignore[no-any-return]


def _circuit_breaker(
    value: CircuitBreakerSettings | Mapping[str, Any] | None,
) -> CircuitBreakerSettings | None:
    return _guard("circuit_breaker", CircuitBreakerSettings, value)  # type: ignore[no-any-return]


def _kind_of(settings: IntegrationSettings) -> str:
    return settings.kind


def _canonical(value: object) -> object:
    """JSON for what json cannot write, the same in every process (sets are sorted)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


@frozen(kw_only=True)
class IntegrationSettings:
    """One integration switched on (or off) for a campaign.

    Each setting takes what the configuration reference documents for a settings file (a
    table for ``credentials``, ``mapping`` and the guards; rule text, lines or tables), the
    values a database holds (``1``/``0`` for true/false, numbers as text for ``sort`` and
    ``timeout``, enum words in any case), and ``None`` for its default (a NULL column). Rules
    given as data are kept as :class:`~purecallerid.UncheckedRules` and checked against the
    kind's fields when the screener first sees the settings (or by
    :func:`~purecallerid.check_campaign`). Anything else is a :class:`SettingsError` naming
    the setting's path (``timeout``, ``credentials.api_token``, ``quota.daily``).

    Attributes:
        kind: Which integration implementation runs it (``"purecallerid"``, ``"suppression"``).
        id: Its id within the campaign (defaults to the kind); names it in records.
        enabled: The toggle. A disabled integration is recorded as skipped, never called.
        sort: The integration sort number: equal numbers run in parallel, stages in
            ascending order.
        credentials: The vendor credentials.
        base_url: The vendor's host URL (from the credentials' paperwork).
        dialect: The wire format, for integrations that have several (``"leadexec"``).
        mapping: Lead field mapping; ``None`` uses the integration's default.
        rules: The criteria rules applied to the answer: a :class:`~purecallerid.RuleSet`,
            or rules given as data and not yet checked against the kind's fields.
        timeout: Seconds this integration may take per lead, retries included.
        failure_policy: The action when it fails (timeout, vendor error, unmappable lead).
            ``qa`` by default: see "failure policies" in the docs.
        skip_remaining_on_reject: When it rejects a lead, skip the later stages.
        cancel_siblings_on_reject: When it rejects a lead, cancel the integrations of its own
            stage still running (off by default: a cancelled call may already be billed,
            and its answer is lost as evidence).
        options: Settings of its own kind (for instance the suppression list's file).
        http: The request and answer of a ``kind = "http"`` vendor (or changes to a preset's):
            see "Configuring an HTTP vendor" in the docs. Empty for other kinds.
        quota: A daily quota per credential (:class:`~purecallerid.QuotaSettings`), or
            ``None``.
        rate_limit: A rate per credential (:class:`~purecallerid.RateLimitSettings`), or
            ``None``.
        cache: A result cache (:class:`~purecallerid.CacheSettings`); ``None`` (off) by
            default, and it must stay off for PureCallerID, whose call loads the lead.
        circuit_breaker: A circuit breaker per endpoint
            (:class:`~purecallerid.CircuitBreakerSettings`), or ``None``.
        when: A condition on the lead and the answers of earlier stages
            (:class:`~purecallerid.RunCondition`, or its text or table): the integration runs
            only for leads that meet it, and is recorded ``skipped`` with the condition
            otherwise. ``None`` (the default): it runs for every lead.
        shadow: A trial: it runs and is recorded in full, but its action never counts in the
            decision, and its reject never skips later stages (``False`` by default).
        sample: The percentage of leads it runs for, chosen by a hash of the campaign, the
            integration and the lead id (the same leads on every machine); the others are
            recorded ``skipped`` as sampled out. ``None`` (the default): every lead.
    """

    kind: str = field(converter=_kind)
    id: str = field(default=Factory(_kind_of, takes_self=True), converter=_identifier)
    enabled: bool = field(default=_ENABLED, converter=_enabled)
    sort: int = field(default=_SORT, converter=_sort)
    credentials: Credentials = field(factory=Credentials, converter=_credentials)
    base_url: str | None = field(default=None, converter=_base_url)
    dialect: str = field(default=_DIALECT, converter=_dialect)
    mapping: FieldMapping | None = field(default=None, converter=_mapping)
    rules: RuleSet | UncheckedRules = field(factory=RuleSet.empty, converter=_rules)
    timeout: float = field(default=_TIMEOUT, converter=_timeout)
    failure_policy: Action = field(default=_FAILURE_POLICY, converter=_failure_policy)
    skip_remaining_on_reject: bool = field(default=_SKIP_REMAINING, converter=_skip_remaining)
    cancel_siblings_on_reject: bool = field(default=_CANCEL_SIBLINGS, converter=_cancel_siblings)
    options: Mapping[str, Any] = field(factory=dict, converter=_options)
    http: Mapping[str, Any] = field(factory=dict, converter=_http)
    quota: QuotaSettings | None = field(default=None, converter=_quota)
    rate_limit: RateLimitSettings | None = field(default=None, converter=_rate_limit)
    cache: CacheSettings | None = field(default=None, converter=_cache)
    circuit_breaker: CircuitBreakerSettings | None = field(default=None, converter=_circuit_breaker)
    when: RunCondition | None = field(default=None, converter=_when)
    shadow: bool = field(default=_SHADOW, converter=_shadow)
    sample: float | None = field(default=None, converter=_sample)

    @classmethod
    def from_table(cls, data: Mapping[str, Any]) -> IntegrationSettings:
        """An integration from its table, the shape of a settings file's (``null``: left out).

        Raises:
            SettingsError: Every problem of the table (unknown keys included), with its path.
        """
        values, problems = read_values(cls, data)
        if "kind" not in values and not any(p.path == "kind" for p in problems):
            problems.append(SettingsProblem(path="kind", message="is required"))
        if problems:
            raise SettingsError(problems, source=_INTEGRATION)
        return cls(**values)

    @property
    def guarded(self) -> bool:
        """Whether any guard (quota, rate limit, cache, circuit breaker) is set."""
        return (
            self.quota is not None
            or self.rate_limit is not None
            or self.cache is not None
            or self.circuit_breaker is not None
        )

    def fingerprint(self) -> dict[str, Any]:
        """Everything that shapes decisions, as JSON data, without the token."""
        data = self._fingerprint()
        if self.http:  # only when set: the hashes of earlier settings stand
            data["http"] = dict(self.http)
        # Guards only when set, so that the hash of settings without guards stays as it was.
        for name in GUARD_KEYS:
            guard = guard_fingerprint(getattr(self, name))
            if guard is not None:
                data[name] = guard
        # The campaign flow's keys only when set, for the same reason.
        if self.when is not None:
            data["when"] = self.when.to_dict()
        if self.shadow:
            data["shadow"] = True
        if self.sample is not None:
            data["sample"] = self.sample
        return data

    def _credential_ids(self) -> dict[str, Any]:
        ids: dict[str, Any] = {
            "campaign_id": self.credentials.campaign_id,
            "list_name": self.credentials.list_name,
            "dialer_list_id": self.credentials.dialer_list_id,
        }
        if self.credentials.secrets:  # names only; absent otherwise: earlier hashes stand
            ids["secrets"] = sorted(self.credentials.secrets)
        return ids

    def _fingerprint(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "enabled": self.enabled,
            "sort": self.sort,
            "credentials": self._credential_ids(),
            "base_url": self.base_url,
            "dialect": self.dialect,
            "mapping": None if self.mapping is None else unstructure_mapping(self.mapping),
            "rules": self.rules.to_dict(),
            "timeout": self.timeout,
            "failure_policy": self.failure_policy.value,
            "skip_remaining_on_reject": self.skip_remaining_on_reject,
            "cancel_siblings_on_reject": self.cancel_siblings_on_reject,
            "options": dict(self.options),
        }


def _convert(cls: type[Any], key: str, value: object) -> Any:
    """*value* read by the converter of *cls*'s field *key*."""
    converter = attrs.fields_dict(cls)[key].converter
    return value if converter is None else converter(value)  # type: ignore[operator]


def read_values(
    cls: type[Any], data: Mapping[str, Any], keys: Iterable[str] | None = None
) -> tuple[dict[str, Any], list[SettingsProblem]]:
    """The values of *data* (of *keys* only, when given) read as *cls*'s fields, and the problems.

    A key *cls* does not have is a problem (with a guess at the one meant); a ``None`` value
    is a key left out. The problems' paths are relative to *data*.
    """
    known = attrs.fields_dict(cls)
    allowed = sorted(a.name for a in known.values() if a.init)
    problems: list[SettingsProblem] = []
    if keys is None:
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {allowed}"
                problems.append(SettingsProblem(path=str(key), message=f"unknown key; {hint}"))
    values: dict[str, Any] = {}
    for key in allowed if keys is None else keys:
        if data.get(key) is None:
            continue
        try:
            values[key] = _convert(cls, key, data[key])
        except SettingsError as exc:
            problems.extend(exc.problems)
    return values, problems


# -- campaign settings ----------------------------------------------------------------------


def _campaign_key(value: str) -> str:
    given: object = value
    if not isinstance(given, str):
        raise _refused("campaign_id", f"must be text, not {_shown(given)}", _CAMPAIGN)
    return given


def _integrations(
    value: Iterable[IntegrationSettings | Mapping[str, Any]] | None,
) -> tuple[IntegrationSettings, ...]:
    """The integrations, built or as tables; the problems of every one at once."""
    given: object = value
    if given is None:
        return ()
    if isinstance(given, str | bytes | Mapping) or not isinstance(given, Iterable):
        message = f"must be a list of integrations, not {_shown(given)}"
        raise _refused("integrations", message, _CAMPAIGN)
    out: list[IntegrationSettings] = []
    problems: list[SettingsProblem] = []
    for index, item in enumerate(given):
        where = f"integrations[{index}]"
        if isinstance(item, IntegrationSettings):
            out.append(item)
        elif isinstance(item, Mapping):
            try:
                out.append(IntegrationSettings.from_table(item))
            except SettingsError as exc:
                problems.extend(_under(where, exc.problems))
        else:
            message = f"must be an IntegrationSettings or a table, not {_shown(item)}"
            problems.append(SettingsProblem(path=where, message=message))
    if problems:
        raise SettingsError(problems, source=_CAMPAIGN)
    return tuple(out)


def _deadline(value: Seconds | None) -> float:
    return _DEADLINE if value is None else _seconds(value, "deadline", _CAMPAIGN)


def _max_age(value: Seconds | None) -> float | None:
    """A record's longest life: seconds (a number or its digits), or text with a unit."""
    given: object = value
    if given is None:
        return None
    if isinstance(given, str) and not _NUMBER_TEXT.fullmatch(given):
        match = _DURATION.fullmatch(given)
        if match is None:
            message = f"must be seconds or a duration such as '31d' or '12h', not {_shown(given)}"
            raise _refused("max_age", message, _CAMPAIGN)
        given = float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    return _seconds(given, "max_age", _CAMPAIGN)


def _campaign_rules(value: RulesGiven | None) -> RuleSet | UncheckedRules:
    return read_rules(value, "rules", _CAMPAIGN)


def _shadow_rules(value: RulesGiven | None) -> RuleSet | UncheckedRules:
    return read_rules(value, "shadow_rules", _CAMPAIGN)


@frozen(kw_only=True)
class CampaignSettings:
    """How one campaign's leads are screened.

    Like :class:`IntegrationSettings`, it takes the shapes of a settings file (integrations
    as tables too, ``deadline`` and ``max_age`` as text) and ``None`` for a default; a
    problem is a :class:`SettingsError` naming its path (``integrations[1].timeout``), with
    the problems of every integration given as a table at once.

    Attributes:
        campaign_id: The host's campaign id.
        integrations: The integrations configured for it, enabled or not.
        deadline: Seconds a whole screening may take; each integration gets the smaller of
            its own timeout and the time left.
        max_age: How long a lead's record stands, in seconds (or text with a unit: ``"31d"``,
            the DNC safe-harbour window); a lead posted again after that is screened again
            and its new record appended. ``None`` (the default): a record stands for ever.
        rules: Campaign rules, evaluated once the plan has run, over every integration's
            answer by qualified name (``purecallerid.status``, ``litigator.litigator``) and
            the lead (``lead.state``); their action counts in the decision like an
            integration's (``decided_by = "campaign:<rule id>"``). Rules given as data are
            kept as :class:`~purecallerid.UncheckedRules` until the campaign is checked.
        shadow_rules: Campaign rules on trial: evaluated and recorded like :attr:`rules`
            (``record.shadow``), they never count in the decision.
        settings_hash: SHA-256 of everything above but credentials' tokens, recorded with
            every decision (computed).
        has_flow: Whether the campaign uses any of ``when``, ``shadow``, ``sample``,
            ``rules`` or ``shadow_rules`` (computed): without them a lead costs nothing
            more than it did before they existed.
    """

    campaign_id: str = field(converter=_campaign_key)
    integrations: tuple[IntegrationSettings, ...] = field(factory=tuple, converter=_integrations)
    deadline: float = field(default=_DEADLINE, converter=_deadline)
    max_age: float | None = field(default=None, converter=_max_age)
    rules: RuleSet | UncheckedRules = field(factory=RuleSet.empty, converter=_campaign_rules)
    shadow_rules: RuleSet | UncheckedRules = field(factory=RuleSet.empty, converter=_shadow_rules)
    settings_hash: str = field(init=False, eq=False)
    has_flow: bool = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Refuse duplicate integration ids; compute the settings hash."""
        ids = [i.id for i in self.integrations]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            message = f"integration ids must be unique; repeated: {duplicates}"
            raise _refused("integrations", message, _CAMPAIGN)
        data = {
            "campaign_id": self.campaign_id,
            "deadline": self.deadline,
            "integrations": [i.fingerprint() for i in self.integrations],
        }
        if self.max_age is not None:  # absent otherwise: hashes of earlier settings stand
            data["max_age"] = self.max_age
        if len(self.rules):  # the same
            data["rules"] = self.rules.to_dict()
        if len(self.shadow_rules):
            data["shadow_rules"] = self.shadow_rules.to_dict()
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_canonical)
        object.__setattr__(self, "settings_hash", hashlib.sha256(text.encode()).hexdigest())
        flow = bool(len(self.rules) or len(self.shadow_rules)) or any(
            i.when is not None or i.shadow or i.sample is not None for i in self.integrations
        )
        object.__setattr__(self, "has_flow", flow)

    @property
    def has_shadow(self) -> bool:
        """Whether a part of the campaign is on trial: a shadow integration or shadow rules."""
        return bool(len(self.shadow_rules)) or any(i.shadow for i in self.integrations)

    def stages(self) -> list[tuple[int, tuple[IntegrationSettings, ...]]]:
        """The enabled integrations grouped by sort number, in ascending order."""
        by_sort: dict[int, list[IntegrationSettings]] = {}
        for integration in self.integrations:
            if integration.enabled:
                by_sort.setdefault(integration.sort, []).append(integration)
        return [(sort, tuple(by_sort[sort])) for sort in sorted(by_sort)]


class InMemorySettings:
    """A :class:`~purecallerid.typing.SettingsProvider` over campaigns built in code.

    Args:
        campaigns: The campaigns' settings.
    """

    def __init__(self, campaigns: Iterable[CampaignSettings] = ()) -> None:
        """Hold *campaigns*, by id."""
        self._campaigns = {c.campaign_id: c for c in campaigns}

    def put(self, campaign: CampaignSettings) -> None:
        """Add or replace a campaign's settings."""
        self._campaigns[campaign.campaign_id] = campaign

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        """Return the settings of *campaign_id*, or ``None``."""
        return self._campaigns.get(campaign_id)


class FileSettings(InMemorySettings):
    """A :class:`~purecallerid.typing.SettingsProvider` over a TOML or JSON file it can re-read.

    The whole file is checked when it is read: a problem anywhere at construction is a
    :class:`SettingsError` listing every problem with its path (a host must not start without
    settings). Later reads follow the admin's edits: :meth:`reload` re-reads on demand, and with
    *reload_every* :meth:`get_campaign` re-reads a file whose modification time, size or inode
    changed. A new version is checked whole and swapped in at once; a broken one (or a file that
    vanished) is refused with a WARNING on the ``purecallerid`` logger, and the last good version
    keeps screening leads. Each record's ``settings_hash`` shows which version decided it.

    Args:
        path: The settings file.
        kinds: The integrations on offer (see :func:`load_settings`).
        environ: Where ``${VAR}`` references are looked up (``os.environ``), again at each
            reload.
        reload_every: Seconds between two looks at the file from :meth:`get_campaign` (a
            ``stat``, cheap; the file is read only when it changed); ``0`` looks before every
            lead; ``None`` (the default) never: only :meth:`reload` re-reads.
        clock: Seconds for *reload_every*, monotonic (injectable for tests).

    Attributes:
        path: The settings file.
        state: The file's ``[state]`` table (where the guards keep their state), or ``None``;
            open it with :func:`~purecallerid.open_state_backend`. As read at construction: the
            state backend is opened once, so a change to it takes effect at a restart.
        last_error: The :class:`SettingsError` of the last refused read, or ``None`` when the
            last read was good.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        kinds: Iterable[Integration],
        environ: Mapping[str, str] | None = None,
        reload_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Read and check *path*."""
        self.path = Path(path)
        self._kinds = tuple(kinds)
        self._environ = environ
        self._reload_every = _reload_interval(reload_every)
        self._clock = clock
        # One reload at a time: two racing reads could otherwise swap in the older version last.
        self._lock = threading.Lock()
        self.last_error: SettingsError | None = None
        # Stat before reading: an edit that lands during the read changes the stamp again.
        self._stamp = _stamp(self.path)
        campaigns, self.state = self._load()
        self._checked_at = clock()
        super().__init__(campaigns.values())

    def campaign_ids(self) -> list[str]:
        """The campaigns defined in the file."""
        return list(self._campaigns)

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        """Return the settings of *campaign_id*, or ``None``; first re-read a changed file.

        With *reload_every*, at most once per that many seconds the file is looked at; when it
        changed it is re-read (see :meth:`reload`). Between looks this is a dictionary lookup.
        """
        if self._reload_every is not None and self._clock() - self._checked_at >= (
            self._reload_every
        ):
            self._reload_if_changed()
        return self._campaigns.get(campaign_id)

    def reload(self) -> bool:
        """Re-read and check the file now; swap the new version in when it is good.

        A broken file (or one that vanished) raises nothing: the problems are logged as a
        WARNING on the ``purecallerid`` logger and kept in :attr:`last_error`, and the last
        good version stays. Safe to call from any thread, also while leads are screened: the
        campaigns are replaced as one mapping, so a lead sees the old version or the new one.

        Returns:
            Whether the settings changed (a campaign added, removed or edited, tokens
            included).
        """
        with self._lock:
            return self._reload()

    def _reload_if_changed(self) -> None:
        # Never wait on a reload running in another thread: this lead takes the current version.
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._checked_at = self._clock()
            if _stamp(self.path) != self._stamp:
                self._reload()
        finally:
            self._lock.release()

    def _reload(self) -> bool:
        self._stamp = _stamp(self.path)
        self._checked_at = self._clock()
        try:
            campaigns, state = self._load()
        except SettingsError as error:
            self.last_error = error
            logger.warning("settings refused, the last good version stays: %s", error)
            return False
        self.last_error = None
        if state != self.state:
            logger.warning(
                "settings %s: the [state] table changed; it applies at a restart", self.path
            )
        changed = campaigns != self._campaigns
        if changed:
            # One assignment: a lead being screened holds the old mapping or the new one.
            self._campaigns = campaigns
            logger.info("settings reloaded from %s: %s", self.path, _hashes(campaigns))
        return changed

    def _load(self) -> tuple[dict[str, CampaignSettings], StateSettings | None]:
        # The loader builds this module's classes, so it can only be imported once they exist.
        from ._settings_loader import load_document  # noqa: PLC0415

        return load_document(self.path, kinds=self._kinds, environ=self._environ)


def _reload_interval(value: object) -> float | None:
    """*reload_every* checked: ``None``, or a finite number of seconds, 0 or more."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise ConfigurationError(
            f"reload_every must be None or a number of seconds >= 0, not {value!r}"
        )
    return float(value)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What tells a changed file from the one last read, or ``None`` when it is gone."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _hashes(campaigns: Mapping[str, CampaignSettings]) -> str:
    return ", ".join(f"{c.campaign_id} {c.settings_hash[:12]}" for c in campaigns.values()) or (
        "no campaigns"
    )
