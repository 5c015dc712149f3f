"""Campaign settings: what to screen a campaign's leads with, and how.

Settings are data. A host builds :class:`CampaignSettings` in code from its own settings UI
and database, or loads them from a TOML or JSON file with :func:`load_settings` (in
``_settings_loader``). Either way they are checked whole when built, so a broken campaign is
an error naming the problem, not a failed lead at 2 a.m. This module holds the settings
classes, whose defaults are the only statement of the defaults, and the two providers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from attrs import Attribute, field, frozen

from ._errors import ConfigurationError, SettingsError
from ._guards.settings import (
    GUARD_KEYS,
    CacheSettings,
    CircuitBreakerSettings,
    QuotaSettings,
    RateLimitSettings,
    StateSettings,
    guard_fingerprint,
)
from ._mapping import FieldMapping, unstructure_mapping
from ._rules.model import Action
from ._rules.ruleset import RuleSet
from ._secrets import Secret

if TYPE_CHECKING:
    from .typing import Integration

logger: Final = logging.getLogger("purecallerid")

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


def _secret_map(value: Mapping[str, str | Secret]) -> Mapping[str, Secret]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"credentials.secrets must be a table, not {value!r}")
    out: dict[str, Secret] = {}
    for name, secret in value.items():
        if not name.isidentifier():
            raise ConfigurationError(f"credentials: {name!r} is not a credential name")
        if not isinstance(secret, str | Secret):
            raise ConfigurationError(f"credentials.{name} must be text")
        out[name] = secret if isinstance(secret, Secret) else Secret(secret)
    return out


@frozen(kw_only=True)
class Credentials:
    """An integration's credential set. Every secret is a :class:`Secret`: never shown.

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

    api_token: Secret | None = field(default=None, converter=_secret_or_none)
    campaign_id: str | None = None
    list_name: str | None = None
    dialer_list_id: str | None = None
    secrets: Mapping[str, Secret] = field(factory=dict, converter=_secret_map)


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


_DURATION: Final = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd])\s*", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _max_age(value: object) -> float | None:
    """A record's longest life: seconds, or text with a unit (``"31d"``, ``"12h"``)."""
    if value is None:
        return None
    if isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match is None:
            raise ConfigurationError(
                f"max_age must be seconds or a duration such as '31d' or '12h', not {value!r}"
            )
        value = float(match[1]) * _UNIT_SECONDS[match[2].lower()]
    return _seconds(value, "max_age")


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
    http: Mapping[str, Any] = field(factory=dict, converter=_as_dict)
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
        if self.http:  # only when set: the hashes of earlier settings stand
            data["http"] = dict(self.http)
        # Guards only when set, so that the hash of settings without guards stays as it was.
        for name in GUARD_KEYS:
            guard = guard_fingerprint(getattr(self, name))
            if guard is not None:
                data[name] = guard
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
        max_age: How long a lead's record stands, in seconds (or text with a unit: ``"31d"``,
            the DNC safe-harbour window); a lead posted again after that is screened again
            and its new record appended. ``None`` (the default): a record stands for ever.
        settings_hash: SHA-256 of everything above but credentials' tokens, recorded with
            every decision (computed).
    """

    campaign_id: str
    integrations: tuple[IntegrationSettings, ...] = field(factory=tuple, converter=_as_tuple)
    deadline: float = field(default=15.0, converter=_deadline)
    max_age: float | None = field(default=None, converter=_max_age)
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
        if self.max_age is not None:  # absent otherwise: hashes of earlier settings stand
            data["max_age"] = self.max_age
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_canonical)
        object.__setattr__(self, "settings_hash", hashlib.sha256(text.encode()).hexdigest())

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
