"""Real-time lead screening: PureCallerID and other phone-compliance checks for lead platforms.

The public API is re-exported here; every implementation module is private.
"""

from importlib.metadata import version as _version

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
    ThrottledError,
    error_class,
    failure_table,
)
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
from ._integrations.purecallerid.models import Reason, ScreeningRequest, ScreeningResponse, Status
from ._integrations.purecallerid.wire import response_from_wire, response_to_wire
from ._integrations.suppression import (
    SUPPRESSION_FIELDS,
    CSVSuppressionList,
    InMemorySuppressionList,
    SQLiteSuppressionList,
    SuppressionEntry,
    SuppressionIntegration,
    SuppressionList,
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
from ._phone import PhoneFormat, format_phone, normalize_phone
from ._records import IntegrationRecord, IntegrationStatus, ScreeningRecord
from ._rules.check import RuleProblem, Severity
from ._rules.fields import (
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

__version__ = _version("purecallerid")

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
    "AllOf",
    "AnyOf",
    "AsyncPureCallerIDClient",
    "AsyncScreener",
    "Attempt",
    "AttemptOutcome",
    "AuthenticationError",
    "CSVSuppressionList",
    "CacheSettings",
    "CallingWindowIntegration",
    "CampaignSettings",
    "CircuitBreakerSettings",
    "CircuitOpenError",
    "ClientError",
    "Comparison",
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
    "HttpIntegration",
    "InMemoryResultStore",
    "InMemorySettings",
    "InMemoryStateBackend",
    "InMemorySuppressionList",
    "IntegrationRecord",
    "IntegrationSettings",
    "IntegrationStatus",
    "InvalidLeadError",
    "InvalidPhoneError",
    "InvalidZipError",
    "Lead",
    "LeadExecDialect",
    "MappingError",
    "MappingProblem",
    "Not",
    "Operator",
    "PhoneFormat",
    "PostgresResultStore",
    "Preset",
    "ProblemCode",
    "PublicDialect",
    "PureCallerIDClient",
    "PureCallerIDError",
    "PureCallerIDIntegration",
    "QuotaExhaustedError",
    "QuotaSettings",
    "RateLimitError",
    "RateLimitSettings",
    "Reason",
    "RecordBounds",
    "RedisStateBackend",
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
    "SQLiteResultStore",
    "SQLiteStateBackend",
    "SQLiteSuppressionList",
    "Screener",
    "ScreeningRecord",
    "ScreeningRequest",
    "ScreeningResponse",
    "Secret",
    "SecretFilter",
    "ServerError",
    "SettingsError",
    "SettingsProblem",
    "Severity",
    "StateSettings",
    "StateUnavailableError",
    "Status",
    "StorageError",
    "SupportsAnswer",
    "SuppressionEntry",
    "SuppressionIntegration",
    "SuppressionList",
    "SuppressionListError",
    "ThrottledError",
    "Transform",
    "TransportFailure",
    "UncheckedRules",
    "UnknownPolicy",
    "VendorReply",
    "WireRequest",
    "ZipFormat",
    "__version__",
    "answer_from_response",
    "backoff_delay",
    "check_campaign",
    "converter",
    "dialect_named",
    "error_class",
    "failure_table",
    "format_condition",
    "format_phone",
    "format_rules",
    "http_integrations",
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
    "response_from_wire",
    "response_to_wire",
    "retry_delay",
    "rules_json_schema",
]
