"""Guard and state settings: loading, checking, hashing, the command line, the reference."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

import pytest

from purecallerid import (
    CacheSettings,
    CircuitBreakerSettings,
    ConfigurationError,
    FieldRegistry,
    FileSettings,
    InMemoryStateBackend,
    IntegrationSettings,
    QuotaSettings,
    RateLimitSettings,
    SettingsError,
    SQLiteStateBackend,
    StateSettings,
    load_settings,
    open_state_backend,
)
from purecallerid._guards.settings import GUARD_KEYS, STATE_KEYS
from purecallerid.cli import main
from purecallerid.testing import Simulator
from test_docs_reference import CONFIGURATION, KEY_ROW, sections


class Kind:
    """A minimal integration kind for the loader."""

    kind = "counting"
    fields = FieldRegistry(integration="counting", fields=())

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []


def load(integration: dict[str, Any], **document: Any) -> IntegrationSettings:
    data = {
        "campaigns": {"c": {"integrations": [{"kind": "counting", **integration}]}},
        **document,
    }
    return load_settings(data, kinds=[Kind()])["c"].integrations[0]  # type: ignore[list-item]


def problems(integration: dict[str, Any], **document: Any) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(integration, **document)
    return [str(p) for p in caught.value.problems]


def test_guard_tables_load_into_their_classes() -> None:
    """Each guard table becomes its settings class, defaults filled in."""
    settings = load(
        {
            "quota": {"daily": 500, "timezone": "America/New_York", "warn_at": 0.9},
            "rate_limit": {"per_second": 10, "burst": 2},
            "cache": {"ttl": 2_678_400, "fields": ["zip"]},
            "circuit_breaker": {"failures": 4, "cooldown": 60},
        }
    )
    assert settings.quota == QuotaSettings(daily=500, timezone="America/New_York", warn_at=0.9)
    assert settings.rate_limit == RateLimitSettings(per_second=10, burst=2)
    assert settings.cache == CacheSettings(ttl=2_678_400, fields=("zip",))
    assert settings.circuit_breaker == CircuitBreakerSettings(failures=4, cooldown=60)
    assert settings.guarded


def test_no_guards_unless_configured() -> None:
    """Settings without guard tables have none (the cache is off by default)."""
    settings = load({})
    assert (settings.quota, settings.rate_limit, settings.cache, settings.circuit_breaker) == (
        None,
        None,
        None,
        None,
    )
    assert not settings.guarded


def test_every_problem_of_the_guard_tables_is_reported_with_its_path() -> None:
    """Bad values, missing required keys and typos are each reported with their path."""
    found = problems(
        {
            "quota": {"daily": -1, "timezone": "Mars/Olympus", "warn_at": 1.5},
            "rate_limit": {"burst": 0},
            "cache": {"ttl": 0, "feilds": ["zip"]},
            "circuit_breaker": "yes",
        }
    )
    where = "campaigns.c.integrations[0]"
    expected = [
        f"{where}.quota.daily",
        f"{where}.quota.timezone",
        f"{where}.quota.warn_at",
        f"{where}.rate_limit.per_second: is required",
        f"{where}.rate_limit.burst",
        f"{where}.cache.ttl",
        f"{where}.cache.feilds: unknown key; did you mean 'fields'?",
        f"{where}.circuit_breaker: must be a table",
    ]
    for prefix in expected:
        assert any(p.startswith(prefix) for p in found), (prefix, found)
    assert len(found) == len(expected)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: QuotaSettings(daily=1, warn_at=0), "warn_at"),
        (lambda: RateLimitSettings(per_second=float("inf")), "per_second"),
        (lambda: CacheSettings(ttl=-1), "ttl"),
        (lambda: CircuitBreakerSettings(failures=0), "failures"),
        (lambda: StateSettings(backend="redis"), "url"),
        (lambda: StateSettings(backend="sqlite"), "path"),
        (lambda: StateSettings(backend="etcd"), "backend"),
    ],
)
def test_settings_classes_refuse_impossible_values(build: Any, message: str) -> None:
    """Built in code, each class refuses what the loader would."""
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_guards_change_the_settings_hash_and_only_then() -> None:
    """Guards are part of the settings hash; settings without them hash as before."""
    plain = IntegrationSettings(id="a", kind="counting")
    assert "quota" not in plain.fingerprint()
    guarded = IntegrationSettings(id="a", kind="counting", quota=QuotaSettings(daily=5))
    assert guarded.fingerprint()["quota"]["daily"] == 5
    assert plain.fingerprint() != guarded.fingerprint()


def test_state_table_is_read_by_file_settings(tmp_path: Path) -> None:
    """The [state] table is checked and exposed as FileSettings.state; the URL stays secret."""
    path = tmp_path / "settings.toml"
    path.write_text(
        '[state]\nbackend = "redis"\nurl = "redis://:hunter2@127.0.0.1:6379/0"\n'
        "[campaigns.c]\nintegrations = []\n"
    )
    settings = FileSettings(path, kinds=[])
    assert settings.state is not None
    assert settings.state.backend == "redis"
    assert "hunter2" not in repr(settings.state)


def test_state_table_problems_are_reported() -> None:
    """A state table with an unknown backend or without its location is refused."""
    found = problems({}, state={"backend": "sqlite", "pth": "x.db"})
    assert any(p.startswith("state.pth: unknown key; did you mean 'path'?") for p in found)
    assert any("needs a path" in p for p in found)


def test_open_state_backend_picks_the_backend(tmp_path: Path) -> None:
    """Memory by default; a relative SQLite path is resolved from the settings' folder."""
    assert isinstance(open_state_backend(StateSettings()), InMemoryStateBackend)
    sqlite = open_state_backend(StateSettings(backend="sqlite", path="s.db"), base_dir=tmp_path)
    assert isinstance(sqlite, SQLiteStateBackend)
    assert Path(sqlite.path) == tmp_path / "s.db"
    asyncio.run(sqlite.aclose())


