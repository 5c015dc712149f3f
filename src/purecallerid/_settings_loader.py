"""Reading settings documents, and checking campaigns against the integrations on offer.

The loader reads a whole document in one pass, after expanding its ``${VAR}`` references, and
reports every problem with its path in one :class:`SettingsError`. It reads each value with
the settings classes' own readers (their fields' converters), so a document and settings built
in code accept the same shapes, and hands the classes only the keys a document gives, so their
defaults, in ``_settings``, are the only ones.

:func:`check_campaign` does for a campaign built in code what loading does for a document:
its rules checked against each kind's fields, each enabled integration checked by its kind.
The screener calls it once per settings version.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._errors import ConfigurationError, RuleValidationError, SettingsError, SettingsProblem
from ._guards.settings import GUARD_KEYS, StateSettings, load_state
from ._rules.check import Severity
from ._rules.fields import CampaignFields
from ._rules.ruleset import RuleSet, UncheckedRules
from ._settings import (
    CampaignSettings,
    IntegrationSettings,
    read_values,
    rule_problem,
    rules_source,
)
from .typing import FieldsFromSettings, RecommendsRules

if TYPE_CHECKING:
    from ._rules.fields import FieldRegistry
    from .typing import Integration

__all__ = ["check_campaign", "flow_problems", "load_settings"]

_IN_HTTP: Final = re.compile(r"\.integrations\[\d+\]\.http(\.|\[|$)")
_VARIABLE: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# What starts a reference: one that does not end as `_VARIABLE` says is a mistake, not text.
# A dotted name is not one: `${lead.price}` is a '$' before a placeholder of an http table.
_REFERENCE_START: Final = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*+(?![.])")
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
        "http",
        "when",
        "shadow",
        "sample",
        *GUARD_KEYS,
    }
)
_CREDENTIAL_KEYS: Final = frozenset({"api_token", "campaign_id", "list_name", "dialer_list_id"})
_CAMPAIGN_KEYS: Final = frozenset({"deadline", "integrations", "max_age", "rules", "shadow_rules"})
_CAMPAIGN_RULES: Final = ("rules", "shadow_rules")
_CAMPAIGN_PART: Final = "campaign"
_SHADOW_PART: Final = "shadow"
_DOCUMENT_KEYS: Final = frozenset({"campaigns", "state"})
# The integration keys read by the classes' own readers: all but those the loader reads with
# the kinds at hand (the kind itself, the id that defaults to it, the rules checked against it).
_VALUE_KEYS: Final = tuple(sorted(_INTEGRATION_KEYS - {"id", "kind", "rules"}))


class _Collector:
    def __init__(self) -> None:
        self.problems: list[SettingsProblem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(SettingsProblem(path=path, message=message))

    def extend(self, problems: Iterable[SettingsProblem], path: str) -> None:
        """*problems* of the table at *path*, their paths relative to it."""
        for problem in problems:
            self.add(f"{path}.{problem.path}" if problem.path else path, problem.message)


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
    return load_document(source, kinds=kinds, environ=environ)[0]


def load_document(
    source: str | Path | Mapping[str, Any],
    *,
    kinds: Iterable[Integration],
    environ: Mapping[str, str] | None,
) -> tuple[dict[str, CampaignSettings], StateSettings | None]:
    """The campaigns of a settings document and its ``state`` table; see :func:`load_settings`.

    Raises:
        SettingsError: The document is unreadable or has problems; lists every one.
    """
    name = "settings"
    if isinstance(source, str | Path):
        name = str(source)
        data = _read(Path(source))
    else:
        data = source
    if not isinstance(data, Mapping):
        raise SettingsError(
            [SettingsProblem(path="(document)", message="must be a table")], source=name
        )
    out = _Collector()
    try:
        data = _expand(data, "", os.environ if environ is None else environ, out)
        _unknown_keys(data, _DOCUMENT_KEYS, "", out)
        state = None if data.get("state") is None else load_state(data["state"], out.add)
        campaigns = _load_campaigns(data.get("campaigns"), {k.kind: k for k in kinds}, out)
    except RecursionError:
        # A document nesting hundreds of levels deep (or into itself, built in code).
        problem = SettingsProblem(path="(document)", message="nests too deep to be settings")
        raise SettingsError([problem], source=name) from None
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


def _expand(value: Any, path: str, environ: Mapping[str, str], out: _Collector) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of *value*."""
    if isinstance(value, str):
        return _expand_text(value, path, environ, out)
    if isinstance(value, Mapping):
        wrong = [k for k in value if not isinstance(k, str)]
        if wrong:  # a document from code (or YAML): JSON and TOML keys are text
            out.add(path or "(document)", f"keys must be text, not {wrong[0]!r}")
        return {
            k: _expand(v, f"{path}.{k}", environ, out) for k, v in value.items() if k not in wrong
        }
    if isinstance(value, list):
        return [_expand(v, f"{path}[{i}]", environ, out) for i, v in enumerate(value)]
    return value


