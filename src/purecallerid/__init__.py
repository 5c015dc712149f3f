"""Real-time lead screening: PureCallerID and other phone-compliance checks for lead platforms.

The public API is re-exported here; every implementation module is private.
"""

import importlib as _importlib
import threading as _threading
import typing as _typing

from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._bounds import RecordBounds
    from ._converter import converter
    from ._errors import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AttemptOutcome,
        AuthenticationError,
        CircuitOpenError,
        ClientError,
        ConfigurationError,
        DeadlineExceededError,
        ErrorClass,
        ForkedError,
        GuardError,
        InvalidLeadError,
        InvalidPhoneError,
        InvalidZipError,
        MappingError,
        PureCallerIDError,
        QuotaExhaustedError,
        RateLimitError,
        ResponseValidationError,
        RuleValidationError,
        ServerError,
        SettingsError,
        StateUnavailableError,
        StorageError,
        SuppressionListError,
        SuppressionListTimeoutError,
        ThrottledError,
        error_class,
        failure_table,
    )
    from ._flow import Agreement, agreement, describe_plan, describe_screening, in_sample
    from ._guards.backends import open_state_backend
    from ._guards.memory import InMemoryStateBackend
    from ._guards.redis import RedisStateBackend
    from ._guards.sqlite import SQLiteStateBackend
    from ._http.call import VendorReply
    from ._http.integration import DEFAULT_HTTP_MAX_CONNECTIONS, HttpIntegration
    from ._http.received import ResponseLimits
    from ._http.retry import (
        RetryPolicy,
        backoff_delay,
        parse_retry_after,
        retry_delay,
    )
    from ._integrations.calling_window import CALLING_WINDOW_FIELDS, CallingWindowIntegration
    from ._integrations.configured.integration import ConfiguredHttpIntegration, http_integrations
    from ._integrations.configured.presets import PRESET_NAMES, Preset, preset_named, presets
    from ._integrations.purecallerid.client import (
        DEFAULT_MAX_CONNECTIONS,
        DEFAULT_SYNC_MAX_CONNECTIONS,
        DEFAULT_TIMEOUT,
        AsyncPureCallerIDClient,
        PureCallerIDClient,
        TransportFailure,
    )
    from ._integrations.purecallerid.dialects import (
        DEFAULT_DIALER_FIELDS,
        Dialect,
        LeadExecDialect,
        PublicDialect,
        WireRequest,
        dialect_named,
    )
    from ._integrations.purecallerid.fields import (
        PURECALLERID_FIELDS,
        answer_from_response,
        map_request,
        purecallerid_preset,
    )
    from ._integrations.purecallerid.integration import PureCallerIDIntegration
    from ._integrations.purecallerid.models import (
        Reason,
        ScreeningRequest,
        ScreeningResponse,
        Status,
    )
    from ._integrations.purecallerid.wire import response_from_wire, response_to_wire
    from ._integrations.suppression import (
        SUPPRESSION_FIELDS,
        AsyncSuppressionList,
        CSVSuppressionList,
        InMemorySuppressionList,
        PostgresSuppressionList,
        RedisSuppressionList,
        SQLiteSuppressionList,
        SuppressionEntry,
        SuppressionIntegration,
        SuppressionList,
        WritableSuppressionList,
        record_to_suppression,
    )
    from ._mapping import (
        DEFAULT_FIELD_MAPPING,
        FieldMapping,
        FieldSource,
        MappingProblem,
        ProblemCode,
        Transform,
    )
    from ._models import (
        Attempt,
        Exchange,
        Lead,
        RequestRecord,
    )
    from ._observe.dispatch import CompositeObserver
    from ._observe.events import (
        BreakerState,
        GuardEvent,
        IntegrationEnded,
        IntegrationStarted,
        ObserverEvent,
        QuotaUsed,
        ScreeningEnded,
        ScreeningStarted,
    )
    from ._phone import PhoneFormat, format_phone, normalize_phone
    from ._records import (
        IntegrationRecord,
        IntegrationStatus,
        RulesRecord,
        ScreeningRecord,
        ShadowRecord,
    )
    from ._rules.check import RuleProblem, Severity
    from ._rules.condition import RunCondition
    from ._rules.fields import (
        CampaignFields,
        FieldRegistry,
        FieldSpec,
        FieldType,
        operator_table,
    )
    from ._rules.model import (
        Action,
        AllOf,
        AnyOf,
        Comparison,
        Condition,
        Not,
        Operator,
        Rule,
        UnknownPolicy,
    )
    from ._rules.ruleset import (
        Evaluation,
        RuleOutcome,
        RuleSet,
        RuleTrace,
        SupportsAnswer,
        UncheckedRules,
    )
    from ._rules.schema import (
        rules_json_schema,
    )
    from ._rules.text import (
        format_condition,
        format_rules,
        parse_rules,
    )
    from ._screener import AsyncScreener, Screener
    from ._secrets import Secret, SecretFilter, mask_phone
    from ._settings import (
        CacheSettings,
        CampaignSettings,
        CircuitBreakerSettings,
        Credentials,
        FileSettings,
        InMemorySettings,
        IntegrationSettings,
        QuotaSettings,
        RateLimitSettings,
        SettingsProblem,
        StateSettings,
    )
    from ._settings_loader import check_campaign, load_settings
    from ._stores import InMemoryResultStore, PostgresResultStore, SQLiteResultStore
    from ._zip import ZipFormat, normalize_zip