def write_leads(path: Path, first: int, count: int) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["lead_id", "phone", "zip"])
        for n in range(first, first + count):
            writer.writerow([f"L{n}", f"212-734-{n:04d}", "10001"])


def test_command_line_shares_a_quota_through_sqlite_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `screen` runs with a SQLite [state] share one daily quota of 3 calls."""
    with Simulator() as simulator:
        tmp_path.joinpath("settings.toml").write_text(
            f"""
[state]
backend = "sqlite"
path = "guards.db"

[[campaigns.bulk.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{simulator.url}"
credentials = {{ api_token = "tok-CLI-QUOTA-1", campaign_id = "C1", list_name = "Main" }}
quota = {{ daily = 3 }}
"""
        )
        for run, first in enumerate((0, 2)):
            write_leads(tmp_path / f"leads{run}.csv", first, 2)
            code = main(
                [
                    "screen",
                    str(tmp_path / f"leads{run}.csv"),
                    "--settings",
                    str(tmp_path / "settings.toml"),
                    "--campaign",
                    "bulk",
                    "--out",
                    str(tmp_path / f"out{run}.csv"),
                    "--no-progress",
                ]
            )
            assert code == 0
        assert simulator.stats()["total_requests"] == 3
    capsys.readouterr()
    assert tmp_path.joinpath("guards.db").is_file()


GUARD_SECTIONS = {
    "Quota": GUARD_KEYS["quota"],
    "Rate limit": GUARD_KEYS["rate_limit"],
    "Cache": GUARD_KEYS["cache"],
    "Circuit breaker": GUARD_KEYS["circuit_breaker"],
    "State backend": STATE_KEYS,
}


@pytest.mark.parametrize("heading", sorted(GUARD_SECTIONS))
def test_configuration_reference_lists_every_guard_key(heading: str) -> None:
    """The configuration reference lists exactly the keys each guard table accepts."""
    section = sections(CONFIGURATION.read_text())[heading]
    assert set(KEY_ROW.findall(section)) == GUARD_SECTIONS[heading]


@pytest.mark.parametrize(
    ("guard", "table", "key"),
    [
        ("quota", {"daily": None}, "daily"),
        ("quota", {"daily": 5, "timezone": None}, "timezone"),
        ("quota", {"daily": 5, "warn_at": None}, "warn_at"),
        ("rate_limit", {"per_second": None}, "per_second"),
        ("rate_limit", {"per_second": 5, "burst": None}, "burst"),
        ("cache", {"ttl": None}, "ttl"),
        ("cache", {"ttl": 5, "fields": None}, "fields"),
        ("circuit_breaker", {"failures": None}, "failures"),
        ("circuit_breaker", {"cooldown": None}, "cooldown"),
    ],
)
def test_null_is_a_wrong_type_where_the_default_is_not_null(
    guard: str, table: dict[str, Any], key: str
) -> None:
    """JSON null for a key whose default is not None is reported at load, with its path."""
    found = problems({"id": "x", guard: table})
    assert any(f"integrations[0].{guard}.{key}" in p for p in found), found


def test_null_means_the_default_where_the_default_is_null() -> None:
    """key, max_wait and min_call_time may be null: their default is None."""
    settings = load(
        {
            "id": "x",
            "quota": {"daily": 5, "key": None},
            "rate_limit": {"per_second": 5, "max_wait": None, "min_call_time": None},
        }
    )
    assert settings.rate_limit is not None
    assert settings.rate_limit.max_wait is None


def test_null_state_keys_are_reported() -> None:
    """backend = null and prefix = null in [state] are problems with their path."""
    found = problems({"id": "x"}, state={"backend": None, "prefix": None})
    assert any("state.backend" in p for p in found), found
    assert any("state.prefix" in p for p in found), found


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (QuotaSettings, {"daily": None}),
        (RateLimitSettings, {"per_second": None}),
        (CacheSettings, {"ttl": None}),
        (CircuitBreakerSettings, {"failures": None}),
        (StateSettings, {"backend": None}),
    ],
)
def test_none_is_refused_in_code(cls: Any, values: dict[str, Any]) -> None:
    """Settings built in code refuse None where the default is not None."""
    with pytest.raises(ConfigurationError):
        cls(**values)


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "redis:/x"])
def test_state_url_must_be_a_redis_url(url: str) -> None:
    """A [state] url of another scheme is a problem at load, not an error at the first lead."""
    found = problems({"id": "x"}, state={"backend": "redis", "url": url})
    assert any("state.url" in p for p in found), found
    with pytest.raises(ConfigurationError, match="redis://"):
        StateSettings(backend="redis", url=url)