def _expand_text(value: str, path: str, environ: Mapping[str, str], out: _Collector) -> str:
    """*value* with its references replaced; a malformed reference is a problem, not text."""
    if _IN_HTTP.search(path) and _VARIABLE.search(value):
        # Expanded here, a secret would be plain text in the settings (their repr, their
        # hash, the recorded request): credentials are placed by reference.
        out.add(
            path,
            "no ${VAR} in an http table: put the value in credentials and use {credentials.<name>}",
        )
        return value
    for almost in _REFERENCE_START.finditer(value):
        if _VARIABLE.match(value, almost.start()) is None:
            # `${TOKEN` or `${TOKEN-x}` would be sent as they stand: a token that is not the
            # one meant, in every call. The text is not quoted: it may be a secret's.
            out.add(
                path,
                "a '${' starts no variable reference here: write ${NAME} or ${NAME:-default}"
                " (a default cannot contain '}')",
            )
            return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        out.add(path, f"environment variable {name} is not set (and has no default)")
        return ""

    return _VARIABLE.sub(substitute, value)


# -- reading values -----------------------------------------------------------------------


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
    """The value of *key* when it has one of the types *kinds*; ``None`` when null or wrong."""
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


# -- campaigns and integrations -----------------------------------------------------------


def _load_campaigns(
    data: Any, kinds: Mapping[str, Integration], out: _Collector
) -> dict[str, CampaignSettings]:
    if not isinstance(data, Mapping):
        out.add("campaigns", "is required: a table of campaigns by id")
        return {}
    campaigns: dict[str, CampaignSettings] = {}
    for campaign_id, campaign_data in data.items():
        loaded = _load_campaign(
            str(campaign_id), campaign_data, f"campaigns.{campaign_id}", kinds, out
        )
        if loaded is not None:
            campaigns[str(campaign_id)] = loaded
    return campaigns


def _load_campaign(
    campaign_id: str, data: Any, path: str, kinds: Mapping[str, Integration], out: _Collector
) -> CampaignSettings | None:
    if not isinstance(data, Mapping):
        out.add(path, "must be a table of campaign settings")
        return None
    _unknown_keys(data, _CAMPAIGN_KEYS, path, out)
    for key in _CAMPAIGN_RULES:
        if isinstance(data.get(key), RuleSet | UncheckedRules):
            # A document is data; rules built in code go into CampaignSettings itself.
            out.add(f"{path}.{key}", "a RuleSet object; pass its text or dict form")
            return None
    values, problems = read_values(
        CampaignSettings, data, ("deadline", "max_age", *_CAMPAIGN_RULES)
    )
    out.extend(problems, path)
    if "integrations" in data:
        integrations = _load_integrations(data["integrations"], f"{path}.integrations", kinds, out)
        if integrations is None:
            return None
        values["integrations"] = integrations
    try:
        campaign = CampaignSettings(campaign_id=campaign_id, **values)
    except SettingsError as exc:
        out.extend(exc.problems, path)
        return None
    if not campaign.has_flow:
        return campaign
    registries = {i.id: _registry(kinds.get(i.kind), i) for i in campaign.integrations}
    checked, found = flow_problems(campaign, registries)
    for index, where, what in found:
        out.add(
            f"{path}.{where}" if index is None else f"{path}.integrations[{index}].{where}", what
        )
    return checked


