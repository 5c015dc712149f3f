"""Real-time lead screening: PureCallerID and other phone-compliance checks for lead platforms.

The public API is re-exported here; every implementation module is private.
"""

from importlib.metadata import version as _version

from ._client import (
    DEFAULT_MAX_CONNECTIONS,
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
from ._retry import RetryPolicy, backoff_delay, parse_retry_after, retry_delay
from ._secrets import Secret, mask_phone

__version__ = _version("purecallerid")

__all__ = [
    "DEFAULT_DIALER_FIELDS",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPureCallerIDClient",
    "Attempt",
    "AuthenticationError",
    "ClientError",
    "ConfigurationError",
    "Dialect",
    "Exchange",
    "Lead",
    "LeadExecDialect",
    "PublicDialect",
    "PureCallerIDClient",
    "PureCallerIDError",
    "RateLimitError",
    "Reason",
    "RequestRecord",
    "ResponseValidationError",
    "RetryPolicy",
    "ScreeningRequest",
    "ScreeningResponse",
    "Secret",
    "ServerError",
    "Status",
    "WireRequest",
    "__version__",
    "backoff_delay",
    "converter",
    "dialect_named",
    "mask_phone",
    "parse_retry_after",
    "response_from_wire",
    "response_to_wire",
    "retry_delay",
]
