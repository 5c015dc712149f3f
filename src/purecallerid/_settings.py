"""Campaign settings: what to screen a campaign's leads with, and how.

Settings are data. A host builds :class:`CampaignSettings` in code from its own settings UI
and database, or loads them from a TOML or JSON file with :func:`load_settings`. Either way
they are checked whole when loaded, so a broken campaign is a :class:`SettingsError` listing
every problem with its path, not a failed lead at 2 a.m.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from attrs import Attribute, field, frozen

from ._errors import ConfigurationError, RuleValidationError, SettingsError
from ._guards.settings import (
    GUARD_KEYS,
    CacheSettings,
    CircuitBreakerSettings,
    QuotaSettings,
    RateLimitSettings,
    StateSettings,
    guard_fingerprint,
    load_guard,
    load_state,
)
from ._mapping import FieldMapping, structure_mapping, unstructure_mapping
from ._rules.check import Severity
from ._rules.model import Action
from ._rules.ruleset import RuleSet
from ._secrets import Secret

if TYPE_CHECKING:
    from .typing import Integration

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
    "load_settings",
]


@frozen(kw_only=True)
class SettingsProblem:
    """One problem in a settings document.

    Attributes:
        path: Where, as a dotted path (``campaigns.demo.integrations[1].rules[0]``).
        message: What is wrong, in one sentence.
    """

    path: str
    message: str

    def __str__(self) -> str:
        """``path: message``."""
        return f"{self.path}: {self.message}"


def _secret_or_none(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


@frozen(kw_only=True)
class Credentials:
    """An integration's credential set. The token is a :class:`Secret`: never shown.

    Attributes:
        api_token: The vendor's API token.
        campaign_id: The vendor-side campaign id.
        list_name: The vendor-side dialer list name.
        dialer_list_id: The vendor-side dialer list id (PureCallerID's ``public`` dialect).
    """

    api_token: Secret | None = field(default=None, converter=_secret_or_none)
    campaign_id: str | None = None
    list_name: str | None = None
    dialer_list_id: str | None = None


def _as_action(value: Action | str) -> Action:
    try:
        return Action(value)
    except ValueError:
        raise ConfigurationError(
            f"failure_policy must be accept, flag, qa or reject, not {value!r}"
        ) from None


# Settings built in code get the checks a settings file gets, so that a typo is an error at
# construction rather than a TypeError (or a silently ignored value) while screening a lead.
def _text(_: object, attribute: Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{attribute.name} must be a non-empty string, not {value!r}")


def _flag(_: object, attribute: Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{attribute.name} must be true or false, not {value!r}")


def _whole(_: object, attribute: Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{attribute.name} must be a whole number, not {value!r}")


def _timeout(value: object) -> float:
    return _seconds(value, "timeout")


def _deadline(value: object) -> float:
    return _seconds(value, "deadline")


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number of seconds, not {value!r}")
    seconds = float(value)  # 5 and 5.0 are one setting, and hash as one
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {value!r}")
    return seconds


def _canonical(value: object) -> object:
    """JSON for what json cannot write, the same in every process (sets are sorted)."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    return str(value)


def _as_dict(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(value)


@frozen(kw_only=True)
class IntegrationSettings:
    """One integration switched on (or off) for a campaign.

    Attributes:
        id: Its id within the campaign (defaults to the kind); names it in records.
        kind: Which integration implementation runs it (``"purecallerid"``, ``"suppression"``).
        enabled: The toggle. A disabled integration is recorded as skipped, never called.
        sort: The integration sort number: equal numbers run in parallel, stages in
            ascending order.
        credentials: The vendor credentials.
        base_url: The vendor's host URL (from the credentials' paperwork).
        dialect: The wire format, for integrations that have several (``"leadexec"``).
        mapping: Lead field mapping; ``None`` uses the integration's default.
        rules: The criteria rules applied to the answer.
        timeout: Seconds this integration may take per lead, retries included.
        failure_policy: The action when it fails (timeout, vendor error, unmappable lead).
            ``qa`` by default: see "failure policies" in the docs.
        skip_remaining_on_reject: When it rejects a lead, skip the later stages.
        cancel_siblings_on_reject: When it rejects a lead, cancel the integrations of its own
            stage still running (off by default: a cancelled call may already be billed,
            and its answer is lost as evidence).
        options: Settings of its own kind (for instance the suppression list's file).
        quota: A daily quota per credential (:class:`~purecallerid.QuotaSettings`), or
            ``None``.
        rate_limit: A rate per credential (:class:`~purecallerid.RateLimitSettings`), or
            ``None``.
        cache: A result cache (:class:`~purecallerid.CacheSettings`); ``None`` (off) by
            default, and it must stay off for PureCallerID, whose call loads the lead.
        circuit_breaker: A circuit breaker per endpoint
            (:class:`~purecallerid.CircuitBreakerSettings`), or ``None``.
    """

    id: str = field(validator=_text)
    kind: str = field(validator=_text)
    enabled: bool = field(default=True, validator=_flag)
    sort: int = field(default=1, validator=_whole)
    credentials: Credentials = field(factory=Credentials)
    base_url: str | None = None
    dialect: str = "leadexec"
    mapping: FieldMapping | None = None
    rules: RuleSet = field(factory=RuleSet.empty)
    timeout: float = field(default=5.0, converter=_timeout)
    failure_policy: Action = field(default=Action.QA, converter=_as_action)
    skip_remaining_on_reject: bool = field(default=True, validator=_flag)
    cancel_siblings_on_reject: bool = field(default=False, validator=_flag)
    options: Mapping[str, Any] = field(factory=dict, converter=_as_dict)
    quota: QuotaSettings | None = None
    rate_limit: RateLimitSettings | None = None
    cache: CacheSettings | None = None
    circuit_breaker: CircuitBreakerSettings | None = None

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
        # Guards only when set, so that the hash of settings without guards stays as it was.
        for name in GUARD_KEYS:
            guard = guard_fingerprint(getattr(self, name))
            if guard is not None:
                data[name] = guard
        return data

    def _fingerprint(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "enabled": self.enabled,
            "sort": self.sort,
            "credentials": {
                "campaign_id": self.credentials.campaign_id,
                "list_name": self.credentials.list_name,
                "dialer_list_id": self.credentials.dialer_list_id,
            },
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


def _as_tuple(value: Iterable[IntegrationSettings]) -> tuple[IntegrationSettings, ...]:
    return tuple(value)


@frozen(kw_only=True)
class CampaignSettings:
    """How one campaign's leads are screened.

    Attributes:
        campaign_id: The host's campaign id.
        integrations: The integrations configured for it, enabled or not.
        deadline: Seconds a whole screening may take; each integration gets the smaller of
            its own timeout and the time left.
        settings_hash: SHA-256 of everything above but credentials' tokens, recorded with
            every decision (computed).
    """

    campaign_id: str
    integrations: tuple[IntegrationSettings, ...] = field(factory=tuple, converter=_as_tuple)
    deadline: float = field(default=15.0, converter=_deadline)
    settings_hash: str = field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        """Refuse duplicate integration ids; compute the settings hash."""
        ids = [i.id for i in self.integrations]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigurationError(f"integration ids must be unique; repeated: {duplicates}")
        data = {
            "campaign_id": self.campaign_id,
            "deadline": self.deadline,
            "integrations": [i.fingerprint() for i in self.integrations],
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_canonical)
        object.__setattr__(self, "settings_hash", hashlib.sha256(text.encode()).hexdigest())

    def stages(self) -> list[tuple[int, tuple[IntegrationSettings, ...]]]:
        """The enabled integrations grouped by sort number, in ascending order."""
        by_sort: dict[int, list[IntegrationSettings]] = {}
        for integration in self.integrations:
            if integration.enabled:
                by_sort.setdefault(integration.sort, []).append(integration)
        return [(sort, tuple(by_sort[sort])) for sort in sorted(by_sort)]


# -- loading from data -------------------------------------------------------------------

_VARIABLE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_INTEGRATION_KEYS: Final = frozenset(
    {
        "id",
        "kind",
        "enabled",
        "sort",
        "credentials",
        "base_url",
        "dialect",
        "mapping",
        "rules",
        "timeout",
        "failure_policy",
        "skip_remaining_on_reject",
        "cancel_siblings_on_reject",
        "options",
        *GUARD_KEYS,
    }
)
_CREDENTIAL_KEYS: Final = frozenset({"api_token", "campaign_id", "list_name", "dialer_list_id"})
_CAMPAIGN_KEYS: Final = frozenset({"deadline", "integrations"})
_DOCUMENT_KEYS: Final = frozenset({"campaigns", "state"})


class _Collector:
    def __init__(self) -> None:
        self.problems: list[SettingsProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(SettingsProblem(path=path, message=message))


def _expand(value: Any, path: str, environ: Mapping[str, str], out: _Collector) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of *value*."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            out.add(path, f"environment variable {name} is not set (and has no default)")
            return ""

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: _expand(v, f"{path}.{k}", environ, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{path}[{i}]", environ, out) for i, v in enumerate(value)]
    return value


def _unknown_keys(
    data: Mapping[str, Any], allowed: frozenset[str], path: str, out: _Collector
) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {sorted(allowed)}"
            out.add(f"{path}.{key}", f"unknown key{hint}")


def _typed(  # noqa: PLR0917 - private, reads like a table at its call sites
    data: Mapping[str, Any],
    key: str,
    kinds: type | tuple[type, ...],
    what: str,
    path: str,
    out: _Collector,
) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        out.add(f"{path}.{key}", f"must be {what}, not a boolean")
        return None
    if not isinstance(value, kinds):
        out.add(f"{path}.{key}", f"must be {what}, not {type(value).__name__}")
        return None
    return value


def _positive(value: Any, path: str, out: _Collector) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        out.add(path, f"must be a positive number of seconds, not {value!r}")
        return None
    return number


def _load_rules(  # noqa: PLR0911 - one return per accepted shape
    value: Any, kind: Integration | None, path: str, out: _Collector
) -> RuleSet:
    if value is None:
        return RuleSet.empty()
    if kind is None:
        return RuleSet.empty()  # the unknown kind is reported already
    try:
        if isinstance(value, str):
            return RuleSet.from_text(value, kind.fields)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return RuleSet.from_text("\n".join(value), kind.fields)
        if isinstance(value, list):
            return RuleSet.from_dict({"rules": value}, kind.fields)
        return RuleSet.from_dict(value, kind.fields)
    except RuleValidationError as exc:
        for problem in exc.problems:
            if problem.severity is Severity.ERROR:
                where = (
                    problem.path
                    if problem.line is None
                    else f"line {problem.line}, column {problem.column}"
                )
                suggestion = (
                    f" (did you mean {problem.suggestion!r}?)"
                    if problem.suggestion and "did you mean" not in problem.message
                    else ""
                )
                out.add(f"{path} {where}", f"{problem.message}{suggestion}")
        return RuleSet.empty()


def _load_integration(  # noqa: C901, PLR0912 - one flat pass over the keys reads best
    data: Any,
    path: str,
    kinds: Mapping[str, Integration],
    out: _Collector,
) -> IntegrationSettings | None:
    if not isinstance(data, Mapping):
        out.add(path, "must be a table of integration settings")
        return None
    _unknown_keys(data, _INTEGRATION_KEYS, path, out)
    before = len(out.problems)
    kind_name = _typed(data, "kind", str, "a kind name", path, out)
    if kind_name is None:
        if "kind" not in data:
            out.add(f"{path}.kind", f"is required; known kinds: {sorted(kinds)}")
        return None
    kind = kinds.get(kind_name)
    if kind is None:
        out.add(f"{path}.kind", f"unknown kind {kind_name!r}; known kinds: {sorted(kinds)}")
    identifier = _typed(data, "id", str, "a name", path, out) or kind_name
    enabled = _typed(data, "enabled", bool, "true or false", path, out)
    sort = _typed(data, "sort", int, "a whole number", path, out)
    timeout = _positive(
        _typed(data, "timeout", (int, float), "a number", path, out), f"{path}.timeout", out
    )
    base_url = _typed(data, "base_url", str, "a URL", path, out)
    dialect = _typed(data, "dialect", str, "a dialect name", path, out)
    policy = _typed(data, "failure_policy", str, "an action", path, out)
    if policy is not None and policy not in {a.value for a in Action}:
        out.add(
            f"{path}.failure_policy", f"unknown action {policy!r}; use accept, flag, qa or reject"
        )
        policy = None
    skip = _typed(data, "skip_remaining_on_reject", bool, "true or false", path, out)
    cancel = _typed(data, "cancel_siblings_on_reject", bool, "true or false", path, out)
    options = _typed(data, "options", Mapping, "a table", path, out)
    credentials = Credentials()
    raw_credentials = _typed(data, "credentials", Mapping, "a table", path, out)
    if raw_credentials is not None:
        _unknown_keys(raw_credentials, _CREDENTIAL_KEYS, f"{path}.credentials", out)
        values = {}
        for key in _CREDENTIAL_KEYS & set(raw_credentials):
            value = raw_credentials[key]
            if not isinstance(value, str | int) or isinstance(value, bool):
                out.add(f"{path}.credentials.{key}", "must be text")
                continue
            text = str(value).strip()
            values[key] = text or None  # an empty value is a missing one
        credentials = Credentials(**values)
    mapping = None
    if data.get("mapping") is not None:
        try:
            mapping = structure_mapping(data["mapping"])
        except ConfigurationError as exc:
            out.add(f"{path}.mapping", str(exc).removeprefix("mapping: "))
    rules = _load_rules(data.get("rules"), kind, f"{path}.rules", out)
    guards = {
        name: load_guard(name, data[name], f"{path}.{name}", out.add)
        for name in GUARD_KEYS
        if data.get(name) is not None
    }
    if len(out.problems) > before:
        return None
    settings = IntegrationSettings(
        id=identifier,
        kind=kind_name,
        enabled=True if enabled is None else enabled,
        sort=1 if sort is None else sort,
        credentials=credentials,
        base_url=base_url,
        dialect=dialect or "leadexec",
        mapping=mapping,
        rules=rules,
        timeout=5.0 if timeout is None else timeout,
        failure_policy=policy or Action.QA,
        skip_remaining_on_reject=True if skip is None else skip,
        cancel_siblings_on_reject=bool(cancel),
        options=options or {},
        **guards,
    )
    if kind is not None and settings.enabled:
        for message in kind.check_settings(settings):
            out.add(path, message)
    return settings


def _load_campaign(
    campaign_id: str, data: Any, path: str, kinds: Mapping[str, Integration], out: _Collector
) -> CampaignSettings | None:
    if not isinstance(data, Mapping):
        out.add(path, "must be a table of campaign settings")
        return None
    _unknown_keys(data, _CAMPAIGN_KEYS, path, out)
    deadline = _positive(
        _typed(data, "deadline", (int, float), "a number", path, out), f"{path}.deadline", out
    )
    raw = data.get("integrations", [])
    if not isinstance(raw, list):
        out.add(f"{path}.integrations", "must be a list of integration tables")
        return None
    loaded = [
        _load_integration(item, f"{path}.integrations[{i}]", kinds, out)
        for i, item in enumerate(raw)
    ]
    integrations = [i for i in loaded if i is not None]
    if len(integrations) != len(loaded):
        return None
    try:
        return CampaignSettings(
            campaign_id=campaign_id,
            integrations=integrations,
            deadline=15.0 if deadline is None else deadline,
        )
    except ConfigurationError as exc:
        out.add(f"{path}.integrations", str(exc))
        return None


def load_settings(
    source: str | Path | Mapping[str, Any],
    *,
    kinds: Iterable[Integration],
    environ: Mapping[str, str] | None = None,
) -> dict[str, CampaignSettings]:
    """Load and check every campaign of a settings document.

    Args:
        source: A ``.toml`` or ``.json`` file, or the already-parsed document:
            ``{"campaigns": {"<campaign id>": {"deadline": ..., "integrations": [...]}}}``.
        kinds: The integrations the host offers; each integration's ``kind`` must name one,
            its rules are checked against that integration's fields, and its settings with
            the integration's own :meth:`~purecallerid.typing.Integration.check_settings`.
        environ: Where ``${VAR}`` and ``${VAR:-default}`` are looked up (``os.environ``).

    Returns:
        The campaigns by id. The document's optional ``state`` table (where the guards keep
        their state) is checked too; :attr:`FileSettings.state` holds it.

    Raises:
        SettingsError: The document is unreadable or has problems; lists every one.
    """
    return _load_document(source, kinds=kinds, environ=environ)[0]


def _load_document(
    source: str | Path | Mapping[str, Any],
    *,
    kinds: Iterable[Integration],
    environ: Mapping[str, str] | None,
) -> tuple[dict[str, CampaignSettings], StateSettings | None]:
    name = "settings"
    if isinstance(source, str | Path):
        name = str(source)
        data = _read(Path(source))
    else:
        data = source
    out = _Collector()
    by_kind = {k.kind: k for k in kinds}
    if not isinstance(data, Mapping):
        raise SettingsError(
            [SettingsProblem(path="(document)", message="must be a table")], source=name
        )
    data = _expand(data, "", os.environ if environ is None else environ, out)
    _unknown_keys(data, _DOCUMENT_KEYS, "", out)
    state = None if data.get("state") is None else load_state(data["state"], out.add)
    campaigns_data = data.get("campaigns")
    campaigns: dict[str, CampaignSettings] = {}
    if not isinstance(campaigns_data, Mapping):
        out.add("campaigns", "is required: a table of campaigns by id")
    else:
        for campaign_id, campaign_data in campaigns_data.items():
            loaded = _load_campaign(
                str(campaign_id), campaign_data, f"campaigns.{campaign_id}", by_kind, out
            )
            if loaded is not None:
                campaigns[str(campaign_id)] = loaded
    if out.problems:
        fixed = [SettingsProblem(path=p.path.lstrip("."), message=p.message) for p in out.problems]
        raise SettingsError(fixed, source=name)
    return campaigns, state


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            [
                SettingsProblem(
                    path="(file)", message=f"cannot read: {exc.__class__.__name__}: {exc}"
                )
            ],
            source=str(path),
        ) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        fmt = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise SettingsError(
            [SettingsProblem(path="(file)", message=f"not valid {fmt}: {exc}")], source=str(path)
        ) from None


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
    """A :class:`~purecallerid.typing.SettingsProvider` reading a TOML or JSON file once.

    The whole file is checked when it is read: a problem anywhere is a :class:`SettingsError`
    from the constructor, listing every problem with its path.

    Args:
        path: The settings file.
        kinds: The integrations on offer (see :func:`load_settings`).
        environ: Where ``${VAR}`` references are looked up (``os.environ``).

    Attributes:
        state: The file's ``[state]`` table (where the guards keep their state), or ``None``;
            open it with :func:`~purecallerid.open_state_backend`.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        kinds: Iterable[Integration],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """Read and check *path*."""
        self.path = Path(path)
        campaigns, self.state = _load_document(self.path, kinds=kinds, environ=environ)
        super().__init__(campaigns.values())

    def campaign_ids(self) -> list[str]:
        """The campaigns defined in the file."""
        return list(self._campaigns)