def _load_integrations(
    data: Any, path: str, kinds: Mapping[str, Integration], out: _Collector
) -> list[IntegrationSettings] | None:
    """A campaign's integrations; ``None`` unless every one of them loads."""
    if not isinstance(data, list):
        out.add(path, "must be a list of integration tables")
        return None
    loaded = [_load_integration(item, f"{path}[{i}]", kinds, out) for i, item in enumerate(data)]
    integrations = [i for i in loaded if i is not None]
    return integrations if len(integrations) == len(loaded) else None


def _load_integration(
    data: Any, path: str, kinds: Mapping[str, Integration], out: _Collector
) -> IntegrationSettings | None:
    """One integration table, checked by the loader, then by its kind when enabled."""
    if not isinstance(data, Mapping):
        out.add(path, "must be a table of integration settings")
        return None
    _unknown_keys(data, _INTEGRATION_KEYS, path, out)
    before = len(out.problems)
    found = _load_kind(data, path, kinds, out)
    if found is None:
        return None
    kind_name, kind = found
    # The id defaults to the kind; read here, where an empty id means none, as it always did.
    identifier = _typed(data, "id", str, "a name", path, out) or kind_name
    values, problems = read_values(IntegrationSettings, data, _VALUE_KEYS)
    out.extend(problems, path)
    own_fields = kind is not None and not isinstance(kind, FieldsFromSettings)
    if own_fields and data.get("http") is not None:
        out.add(f"{path}.http", f"kind {kind_name!r} takes no http table")
    if own_fields and data.get("rules") is not None:
        # Checked with the other keys, so that every problem is reported at once.
        values["rules"] = _load_rules(data["rules"], kind.fields, f"{path}.rules", out)  # type: ignore[union-attr]
    if len(out.problems) > before:
        return None
    # Every value was read above, and the kind is known: nothing is left to refuse.
    settings = IntegrationSettings(id=identifier, kind=kind_name, **values)
    if kind is None:
        return settings
    if settings.enabled:
        for message in kind.check_settings(settings):
            out.add(*_kind_problem(message, path))
    if len(out.problems) > before:
        return settings
    return _settings_rules(data, kind, settings, path, out)


def _settings_rules(
    data: Mapping[str, Any],
    kind: Integration,
    settings: IntegrationSettings,
    path: str,
    out: _Collector,
) -> IntegrationSettings | None:
    """*settings* with rules read against the fields they declare, or a preset's rules.

    The rules of a kind with fields of its own are read with the other keys, already.
    """
    given = data.get("rules")
    # Off, the kind's own check does not run; the table is still data that must be right.
    off = not settings.enabled and isinstance(kind, FieldsFromSettings)
    if off and _fields_of(kind, settings, path, out) is None:
        return None
    if given is None and "rules" not in data and isinstance(kind, RecommendsRules):
        given = kind.recommended_rules(settings) or None  # a preset's, unless rules are set
    elif not isinstance(kind, FieldsFromSettings):
        return settings
    if given is None:
        return settings
    fields = _fields_of(kind, settings, path, out)
    rules = None if fields is None else _load_rules(given, fields, f"{path}.rules", out)
    return None if rules is None else attrs.evolve(settings, rules=rules)


