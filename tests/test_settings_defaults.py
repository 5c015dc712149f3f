"""Settings defaults are stated once, by the settings classes: the loader adds none of its own.

A minimal document must load into the very objects the classes build from their required
arguments alone; a default restated by the loader (and changed in one place only) fails here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import pytest

from purecallerid import (
    CacheSettings,
    CampaignSettings,
    CircuitBreakerSettings,
    Credentials,
    FieldRegistry,
    FileSettings,
    IntegrationSettings,
    Lead,
    PureCallerIDIntegration,
    QuotaSettings,
    RateLimitSettings,
    SettingsError,
    StateSettings,
    load_settings,
)
from purecallerid._settings_loader import _CAMPAIGN_KEYS, _CREDENTIAL_KEYS, _INTEGRATION_KEYS
from purecallerid.typing import IntegrationAnswer


class Kind:
    """An integration kind that accepts any settings, so that none has to be given."""

    kind = "minimal"
    fields = FieldRegistry(integration="minimal", fields=())

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        raise AssertionError("loading settings never screens a lead")

    async def aclose(self) -> None:
        pass


def campaign(**data: Any) -> CampaignSettings:
    return load_settings({"campaigns": {"c": data}}, kinds=[Kind()])["c"]


def integration(**data: Any) -> IntegrationSettings:
    (loaded,) = campaign(integrations=[{"kind": "minimal", **data}]).integrations
    return loaded


def assert_same(loaded: Any, built: Any) -> None:
    """Equal field by field (named on failure), and equal as a whole."""
    for field in attrs.fields(type(built)):
        assert getattr(loaded, field.name) == getattr(built, field.name), field.name
    assert loaded == built


def test_minimal_campaign_gets_the_class_defaults() -> None:
    loaded = campaign()
    built = CampaignSettings(campaign_id="c")
    assert_same(loaded, built)
    assert loaded.settings_hash == built.settings_hash


def test_minimal_integration_gets_the_class_defaults() -> None:
    loaded = integration()
    built = IntegrationSettings(id="minimal", kind="minimal")
    assert_same(loaded, built)
    assert loaded.fingerprint() == built.fingerprint()


def test_null_values_get_the_class_defaults() -> None:
    """A JSON null is a key left out, for every key whose default is not required."""
    optional = _INTEGRATION_KEYS - {"id", "kind"}
    loaded = integration(**dict.fromkeys(optional))
    assert_same(loaded, IntegrationSettings(id="minimal", kind="minimal"))
    assert_same(campaign(deadline=None), CampaignSettings(campaign_id="c"))


def test_empty_tables_get_the_class_defaults() -> None:
    loaded = integration(credentials={}, options={})
    assert_same(loaded, IntegrationSettings(id="minimal", kind="minimal"))
    assert_same(integration(credentials={"list_name": " "}).credentials, Credentials())


def test_minimal_guard_tables_get_the_class_defaults() -> None:
    loaded = integration(
        quota={"daily": 10},
        rate_limit={"per_second": 2},
        cache={"ttl": 60},
        circuit_breaker={},
    )
    assert_same(loaded.quota, QuotaSettings(daily=10))
    assert_same(loaded.rate_limit, RateLimitSettings(per_second=2))
    assert_same(loaded.cache, CacheSettings(ttl=60))
    assert_same(loaded.circuit_breaker, CircuitBreakerSettings())


@pytest.mark.parametrize(
    ("guard", "required"),
    [("quota", "daily"), ("rate_limit", "per_second"), ("cache", "ttl")],
)
def test_guard_tables_require_what_the_classes_require(guard: str, required: str) -> None:
    with pytest.raises(SettingsError) as caught:
        integration(**{guard: {}})
    assert [str(p) for p in caught.value.problems] == [
        f"campaigns.c.integrations[0].{guard}.{required}: is required"
    ]


def test_empty_state_table_gets_the_class_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[state]\n\n[campaigns.c]\n")
    settings = FileSettings(path, kinds=[Kind()])
    assert settings.state is not None
    assert_same(settings.state, StateSettings())


def test_key_tables_name_the_class_fields() -> None:
    """Every key the loader reads is a field of the class it builds, and the other way round."""
    assert {f.name for f in attrs.fields(IntegrationSettings)} == _INTEGRATION_KEYS
    # Every other credential key of a document is one of the named `secrets`.
    assert {f.name for f in attrs.fields(Credentials)} == _CREDENTIAL_KEYS | {"secrets"}
    # The campaign id is the campaign's key in the document; the hash is computed.
    campaign_fields = {f.name for f in attrs.fields(CampaignSettings) if f.init}
    assert campaign_fields - {"campaign_id"} == _CAMPAIGN_KEYS


def test_empty_dialect_is_refused_as_in_code() -> None:
    """An empty dialect is the dialect "", in a file as in code (it once meant "leadexec")."""
    pcid = PureCallerIDIntegration()
    data = {
        "kind": "purecallerid",
        "dialect": "",
        "base_url": "https://purecallerid.test",
        "credentials": {"api_token": "token-0k-123", "campaign_id": "C1", "list_name": "Main"},
    }
    try:
        with pytest.raises(SettingsError) as caught:
            load_settings({"campaigns": {"c": {"integrations": [data]}}}, kinds=[pcid])
    finally:
        asyncio.run(pcid.aclose())
    built = IntegrationSettings(
        id="purecallerid",
        kind="purecallerid",
        dialect="",
        base_url="https://purecallerid.test",
        credentials=Credentials(api_token="token-0k-123", campaign_id="C1", list_name="Main"),
    )
    assert [p.message for p in caught.value.problems] == pcid.check_settings(built)
