"""The guards' keys: which calls share a quota, a rate limit, a breaker or a cached answer.

Derived from the integration's settings without knowing its vendor: the kind, the base URL,
every credential (secrets hashed, never stored) and whatever else decides what is sent (the
dialect, the options, the field mapping). Keys are hashed, so that neither a token nor a phone
ever reaches a state backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import ConfigurationError, InvalidPhoneError
from .._mapping import unstructure_mapping
from .._phone import normalize_phone
from .._secrets import Secret

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._models import Lead
    from .._settings import Credentials, IntegrationSettings

__all__ = ["cache_key", "credential_key", "endpoint_key", "vendor_day"]

_DAY_SLACK: Final = 3600.0
"""Seconds a vendor day's quota counter outlives the day (clocks of hosts differ)."""


def _sha(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _secret_hash(secret: Secret) -> str:
    return hashlib.sha256(secret.reveal().encode()).hexdigest()


def _token_hash(settings: IntegrationSettings) -> str:
    """A hash of the credential's secrets (whatever they are named), empty when it has none."""
    credentials = settings.credentials
    secrets = (getattr(credentials, a.name) for a in attrs.fields(type(credentials)))
    hashes = [_secret_hash(value) for value in secrets if isinstance(value, Secret)]
    # The named secrets too (an account SID and its auth token): another account, another
    # quota. After the others, so that a credential without them keeps the key it had.
    hashes += [f"{name}={_secret_hash(value)}" for name, value in _named(credentials)]
    return "\0".join(hashes)


def _named(credentials: Credentials) -> list[tuple[str, Secret]]:
    return sorted(credentials.secrets.items())


def _credential_scope(settings: IntegrationSettings) -> dict[str, Any]:
    """Every credential by name, a secret by its hash: another list or account, another key."""
    credentials = settings.credentials
    scope: dict[str, Any] = {}
    for attribute in attrs.fields(type(credentials)):
        value = getattr(credentials, attribute.name)
        scope[attribute.name] = _secret_hash(value) if isinstance(value, Secret) else value
    # The named secrets' mapping by hash: their text is `***` for every account.
    scope["secrets"] = {name: _secret_hash(value) for name, value in _named(credentials)}
    return scope


def credential_key(settings: IntegrationSettings) -> str:
    """The quota and rate limit's default key: kind, base URL, hash of the token."""
    return f"{settings.kind}:{_sha(settings.base_url or '', _token_hash(settings))}"


def endpoint_key(settings: IntegrationSettings) -> str:
    """The breaker's default key: kind and base URL (an outage is the endpoint's)."""
    return f"{settings.kind}:{_sha(settings.base_url or '')}"


def _lookup(fields: Mapping[str, Any], path: str) -> Any:
    value: Any = fields
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return fields.get(path)
    return value


def cache_key(lead: Lead, settings: IntegrationSettings) -> str | None:
    """The cache key of *lead* for *settings*, or ``None`` when it has no valid phone.

    Hashed: the phone and the token never appear in a key.
    """
    cache = settings.cache
    if cache is None:
        return None
    region = "US" if settings.mapping is None else settings.mapping.phone_region
    try:
        phone = normalize_phone(_lookup(lead.fields, cache.phone), region=region)
    except (InvalidPhoneError, ConfigurationError):
        return None
    scope = [
        settings.kind,
        settings.base_url,
        settings.dialect,
        _credential_scope(settings),
        dict(settings.options),
        # The mapping decides what is sent: another mapping may send another request.
        None if settings.mapping is None else unstructure_mapping(settings.mapping),
    ]
    fields = {name: _lookup(lead.fields, name) for name in cache.fields}
    text = json.dumps([scope, phone, fields], sort_keys=True, default=str)
    return f"{settings.kind}:{hashlib.sha256(text.encode()).hexdigest()}"


def vendor_day(timezone: str, now: float) -> tuple[str, float]:
    """The vendor day of Unix time *now* in *timezone*, and when its counter may expire."""
    zone = zoneinfo.ZoneInfo(timezone)
    day = dt.datetime.fromtimestamp(now, zone).date()
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return day.isoformat(), midnight.timestamp() + _DAY_SLACK