def _kind_where(message: str) -> tuple[str, str]:
    """A kind's problem as (where, what): where it names its own path (``http.path: ...``)."""
    head, sep, rest = message.partition(": ")
    if sep and head.startswith(("http", "credentials.")) and " " not in head:
        return head, rest
    return "", message


def _kind_problem(message: str, path: str) -> tuple[str, str]:
    """A kind's problem, at its own path below *path* when it names one."""
    where, what = _kind_where(message)
    return (f"{path}.{where}" if where else path), what


def _fields_of(
    kind: Integration, settings: IntegrationSettings, path: str, out: _Collector
) -> FieldRegistry | None:
    """The fields its settings declare, for a kind whose fields depend on them."""
    if not isinstance(kind, FieldsFromSettings):
        return kind.fields
    try:
        return kind.fields_for(settings)
    except ConfigurationError as exc:  # reported by check_settings when enabled
        if not settings.enabled:
            for line in str(exc).splitlines():
                out.add(*_kind_problem(line, path))
        return None


def _load_kind(
    data: Mapping[str, Any], path: str, kinds: Mapping[str, Integration], out: _Collector
) -> tuple[str, Integration | None] | None:
    """The kind's name and implementation (``None`` when unknown); ``None`` without a name."""
    kind_name = _typed(data, "kind", str, "a kind name", path, out)
    if kind_name is None:
        if "kind" not in data:
            out.add(f"{path}.kind", f"is required; known kinds: {sorted(kinds)}")
        return None
    kind = kinds.get(kind_name)
    if kind is None:
        out.add(f"{path}.kind", f"unknown kind {kind_name!r}; known kinds: {sorted(kinds)}")
    return kind_name, kind


def _load_rules(value: Any, fields: FieldRegistry, path: str, out: _Collector) -> RuleSet | None:
    """Rules as text, a list of lines, a list of rule tables or a rule set table."""
    if isinstance(value, RuleSet | UncheckedRules):
        # A document is data; a RuleSet built in code goes into IntegrationSettings itself.
        out.add(
            path,
            "a RuleSet object; pass its text (rule_set.to_text()) or dict form "
            "(rule_set.to_dict()), or build IntegrationSettings(rules=...) in code",
        )
        return None
    source = rules_source(value)
    if source is None:
        out.add(path, "must be text, a list of rules or a rule document")
        return None
    try:
        return RuleSet.load(source, fields)
    except RuleValidationError as exc:
        for problem in exc.problems:
            if problem.severity is Severity.ERROR:
                found = rule_problem(problem, path)
                out.add(found.path, found.message)
        return None


# -- the campaign flow: when, campaign rules, shadow rules -------------------------------

Found = tuple[int | None, str, str]
"""A problem of a campaign: the integration's index (``None``: the campaign's own key), where
in it (``""``: itself), what."""


def _registry(kind: Integration | None, settings: IntegrationSettings) -> FieldRegistry | None:
    """The fields an integration's answer offers; ``None`` when they cannot be known."""
    if kind is None:
        return None
    if not isinstance(kind, FieldsFromSettings):
        return kind.fields
    try:
        return kind.fields_for(settings)
    except ConfigurationError:  # its own problems are reported where its settings are read
        return None


def _readable(
    campaign: CampaignSettings,
    registries: Mapping[str, FieldRegistry],
    why_not: Callable[[IntegrationSettings], str | None],
) -> CampaignFields:
    """The campaign's fields, but those of the integrations *why_not* names a reason for."""
    readable: dict[str, FieldRegistry] = {}
    unavailable: dict[str, str] = {}
    for settings in sorted(campaign.integrations, key=lambda i: i.sort):
        reason = why_not(settings)
        if reason is None:
            readable[settings.id] = registries[settings.id]
        else:
            unavailable[settings.id] = reason
    return CampaignFields(registries=readable, unavailable=unavailable)


_SHADOW_ANSWER: Final = (
    "is a shadow integration: only shadow_rules and the when of another shadow integration "
    "read its answer, so that it never changes a decision"
)


