"""Settings built in code: the shapes of the configuration reference, or a SettingsError.

A host builds settings from its own database (JSON columns, 0/1 booleans, NULLs, numbers as
text). Every documented shape is accepted; anything else is a ``SettingsError`` naming the
setting's path, at construction, never an ``AttributeError`` or a ``TypeError`` at the first
lead. Rules given as data are checked against the kind's fields when the screener first sees
the settings version (or by ``check_campaign``), and a provider that cannot build its settings
holds the lead for QA with a note.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _scripted import SCRIPTED_FIELDS, Scripted
from purecallerid import (
    Action,
    AsyncScreener,
    CacheSettings,
    CampaignSettings,
    CircuitBreakerSettings,
    ConfigurationError,
    Credentials,
    FieldMapping,
    FieldRegistry,
    FieldSource,
    InMemoryResultStore,
    IntegrationSettings,
    Lead,
    QuotaSettings,
    RateLimitSettings,
    RuleSet,
    RuleValidationError,
    ScreeningRecord,
    Secret,
    SettingsError,
    StateSettings,
    SuppressionIntegration,
    UncheckedRules,
    check_campaign,
    http_integrations,
    load_settings,
)
from purecallerid.typing import Integration, IntegrationAnswer, SettingsProvider

TOKEN = "token-0123456789"


class Minimal:
    """A kind that takes any settings and has no fields but ``verdict``."""

    kind = "minimal"
    fields = SCRIPTED_FIELDS

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return []

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        return IntegrationAnswer(answer={"verdict": settings.options.get("verdict", "ok")})

    async def aclose(self) -> None:
        pass


def paths(caught: pytest.ExceptionInfo[SettingsError]) -> list[str]:
    return [p.path for p in caught.value.problems]


# -- every documented shape is accepted -----------------------------------------------------

RULE_TEXT = 'reject when verdict = "bad" because "bad verdict"'
RULE_TABLE = {
    "action": "reject",
    "when": {"field": "verdict", "op": "equals", "value": "bad"},
    "reason": "bad verdict",
}


@pytest.mark.parametrize(
    "rules",
    [
        RULE_TEXT,
        [RULE_TEXT],
        [RULE_TABLE],
        {"version": 1, "rules": [RULE_TABLE]},
        RuleSet.from_text(RULE_TEXT, SCRIPTED_FIELDS),
        UncheckedRules(RULE_TEXT),
    ],
    ids=["text", "lines", "rule-tables", "rule-document", "rule-set", "unchecked"],
)
def test_every_rule_shape_is_accepted_and_says_the_same(rules: Any) -> None:
    """Text, lines, rule tables, a rule document or a RuleSet: the same rule, the same hash."""
    settings = IntegrationSettings(kind="scripted", rules=rules)
    assert len(settings.rules) == 1
    expected = RuleSet.from_text(RULE_TEXT, SCRIPTED_FIELDS).to_dict()
    assert settings.rules.to_dict() == expected


def test_rules_given_as_data_wait_for_the_kinds_fields() -> None:
    """Text rules are read at once, checked against the fields by check_campaign."""
    settings = IntegrationSettings(kind="scripted", rules=RULE_TEXT, options={"verdict": "ok"})
    assert isinstance(settings.rules, UncheckedRules)
    campaign = CampaignSettings(campaign_id="c", integrations=[settings])
    checked = check_campaign(campaign, kinds=[Scripted()])
    (integration,) = checked.integrations
    assert isinstance(integration.rules, RuleSet)
    assert integration.rules == RuleSet.from_text(RULE_TEXT, SCRIPTED_FIELDS)
    assert checked.settings_hash == campaign.settings_hash


def test_database_values_are_accepted() -> None:
    """0/1 booleans, numbers as text, enum words in any case, tables for every sub-setting."""
    settings = IntegrationSettings(
        kind="scripted",
        enabled=1,
        sort="2",
        timeout="2.5",
        failure_policy=" QA ",
        skip_remaining_on_reject=0,
        cancel_siblings_on_reject="TRUE",
        dialect="LeadExec",
        credentials={"api_token": f" {TOKEN}\n", "campaign_id": 77, "account_sid": "AC-123456789"},
        mapping={
            "targets": {"phone": {"source": "phone", "transform": "PHONE"}},
            "phone_format": "E164",
            "zip_format": "ZIP+4",
        },
        quota={"daily": 500, "timezone": "America/New_York"},
        rate_limit={"per_second": 2},
        cache={"ttl": 60, "fields": ["zip"]},
        circuit_breaker={},
        options={"verdict": "ok"},
        http=None,
    )
    assert settings.id == "scripted"  # the kind, as in a settings file
    assert (settings.enabled, settings.sort, settings.timeout) == (True, 2, 2.5)
    assert settings.failure_policy is Action.QA
    assert (settings.skip_remaining_on_reject, settings.cancel_siblings_on_reject) == (False, True)
    assert settings.dialect == "leadexec"
    assert settings.credentials.api_token == Secret(TOKEN)  # trimmed
    assert settings.credentials.campaign_id == "77"
    assert settings.credentials.secrets == {"account_sid": Secret("AC-123456789")}
    assert settings.mapping is not None
    assert settings.mapping.targets["phone"].source == "phone"
    assert settings.mapping.map_payload({"phone": "212-555-0100"}) == {"phone": "+12125550100"}
    assert settings.mapping.zip_format == "zip+4"
    assert StateSettings(backend=" Redis ", url="redis://127.0.0.1:6379/0").backend == "redis"
    assert settings.quota == QuotaSettings(daily=500, timezone="America/New_York")
    assert settings.rate_limit == RateLimitSettings(per_second=2)
    assert settings.cache == CacheSettings(ttl=60, fields=("zip",))
    assert settings.circuit_breaker == CircuitBreakerSettings()
    assert settings.http == {}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        *[(True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False)],
        *[("true", True), ("False", False), (" TRUE ", True), (None, True)],
    ],
)
def test_booleans_from_databases(given: bool | int | str | None, expected: bool) -> None:
    assert IntegrationSettings(kind="k", enabled=given).enabled is expected


@pytest.mark.parametrize("given", [2, -1, "yes", "no", "", "t", 1.0, [], {}])
def test_other_booleans_are_refused(given: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        IntegrationSettings(kind="k", enabled=given)
    assert paths(caught) == ["enabled"]
    assert "must be true or false (or 1 or 0)" in str(caught.value)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("accept", Action.ACCEPT),
        ("FLAG", Action.FLAG),
        ("Qa", Action.QA),
        (" reject ", Action.REJECT),
        (Action.REJECT, Action.REJECT),
        (None, Action.QA),
    ],
)
def test_failure_policy_words_in_any_case(given: Action | str | None, expected: Action) -> None:
    assert IntegrationSettings(kind="k", failure_policy=given).failure_policy is expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [(3, 3.0), (2.5, 2.5), ("3", 3.0), (" 0.25 ", 0.25), (".5", 0.5), (None, 15.0)],
)
def test_seconds_as_numbers_or_their_digits(given: float | str | None, expected: float) -> None:
    campaign = CampaignSettings(
        campaign_id="c", deadline=given, integrations=[{"kind": "k", "timeout": given}]
    )
    assert campaign.deadline == expected
    assert campaign.integrations[0].timeout == (5.0 if given is None else expected)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("3600", 3600.0), (3600, 3600.0), ("31d", 31 * 86400.0), ("12H", 43200.0), (None, None)],
)
def test_max_age_as_seconds_or_a_duration(
    given: float | str | None, expected: float | None
) -> None:
    assert CampaignSettings(campaign_id="c", max_age=given).max_age == expected


def test_none_is_the_default_of_every_setting_that_has_one() -> None:
    """A NULL column is the setting left out, as a null is in a JSON document."""
    defaults = IntegrationSettings(kind="k")
    optional = [a.name for a in attrs.fields(IntegrationSettings) if a.name not in {"id", "kind"}]
    given: dict[str, Any] = dict.fromkeys(optional)
    nulls = IntegrationSettings(kind="k", **given)
    assert nulls == defaults
    campaign = CampaignSettings(campaign_id="c", integrations=None, deadline=None, max_age=None)
    assert campaign == CampaignSettings(campaign_id="c")


def test_integrations_as_tables_report_every_problem() -> None:
    """A campaign's integrations as tables: each one's problems, at their paths, at once."""
    with pytest.raises(SettingsError) as caught:
        CampaignSettings(
            campaign_id="c",
            integrations=[
                {"kind": "k", "timeot": 5, "sort": "first"},
                {"id": "ok", "kind": "k"},
                {"kind": "k", "id": "x", "rules": 'reject when verdict = "bad" and'},
                {"kind": "k", "id": "y", "credentials": {"api_token": "abc"}},
                {"kind": "k", "id": "q", "quota": {"per_day": 500}},
                {"id": "z"},
                "not a table",  # type: ignore[list-item]
            ],
        )
    found = [str(p) for p in caught.value.problems]
    assert found[0] == "integrations[0].timeot: unknown key; did you mean 'timeout'?"
    assert found[1] == "integrations[0].sort: must be a whole number, not 'first'"
    assert found[2].startswith("integrations[2].rules line 1, column 32: ")
    assert found[3] == "integrations[3].credentials.api_token: shorter than 8 characters"
    assert found[4:6] == [
        (
            "integrations[4].quota.per_day: unknown key; "
            "known keys: ['daily', 'key', 'timezone', 'warn_at']"
        ),
        "integrations[4].quota.daily: is required",
    ]
    assert found[6] == "integrations[5].kind: is required"
    assert found[7] == (
        "integrations[6]: must be an IntegrationSettings or a table, not 'not a table'"
    )
    assert len(found) == 8
    assert caught.value.source == "CampaignSettings"


def test_duplicate_ids_are_a_settings_error() -> None:
    with pytest.raises(SettingsError) as caught:
        CampaignSettings(campaign_id="c", integrations=[{"kind": "k"}, {"kind": "k"}])
    assert paths(caught) == ["integrations"]
    assert "repeated: ['k']" in str(caught.value)


# -- credentials --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["purecallerid", "suppression", "calling_window", "http"])
def test_a_short_token_is_refused_at_construction_for_every_kind(kind: str) -> None:
    """A secret under 8 characters could not be masked: refused when built, value unshown."""
    with pytest.raises(SettingsError) as caught:
        IntegrationSettings(kind=kind, credentials=Credentials(api_token="abc"))
    assert [str(p) for p in caught.value.problems] == [
        "credentials.api_token: shorter than 8 characters"
    ]
    assert "abc" not in str(caught.value)
    with pytest.raises(SettingsError, match=r"credentials\.api_token"):
        Credentials(api_token=Secret("abc"))


def test_credentials_from_a_table_take_every_other_key_as_a_secret() -> None:
    credentials = Credentials.from_table(
        {"api_token": TOKEN, "list_name": " Main ", "auth_token": "auth-0123456789", "sid": ""}
    )
    assert credentials == Credentials(
        api_token=TOKEN, list_name="Main", secrets={"auth_token": "auth-0123456789"}
    )
    assert credentials.list_name == "Main"
    assert Credentials(campaign_id="  ", api_token="") == Credentials()  # empty is missing


def test_credential_problems_are_all_reported() -> None:
    with pytest.raises(SettingsError) as caught:
        Credentials.from_table(
            {"api_token": ["x"], "campaign_id": 1.5, "bad name": "x" * 9, "key": "short"}
        )
    assert [str(p) for p in caught.value.problems] == [
        "credentials.api_token: must be text",
        "credentials.campaign_id: must be text",
        "credentials.bad name: is not a credential name (letters, digits and '_')",
        "credentials.key: shorter than 8 characters",
    ]
    with pytest.raises(SettingsError, match=r"credentials\.api_token: is a credential of its own"):
        Credentials(secrets={"api_token": TOKEN})


# -- every wrong-typed setting is a SettingsError with its path ------------------------------

Build = Callable[[Any], object]

# Per class: each init field -> (a wrong value, the path its problem is given at).
WRONG: Mapping[str, tuple[Build, Mapping[str, tuple[Any, str]]]] = {
    "IntegrationSettings": (
        lambda values: IntegrationSettings(**{"kind": "k", **values}),
        {
            "kind": (5, "kind"),
            "id": ("", "id"),
            "enabled": ("maybe", "enabled"),
            "sort": (1.5, "sort"),
            "credentials": ("token", "credentials"),
            "base_url": (443, "base_url"),
            "dialect": (["leadexec"], "dialect"),
            "mapping": ({"targets": "phone"}, "mapping"),
            "rules": (42, "rules"),
            "timeout": ("soon", "timeout"),
            "failure_policy": ("drop", "failure_policy"),
            "skip_remaining_on_reject": (2, "skip_remaining_on_reject"),
            "cancel_siblings_on_reject": ("si", "cancel_siblings_on_reject"),
            "options": (["csv"], "options"),
            "http": ("POST", "http"),
            "quota": ({"daily": -1}, "quota.daily"),
            "rate_limit": ({"per_second": -1}, "rate_limit.per_second"),
            "cache": (60, "cache"),
            "circuit_breaker": ({"failures": 0}, "circuit_breaker.failures"),
            "when": ("lead.state =", "when line 1, column 13"),
            "shadow": ("maybe", "shadow"),
            "sample": (150, "sample"),
        },
    ),
    "CampaignSettings": (
        lambda values: CampaignSettings(**{"campaign_id": "c", **values}),
        {
            "campaign_id": (7, "campaign_id"),
            "integrations": ({"kind": "k"}, "integrations"),
            "deadline": (-1, "deadline"),
            "max_age": ("a month", "max_age"),
            "rules": (42, "rules"),
            "shadow_rules": ("reject when", "shadow_rules line 1, column 12"),
        },
    ),
    "Credentials": (
        lambda values: Credentials(**values),
        {
            "api_token": ("short", "credentials.api_token"),
            "campaign_id": (["C"], "credentials.campaign_id"),
            "list_name": ({"name": "x"}, "credentials.list_name"),
            "dialer_list_id": (True, "credentials.dialer_list_id"),
            "secrets": ({"sid": 1.5}, "credentials.sid"),
        },
    ),
    "QuotaSettings": (
        lambda values: QuotaSettings(**{"daily": 5, **values}),
        {
            "daily": ("500", "quota.daily"),
            "timezone": ("Mars/Olympus", "quota.timezone"),
            "warn_at": (80, "quota.warn_at"),
            "key": ("", "quota.key"),
        },
    ),
    "RateLimitSettings": (
        lambda values: RateLimitSettings(**{"per_second": 1, **values}),
        {
            "per_second": (0, "rate_limit.per_second"),
            "burst": (0, "rate_limit.burst"),
            "max_wait": (-1, "rate_limit.max_wait"),
            "min_call_time": ("1", "rate_limit.min_call_time"),
            "key": (5, "rate_limit.key"),
        },
    ),
    "CacheSettings": (
        lambda values: CacheSettings(**{"ttl": 60, **values}),
        {
            "ttl": (math.inf, "cache.ttl"),
            "phone": (None, "cache.phone"),
            "fields": ("zip", "cache.fields"),
        },
    ),
    "CircuitBreakerSettings": (
        lambda values: CircuitBreakerSettings(**values),
        {
            "failures": (True, "circuit_breaker.failures"),
            "cooldown": (0, "circuit_breaker.cooldown"),
            "key": ([], "circuit_breaker.key"),
        },
    ),
    "StateSettings": (
        lambda values: StateSettings(**values),
        {
            "backend": ("etcd", "state.backend"),
            "path": (5, "state.path"),
            "url": (6379, "state.url"),
            "prefix": ("", "state.prefix"),
        },
    ),
}
CLASSES = {
    "IntegrationSettings": IntegrationSettings,
    "CampaignSettings": CampaignSettings,
    "Credentials": Credentials,
    "QuotaSettings": QuotaSettings,
    "RateLimitSettings": RateLimitSettings,
    "CacheSettings": CacheSettings,
    "CircuitBreakerSettings": CircuitBreakerSettings,
    "StateSettings": StateSettings,
}
CASES = [(name, key) for name, (_, table) in WRONG.items() for key in table]


def test_the_table_covers_every_setting() -> None:
    """Each init field of each settings class has its wrong value below: none is left out."""
    for name, cls in CLASSES.items():
        fields = {a.name for a in attrs.fields(cls) if a.init}
        assert set(WRONG[name][1]) == fields, name


@pytest.mark.parametrize(("name", "key"), CASES, ids=[f"{n}.{k}" for n, k in CASES])
def test_every_wrong_setting_is_a_settings_error_with_its_path(name: str, key: str) -> None:
    build, table = WRONG[name]
    value, path = table[key]
    with pytest.raises(SettingsError) as caught:
        build({key: value})
    assert paths(caught) == [path]
    assert isinstance(caught.value, ConfigurationError)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["1", "0", "true", "QA", "2.5", "31d", "leadexec", TOKEN]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
TABLES = st.dictionaries(
    st.sampled_from(sorted(a.name for a in attrs.fields(IntegrationSettings))), JSON, max_size=4
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(CASES), value=JSON)
def test_any_value_in_any_setting_builds_or_is_a_settings_error(
    case: tuple[str, str], value: Any
) -> None:
    """Whatever JSON a database holds, construction succeeds or raises SettingsError only."""
    name, key = case
    try:
        built = WRONG[name][0]({key: value})
    except SettingsError as exc:
        built = exc
    if isinstance(built, SettingsError):
        assert built.problems
    elif isinstance(built, IntegrationSettings):
        campaign = CampaignSettings(campaign_id="c", integrations=[built])
        assert len(campaign.settings_hash) == 64
        _check_or_refuse(campaign)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(tables=st.lists(TABLES, max_size=3), deadline=JSON)
def test_any_integration_tables_build_or_are_a_settings_error(
    tables: list[dict[str, Any]], deadline: Any
) -> None:
    try:
        campaign: CampaignSettings | SettingsError = CampaignSettings(
            campaign_id="c", integrations=tables, deadline=deadline
        )
    except SettingsError as exc:
        campaign = exc
    if isinstance(campaign, SettingsError):
        assert all(p.path for p in campaign.problems)
    else:
        _check_or_refuse(campaign)


def _check_or_refuse(campaign: CampaignSettings) -> None:
    """check_campaign, with a permissive kind and the suppression list, raises nothing else."""
    kinds: list[Integration] = [Minimal(), SuppressionIntegration()]
    try:
        checked: CampaignSettings | SettingsError = check_campaign(campaign, kinds=kinds)
    except SettingsError as exc:
        checked = exc
    if isinstance(checked, SettingsError):
        assert checked.problems
    else:
        assert checked.settings_hash == campaign.settings_hash


# -- the loader and the constructors agree --------------------------------------------------

DOCUMENT: dict[str, Any] = {
    "deadline": "12",
    "max_age": "31d",
    "integrations": [
        {
            "id": "house",
            "kind": "scripted",
            "enabled": 1,
            "sort": 1,
            "options": {"verdict": "ok"},
            "rules": ['reject when verdict = "bad" because "bad verdict"'],
            "failure_policy": "Reject",
        },
        {
            "kind": "minimal",
            "sort": "2",
            "timeout": "2.5",
            "credentials": {"api_token": TOKEN, "campaign_id": 77, "auth_token": "auth-01234567"},
            "mapping": {"targets": {"phone": "phone", "zip": {"source": "zip", "required": False}}},
            "rules": [RULE_TABLE],
            "skip_remaining_on_reject": "false",
            "quota": {"daily": 10},
            "cache": {"ttl": 60},
        },
    ],
}


def test_the_loader_and_the_constructors_agree() -> None:
    """The same data through load_settings and through CampaignSettings: the same hash."""
    loaded = load_settings({"campaigns": {"c": DOCUMENT}}, kinds=[Scripted(), Minimal()])["c"]
    built = CampaignSettings(campaign_id="c", **DOCUMENT)
    assert built.settings_hash == loaded.settings_hash
    assert check_campaign(built, kinds=[Scripted(), Minimal()]) == loaded


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    enabled=st.sampled_from([True, False, 1, 0, "true", "0"]),
    sort=st.sampled_from([1, 2, "3", " 4 "]),
    timeout=st.sampled_from([1, 2.5, "3", "0.5"]),
    policy=st.sampled_from(["qa", "QA", "Reject", "flag"]),
    rules=st.sampled_from([RULE_TEXT, [RULE_TEXT], [RULE_TABLE], None, ""]),
)
def test_any_accepted_values_hash_alike_from_a_file_or_code(
    enabled: Any, sort: Any, timeout: Any, policy: str, rules: Any
) -> None:
    table = {
        "kind": "scripted",
        "enabled": enabled,
        "sort": sort,
        "timeout": timeout,
        "failure_policy": policy,
        "options": {"verdict": "ok"},
        "rules": rules,
    }
    loaded = load_settings({"campaigns": {"c": {"integrations": [table]}}}, kinds=[Scripted()])["c"]
    built = CampaignSettings(campaign_id="c", integrations=[IntegrationSettings(**table)])
    assert built.settings_hash == loaded.settings_hash


# -- checked against the kinds: check_campaign and the screener ------------------------------


def test_check_campaign_names_every_problem_with_its_path() -> None:
    campaign = CampaignSettings(
        campaign_id="c",
        integrations=[
            IntegrationSettings(kind="scripted", rules='reject when verdikt = "bad"'),
            IntegrationSettings(kind="purecallerid", credentials={"campaign_id": "C"}),
            IntegrationSettings(kind="telepathy", enabled=False),
        ],
    )
    with pytest.raises(SettingsError) as caught:
        check_campaign(campaign, kinds=[Scripted(), _pcid()])
    found = [str(p) for p in caught.value.problems]
    assert found[0] == (
        'integrations[0].rules line 1, column 13: unknown field "verdikt"; did you mean "verdict"?'
    )
    assert found[1] == "integrations[0]: no verdict"
    assert "integrations[1]: credentials.api_token is missing" in found
    assert found[-1].startswith("integrations[2].kind: no integration of kind 'telepathy'")
    assert caught.value.source == "campaign 'c'"


def _pcid() -> Integration:
    from purecallerid import PureCallerIDIntegration  # noqa: PLC0415 - one test's kind

    return PureCallerIDIntegration()


def test_rules_of_a_kind_whose_fields_come_from_its_settings() -> None:
    """An http vendor's fields come from its http table: its text rules are checked on them."""
    http = {
        "method": "POST",
        "path": "/v1/check",
        "headers": {"X-Api-Key": "{credentials.api_key}"},
        "answer": {"fields": {"litigator": {"type": "boolean", "required": True}}},
    }
    kinds = http_integrations()
    good = IntegrationSettings(
        kind="http",
        id="litigator",
        base_url="https://litigator.example",
        credentials={"api_key": "lit-key-0123456789"},
        http=http,
        rules="reject when litigator is true",
    )
    checked = check_campaign(CampaignSettings(campaign_id="c", integrations=[good]), kinds=kinds)
    assert isinstance(checked.integrations[0].rules, RuleSet)
    bad = attrs.evolve(good, rules="reject when litigater is true")
    with pytest.raises(SettingsError) as caught:
        check_campaign(CampaignSettings(campaign_id="c", integrations=[bad]), kinds=kinds)
    assert paths(caught) == ["integrations[0].rules line 1, column 13"]