# Where each public name lives. A name's module is imported when the name is first used
# (PEP 562), not by `import purecallerid`: a host, a test or the command line pays the import
# time of what it uses (the HTTP stack, the rule parser, the stores...) and nothing else.
# tests/test_packaging.py holds this table, the imports above and __all__ to the same names.
_MODULES: _typing.Final[dict[str, tuple[str, ...]]] = {
    "_bounds": ("RecordBounds",),
    "_converter": ("converter",),
    "_errors": (
        "APIConnectionError",
        "APIError",
        "APIStatusError",
        "APITimeoutError",
        "AttemptOutcome",
        "AuthenticationError",
        "CircuitOpenError",
        "ClientError",
        "ConfigurationError",
        "DeadlineExceededError",
        "ErrorClass",
        "ForkedError",
        "GuardError",
        "InvalidLeadError",
        "InvalidPhoneError",
        "InvalidZipError",
        "MappingError",
        "PureCallerIDError",
        "QuotaExhaustedError",
        "RateLimitError",
        "ResponseValidationError",
        "RuleValidationError",
        "ServerError",
        "SettingsError",
        "StateUnavailableError",
        "StorageError",
        "SuppressionListError",
        "SuppressionListTimeoutError",
        "ThrottledError",
        "error_class",
        "failure_table",
    ),
    "_flow": ("Agreement", "agreement", "describe_plan", "describe_screening", "in_sample"),
    "_guards.backends": ("open_state_backend",),
    "_guards.memory": ("InMemoryStateBackend",),
    "_guards.redis": ("RedisStateBackend",),
    "_guards.sqlite": ("SQLiteStateBackend",),
    "_http.call": ("VendorReply",),
    "_http.integration": ("DEFAULT_HTTP_MAX_CONNECTIONS", "HttpIntegration"),
    "_http.received": ("ResponseLimits",),
    "_http.retry": ("RetryPolicy", "backoff_delay", "parse_retry_after", "retry_delay"),
    "_integrations.calling_window": ("CALLING_WINDOW_FIELDS", "CallingWindowIntegration"),
    "_integrations.configured.integration": ("ConfiguredHttpIntegration", "http_integrations"),
    "_integrations.configured.presets": ("PRESET_NAMES", "Preset", "preset_named", "presets"),
    "_integrations.purecallerid.client": (
        "DEFAULT_MAX_CONNECTIONS",
        "DEFAULT_SYNC_MAX_CONNECTIONS",
        "DEFAULT_TIMEOUT",
        "AsyncPureCallerIDClient",
        "PureCallerIDClient",
        "TransportFailure",
    ),
    "_integrations.purecallerid.dialects": (
        "DEFAULT_DIALER_FIELDS",
        "Dialect",
        "LeadExecDialect",
        "PublicDialect",
        "WireRequest",
        "dialect_named",
    ),
    "_integrations.purecallerid.fields": (
        "PURECALLERID_FIELDS",
        "answer_from_response",
        "map_request",
        "purecallerid_preset",
    ),
    "_integrations.purecallerid.integration": ("PureCallerIDIntegration",),
    "_integrations.purecallerid.models": (
        "Reason",
        "ScreeningRequest",
        "ScreeningResponse",
        "Status",
    ),
    "_integrations.purecallerid.wire": ("response_from_wire", "response_to_wire"),
    "_integrations.suppression": (
        "SUPPRESSION_FIELDS",
        "AsyncSuppressionList",
        "CSVSuppressionList",
        "InMemorySuppressionList",
        "PostgresSuppressionList",
        "RedisSuppressionList",
        "SQLiteSuppressionList",
        "SuppressionEntry",
        "SuppressionIntegration",
        "SuppressionList",
        "WritableSuppressionList",
        "record_to_suppression",
    ),
    "_mapping": (
        "DEFAULT_FIELD_MAPPING",
        "FieldMapping",
        "FieldSource",
        "MappingProblem",
        "ProblemCode",
        "Transform",
    ),
    "_models": ("Attempt", "Exchange", "Lead", "RequestRecord"),
    "_observe.dispatch": ("CompositeObserver",),
    "_observe.events": (
        "BreakerState",
        "GuardEvent",
        "IntegrationEnded",
        "IntegrationStarted",
        "ObserverEvent",
        "QuotaUsed",
        "ScreeningEnded",
        "ScreeningStarted",
    ),
    "_phone": ("PhoneFormat", "format_phone", "normalize_phone"),
    "_records": (
        "IntegrationRecord",
        "IntegrationStatus",
        "RulesRecord",
        "ScreeningRecord",
        "ShadowRecord",
    ),
    "_rules.check": ("RuleProblem", "Severity"),
    "_rules.condition": ("RunCondition",),
    "_rules.fields": (
        "CampaignFields",
        "FieldRegistry",
        "FieldSpec",
        "FieldType",
        "operator_table",
    ),
    "_rules.model": (
        "Action",
        "AllOf",
        "AnyOf",
        "Comparison",
        "Condition",
        "Not",
        "Operator",
        "Rule",
        "UnknownPolicy",
    ),
    "_rules.ruleset": (
        "Evaluation",
        "RuleOutcome",
        "RuleSet",
        "RuleTrace",
        "SupportsAnswer",
        "UncheckedRules",
    ),
    "_rules.schema": ("rules_json_schema",),
    "_rules.text": ("format_condition", "format_rules", "parse_rules"),
    "_screener": ("AsyncScreener", "Screener"),
    "_secrets": ("Secret", "SecretFilter", "mask_phone"),
    "_settings": (
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
    ),
    "_settings_loader": ("check_campaign", "load_settings"),
    "_stores": ("InMemoryResultStore", "PostgresResultStore", "SQLiteResultStore"),
    "_zip": ("ZipFormat", "normalize_zip"),
}
_SOURCE: _typing.Final[dict[str, str]] = {
    name: module for module, names in _MODULES.items() for name in names
}