def _before(settings: IntegrationSettings) -> Callable[[IntegrationSettings], str | None]:
    """Why each integration's answer is not there for *settings*' ``when``, or ``None``."""

    def why_not(other: IntegrationSettings) -> str | None:
        if other.id == settings.id:
            return "is this integration: a when reads the answers of earlier stages"
        if other.sort == settings.sort:
            return f"runs in the same stage (sort {other.sort}): its answer is not there yet"
        if other.sort > settings.sort:
            return f"runs in a later stage (sort {other.sort}): its answer is not there yet"
        if other.shadow and not settings.shadow:
            return _SHADOW_ANSWER
        return None

    return why_not


def _live(other: IntegrationSettings) -> str | None:
    return _SHADOW_ANSWER if other.shadow else None


def _any(_: IntegrationSettings) -> str | None:
    return None


def flow_problems(
    campaign: CampaignSettings, registries: Mapping[str, FieldRegistry | None]
) -> tuple[CampaignSettings, list[Found]]:
    """The campaign with its ``when`` conditions and campaign rules checked, and the problems.

    A ``when``'s problem is its integration's (``when line 1, column 1``), a campaign rule's
    the campaign's own (index ``None``: ``rules line 2, column 13``). Nothing is checked while
    an integration's fields are unknown (its kind is unknown, or its settings broken): those
    problems are reported already, and every name would seem unknown.
    """
    if not campaign.has_flow or any(r is None for r in registries.values()):
        return campaign, []
    known = {ident: registry for ident, registry in registries.items() if registry is not None}
    problems = _reserved_ids(campaign)
    integrations = list(campaign.integrations)
    for index, settings in enumerate(integrations):
        if settings.when is None:
            continue
        fields = _readable(campaign, known, _before(settings))
        try:
            when = settings.when.check(fields)
        except RuleValidationError as exc:
            problems.extend((index, *found) for found in _rule_problems(exc, "when"))
        else:
            integrations[index] = attrs.evolve(settings, when=when)
    changes: dict[str, Any] = {"integrations": integrations}
    for key, why_not in (("rules", _live), ("shadow_rules", _any)):
        rules: RuleSet | UncheckedRules = getattr(campaign, key)
        if not len(rules):
            continue
        fields = _readable(campaign, known, why_not)
        source = rules if isinstance(rules, UncheckedRules) else UncheckedRules(rules.to_dict())
        try:
            changes[key] = source.check(fields)
        except RuleValidationError as exc:
            problems.extend((None, *found) for found in _rule_problems(exc, key))
    return attrs.evolve(campaign, **changes), problems


_RESERVED_IDS: Final = {
    "lead": "names the lead in conditions and campaign rules (lead.<name>)",
    "campaign": "names the campaign's rules in decided_by (campaign:<rule id>)",
    "shadow": "names the shadow rules in the shadow decision's decided_by (shadow:<rule id>)",
}


def _reserved_ids(campaign: CampaignSettings) -> list[Found]:
    """Ids that qualified names or ``decided_by`` would take for something else."""
    qualified = bool(len(campaign.rules) or len(campaign.shadow_rules)) or any(
        i.when is not None for i in campaign.integrations
    )
    if not qualified:
        return []
    return [
        (index, "id", f"{settings.id!r} {_RESERVED_IDS[settings.id]}; choose another id")
        for index, settings in enumerate(campaign.integrations)
        if settings.id in _RESERVED_IDS
    ]


def _rule_problems(error: RuleValidationError, path: str) -> list[tuple[str, str]]:
    found = [rule_problem(p, path) for p in error.problems if p.severity is Severity.ERROR]
    return [(problem.path, problem.message) for problem in found]


# -- campaigns built in code --------------------------------------------------------------