class Counting(Scripted):
    """A scripted kind that counts how often its settings are checked."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        self.checks += 1
        return super().check_settings(settings)


class Rebuilding:
    """A provider that builds the campaign anew from its row for every lead."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        return CampaignSettings(campaign_id=campaign_id, integrations=[dict(self.row)])


def screen_all(
    provider: SettingsProvider, kinds: list[Integration], *lead_ids: str
) -> list[ScreeningRecord]:
    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=provider, store=InMemoryResultStore(), integrations=kinds
        ) as screener:
            return [
                await screener.screen(
                    Lead(lead_id=i, campaign_id="c", fields={"phone": "2125550100"})
                )
                for i in lead_ids
            ]

    return asyncio.run(go())


def test_the_screener_compiles_text_rules_once_per_settings_version() -> None:
    """Text rules decide leads; a provider building the campaign anew costs no new check."""
    kind = Counting()
    row: dict[str, Any] = {
        "kind": "scripted",
        "id": "a",
        "options": {"verdict": "bad"},
        "rules": RULE_TEXT,
    }
    records = screen_all(Rebuilding(row), [kind], "L1", "L2", "L3")
    assert [r.decision for r in records] == [Action.REJECT] * 3
    assert records[0].reasons == ("bad verdict",)
    assert kind.checks == 1
    assert kind.calls == ["a", "a", "a"]
    # Recorded under the hash of the settings as given, which checking does not change.
    same = CampaignSettings(
        campaign_id="c",
        integrations=[
            IntegrationSettings(**{**row, "rules": RuleSet.from_text(RULE_TEXT, SCRIPTED_FIELDS)})
        ],
    )
    assert {r.settings_hash for r in records} == {same.settings_hash}