_SUBMODULES: _typing.Final = frozenset({"typing", "testing", "otel", "prometheus", "cli"})
_IMPORTING: _typing.Final = _threading.RLock()

if not _typing.TYPE_CHECKING:
    # Defined for the interpreter only: a type checker sees the imports above, so that a
    # misspelt name is still an error there rather than an `Any`.

    def __getattr__(name: str) -> _typing.Any:
        """Import the module of a public *name* on first use, and keep the name here."""
        module = _SOURCE.get(name)
        if module is None and name in _SUBMODULES:
            module = name  # `purecallerid.typing` without importing it first, as before
        if module is None:
            raise AttributeError(f"module 'purecallerid' has no attribute {name!r}")
        # One first use at a time: threads importing different names at once could otherwise
        # meet in each other's half-imported modules.
        with _IMPORTING:
            found = _importlib.import_module(f".{module}", __name__)
            value = found if module == name else getattr(found, name)
        globals()[name] = value  # found directly from now on: __getattr__ runs once per name
        return value

    def __dir__() -> list[str]:
        """The public names (imported or not yet) and what the module holds."""
        return sorted({*globals(), *_SOURCE})


__all__ = [
    "CALLING_WINDOW_FIELDS",
    "DEFAULT_DIALER_FIELDS",
    "DEFAULT_FIELD_MAPPING",
    "DEFAULT_HTTP_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_SYNC_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "PRESET_NAMES",
    "PURECALLERID_FIELDS",
    "SUPPRESSION_FIELDS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Action",
    "Agreement",
    "AllOf",
    "AnyOf",
    "AsyncPureCallerIDClient",
    "AsyncScreener",
    "AsyncSuppressionList",
    "Attempt",
    "AttemptOutcome",
    "AuthenticationError",
    "BreakerState",
    "CSVSuppressionList",
    "CacheSettings",
    "CallingWindowIntegration",
    "CampaignFields",
    "CampaignSettings",
    "CircuitBreakerSettings",
    "CircuitOpenError",
    "ClientError",
    "Comparison",
    "CompositeObserver",
    "Condition",
    "ConfigurationError",
    "ConfiguredHttpIntegration",
    "Credentials",
    "DeadlineExceededError",
    "Dialect",
    "ErrorClass",
    "Evaluation",
    "Exchange",
    "FieldMapping",
    "FieldRegistry",
    "FieldSource",
    "FieldSpec",
    "FieldType",
    "FileSettings",
    "ForkedError",
    "GuardError",
    "GuardEvent",
    "HttpIntegration",
    "InMemoryResultStore",
    "InMemorySettings",
    "InMemoryStateBackend",
    "InMemorySuppressionList",
    "IntegrationEnded",
    "IntegrationRecord",
    "IntegrationSettings",
    "IntegrationStarted",
    "IntegrationStatus",
    "InvalidLeadError",
    "InvalidPhoneError",
    "InvalidZipError",
    "Lead",
    "LeadExecDialect",
    "MappingError",
    "MappingProblem",
    "Not",
    "ObserverEvent",
    "Operator",
    "PhoneFormat",
    "PostgresResultStore",
    "PostgresSuppressionList",
    "Preset",
    "ProblemCode",
    "PublicDialect",
    "PureCallerIDClient",
    "PureCallerIDError",
    "PureCallerIDIntegration",
    "QuotaExhaustedError",
    "QuotaSettings",
    "QuotaUsed",
    "RateLimitError",
    "RateLimitSettings",
    "Reason",
    "RecordBounds",
    "RedisStateBackend",
    "RedisSuppressionList",
    "RequestRecord",
    "ResponseLimits",
    "ResponseValidationError",
    "RetryPolicy",
    "Rule",
    "RuleOutcome",
    "RuleProblem",
    "RuleSet",
    "RuleTrace",
    "RuleValidationError",
    "RulesRecord",
    "RunCondition",
    "SQLiteResultStore",
    "SQLiteStateBackend",
    "SQLiteSuppressionList",
    "Screener",
    "ScreeningEnded",
    "ScreeningRecord",
    "ScreeningRequest",
    "ScreeningResponse",
    "ScreeningStarted",
    "Secret",
    "SecretFilter",
    "ServerError",
    "SettingsError",
    "SettingsProblem",
    "Severity",
    "ShadowRecord",
    "StateSettings",
    "StateUnavailableError",
    "Status",
    "StorageError",
    "SupportsAnswer",
    "SuppressionEntry",
    "SuppressionIntegration",
    "SuppressionList",
    "SuppressionListError",
    "SuppressionListTimeoutError",
    "ThrottledError",
    "Transform",
    "TransportFailure",
    "UncheckedRules",
    "UnknownPolicy",
    "VendorReply",
    "WireRequest",
    "WritableSuppressionList",
    "ZipFormat",
    "__version__",
    "agreement",
    "answer_from_response",
    "backoff_delay",
    "check_campaign",
    "converter",
    "describe_plan",
    "describe_screening",
    "dialect_named",
    "error_class",
    "failure_table",
    "format_condition",
    "format_phone",
    "format_rules",
    "http_integrations",
    "in_sample",
    "load_settings",
    "map_request",
    "mask_phone",
    "normalize_phone",
    "normalize_zip",
    "open_state_backend",
    "operator_table",
    "parse_retry_after",
    "parse_rules",
    "preset_named",
    "presets",
    "purecallerid_preset",
    "record_to_suppression",
    "response_from_wire",
    "response_to_wire",
    "retry_delay",
    "rules_json_schema",
]