def check_campaign(campaign: CampaignSettings, *, kinds: Iterable[Integration]) -> CampaignSettings:
    """Check a campaign built in code against the integrations on offer, as loading a file does.

    Each integration's kind must be one of *kinds*; rules given as data
    (:class:`~purecallerid.UncheckedRules`) are checked against the kind's fields, and each
    enabled integration by its kind
    (:meth:`~purecallerid.typing.Integration.check_settings`). The screener does this once per
    settings version, holding the leads for QA when it finds a problem; call it where an admin
    saves, to refuse the campaign before it is stored.

    Args:
        campaign: The campaign's settings.
        kinds: The integrations the host offers (those given to the screener).

    Returns:
        The campaign with every rule set checked, as the screener runs it (the same
        ``settings_hash``).

    Raises:
        SettingsError: Every problem, each with its path (``integrations[0].rules line 1,
            column 12``, ``integrations[1].credentials.api_token``).
    """
    checked, found = campaign_problems(campaign, {k.kind: k for k in kinds})
    if found:
        problems = [
            SettingsProblem(
                path=where if i is None else f"integrations[{i}]{f'.{where}' if where else ''}",
                message=what,
            )
            for i, where, what in found
        ]
        raise SettingsError(problems, source=f"campaign {campaign.campaign_id!r}")
    return checked


def campaign_problems(
    campaign: CampaignSettings, kinds: Mapping[str, Integration]
) -> tuple[CampaignSettings, list[Found]]:
    """The campaign with its rules checked where they could be, and every problem found."""
    integrations: list[IntegrationSettings] = []
    found: list[Found] = []
    for index, settings in enumerate(campaign.integrations):
        checked, problems = _check_integration(settings, kinds)
        integrations.append(checked)
        found.extend((index, where, what) for where, what in problems)
    if any(a is not b for a, b in zip(integrations, campaign.integrations, strict=True)):
        campaign = attrs.evolve(campaign, integrations=integrations)
    if found or not campaign.has_flow:
        return campaign, found
    registries = {i.id: _registry(kinds.get(i.kind), i) for i in campaign.integrations}
    campaign, flow = flow_problems(campaign, registries)
    return campaign, [*found, *flow]


def _check_integration(
    settings: IntegrationSettings, kinds: Mapping[str, Integration]
) -> tuple[IntegrationSettings, list[tuple[str, str]]]:
    """One integration checked as the loader checks its table; its problems (where, what)."""
    kind = kinds.get(settings.kind)
    if kind is None:
        known = sorted(kinds)
        return settings, [("kind", f"no integration of kind {settings.kind!r}; known: {known}")]
    problems: list[tuple[str, str]] = []
    own_fields = not isinstance(kind, FieldsFromSettings)
    if own_fields:
        if settings.http:
            problems.append(("http", f"kind {settings.kind!r} takes no http table"))
        settings = _checked_rules(settings, kind.fields, problems)
    if settings.enabled:
        problems.extend(_kind_where(message) for message in kind.check_settings(settings))
    if isinstance(kind, FieldsFromSettings) and isinstance(settings.rules, UncheckedRules):
        if problems:
            return settings, problems  # its fields come from settings known to be broken
        try:
            fields = kind.fields_for(settings)
        except ConfigurationError as exc:
            problems.extend(_kind_where(line) for line in str(exc).splitlines())
            return settings, problems
        settings = _checked_rules(settings, fields, problems)
    return settings, problems


def _checked_rules(
    settings: IntegrationSettings, fields: FieldRegistry, problems: list[tuple[str, str]]
) -> IntegrationSettings:
    """*settings* with its rules checked against *fields*; their problems added to *problems*."""
    rules = settings.rules
    if not isinstance(rules, UncheckedRules):
        return settings
    try:
        checked = rules.check(fields)
    except RuleValidationError as exc:
        for problem in exc.problems:
            if problem.severity is Severity.ERROR:
                found = rule_problem(problem, "rules")
                problems.append((found.path, found.message))
        return settings
    return attrs.evolve(settings, rules=checked)