def test_a_new_token_with_the_same_hash_is_checked_again() -> None:
    """Tokens are not in the hash; settings with another token are still checked."""
    kind = Counting()
    row: dict[str, Any] = {"kind": "scripted", "id": "a", "options": {"verdict": "ok"}}
    provider = Rebuilding(row)

    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=provider, store=InMemoryResultStore(), integrations=[kind]
        ) as screener:
            first = await screener.screen(Lead(lead_id="1", campaign_id="c"))
            provider.row = {**row, "credentials": {"api_token": TOKEN}}
            second = await screener.screen(Lead(lead_id="2", campaign_id="c"))
            return [first, second]

    first, second = asyncio.run(go())
    assert first.settings_hash == second.settings_hash
    assert kind.checks == 2


def test_rules_that_do_not_fit_the_kind_hold_the_lead_for_qa() -> None:
    row = {"kind": "scripted", "id": "a", "options": {"verdict": "bad"}, "rules": "reject when"}
    with pytest.raises(SettingsError) as caught:  # a syntax error: refused when built
        CampaignSettings(campaign_id="c", integrations=[row])
    assert paths(caught) == ["integrations[0].rules line 1, column 12"]
    row["rules"] = 'reject when verdikt = "bad"'
    (record,) = screen_all(Rebuilding(row), [Scripted()], "L1")
    assert record.decision is Action.QA
    assert record.note == (
        'settings error: a.rules line 1, column 13: unknown field "verdikt"; '
        'did you mean "verdict"?'
    )
    assert record.integrations == ()


