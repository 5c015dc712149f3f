"""Real-time lead screening: PureCallerID and other phone-compliance checks for lead platforms.

The public API is re-exported here; every implementation module is private.
"""

from importlib.metadata import version as _version

from ._client import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_SYNC_MAX_CONNECTIONS,
    DEFAULT_TIMEOUT,
    AsyncPureCallerIDClient,
    PureCallerIDClient,
)
from ._converter import converter, response_from_wire, response_to_wire
from ._dialects import (
    DEFAULT_DIALER_FIELDS,
    Dialect,
    LeadExecDialect,
    PublicDialect,
    WireRequest,
    dialect_named,
)
from ._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ClientError,
    ConfigurationError,
    PureCallerIDError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
)
from ._integration import PureCallerIDIntegration
from ._mapping import (
    DEFAULT_FIELD_MAPPING,
    FieldMapping,
    FieldSource,
    MappingError,
    MappingProblem,
    ProblemCode,
    Transform,
)
from ._models import (
    Attempt,
    Exchange,
    Lead,
    Reason,
    RequestRecord,
    ScreeningRequest,
    ScreeningResponse,
    Status,
)
from ._phone import InvalidPhoneError, PhoneFormat, format_phone, normalize_phone
from ._records import IntegrationRecord, IntegrationStatus, ScreeningRecord
from ._retry import RetryPolicy, backoff_delay, parse_retry_after, retry_delay
from ._rules import (
    Evaluation,
    RuleOutcome,
    RuleSet,
    RuleTrace,
    answer_from_response,
    purecallerid_preset,
)
from ._rules_check import (
    RuleProblem,
    RuleValidationError,
    Severity,
)
from ._rules_fields import (
    PURECALLERID_FIELDS,
    FieldRegistry,
    FieldSpec,
    FieldType,
    operator_table,
)
from ._rules_model import (
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
from ._rules_schema import (
    rules_json_schema,
)
from ._rules_text import (
    format_condition,
    format_rules,
    parse_rules,
)
from ._screener import AsyncScreener, InvalidLeadError, Screener, error_class
from ._secrets import Secret, mask_phone
from ._settings import (
    CampaignSettings,
    Credentials,
    FileSettings,
    InMemorySettings,
    IntegrationSettings,
    SettingsError,
    SettingsProblem,
    load_settings,
)
from ._stores import InMemoryResultStore, SQLiteResultStore, StorageError
from ._suppression import (
    SUPPRESSION_FIELDS,
    CSVSuppressionList,
    InMemorySuppressionList,
    SQLiteSuppressionList,
    SuppressionEntry,
    SuppressionIntegration,
    SuppressionList,
)
from ._zip import InvalidZipError, ZipFormat, normalize_zip

__version__ = _version("purecallerid")

__all__ = [
    "DEFAULT_DIALER_FIELDS",
    "DEFAULT_FIELD_MAPPING",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_SYNC_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
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
    "AuthenticationError",
    "CSVSuppressionList",
    "CampaignSettings",
    "ClientError",
    "Comparison",
    "Condition",
    "ConfigurationError",
    "Credentials",
    "Dialect",
    "Evaluation",
    "Exchange",
    "FieldMapping",
    "FieldRegistry",
    "FieldSource",
    "FieldSpec",
    "FieldType",
    "FileSettings",
    "InMemoryResultStore",
    "InMemorySettings",
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
    "ProblemCode",
    "PublicDialect",
    "PureCallerIDClient",
    "PureCallerIDError",
    "PureCallerIDIntegration",
    "RateLimitError",
    "Reason",
    "RequestRecord",
    "ResponseValidationError",
    "RetryPolicy",
    "Rule",
    "RuleOutcome",
    "RuleProblem",
    "RuleSet",
    "RuleTrace",
    "RuleValidationError",
    "SQLiteResultStore",
    "SQLiteSuppressionList",
    "Screener",
    "ScreeningRecord",
    "ScreeningRequest",
    "ScreeningResponse",
    "Secret",
    "ServerError",
    "SettingsError",
    "SettingsProblem",
    "Severity",
    "Status",
    "StorageError",
    "SuppressionEntry",
    "SuppressionIntegration",
    "SuppressionList",
    "Transform",
    "UnknownPolicy",
    "WireRequest",
    "ZipFormat",
    "__version__",
    "answer_from_response",
    "backoff_delay",
    "converter",
    "dialect_named",
    "error_class",
    "format_condition",
    "format_phone",
    "format_rules",
    "load_settings",
    "mask_phone",
    "normalize_phone",
    "normalize_zip",
    "operator_table",
    "parse_retry_after",
    "parse_rules",
    "purecallerid_preset",
    "response_from_wire",
    "response_to_wire",
    "retry_delay",
    "rules_json_schema",
]