class Raising:
    """A provider whose settings cannot be built: a SettingsError (or another settings error)."""

    def __init__(self, build: Callable[[], CampaignSettings]) -> None:
        self.build = build

    async def get_campaign(self, campaign_id: str) -> CampaignSettings | None:
        return self.build()


@pytest.mark.parametrize(
    ("build", "note"),
    [
        (
            lambda: CampaignSettings(
                campaign_id="c", integrations=[{"kind": "scripted", "enabled": 2}]
            ),
            "integrations[0].enabled: must be true or false (or 1 or 0), not 2",
        ),
        (
            lambda: IntegrationSettings(kind="scripted", credentials={"api_token": "abc"}),
            "credentials.api_token: shorter than 8 characters",
        ),
        (
            lambda: FieldMapping(targets={"phone": FieldSource(source="phone")}, phone_region="XX"),
            "unknown phone region 'XX'",
        ),
        (
            lambda: RuleSet.from_text("reject when nothing is true", SCRIPTED_FIELDS),
            'unknown field "nothing"',
        ),
    ],
    ids=["settings-error", "short-token", "configuration-error", "rule-validation-error"],
)
def test_a_provider_that_cannot_build_its_settings_holds_the_lead_for_qa(
    build: Callable[[], Any], note: str
) -> None:
    """Not an HTTP 500 for the host: the lead is recorded as QA, the problem in its note."""
    (record,) = screen_all(Raising(build), [Scripted()], "L1")
    assert record.decision is Action.QA
    assert record.note is not None
    assert record.note.startswith("settings error: ")
    assert note in record.note
    assert record.settings_hash == ""


def test_unchecked_rules_compare_by_their_rules() -> None:
    """Text and tables that say the same thing are equal, as the settings hash says."""
    assert UncheckedRules(RULE_TEXT) == UncheckedRules({"rules": [RULE_TABLE]})
    assert hash(UncheckedRules(RULE_TEXT)) == hash(UncheckedRules({"rules": [RULE_TABLE]}))
    assert UncheckedRules(RULE_TEXT) != UncheckedRules('flag when verdict = "meh"')
    assert repr(UncheckedRules(RULE_TEXT)) == "<UncheckedRules: 1 rules>"
    assert UncheckedRules(RULE_TEXT).source == RULE_TEXT
    empty = FieldRegistry(integration="none", fields=())
    with pytest.raises(RuleValidationError, match="unknown field"):
        UncheckedRules(RULE_TEXT).check(empty)
