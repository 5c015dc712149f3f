"""Real-time lead screening: PureCallerID and other phone-compliance checks for lead platforms.

The public API is re-exported here; every implementation module is private.
"""

from importlib.metadata import version as _version

from ._converter import converter
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
from ._secrets import Secret, mask_phone

__version__ = _version("purecallerid")

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Attempt",
    "AuthenticationError",
    "ClientError",
    "ConfigurationError",
    "Exchange",
    "Lead",
    "PureCallerIDError",
    "RateLimitError",
    "Reason",
    "RequestRecord",
    "ResponseValidationError",
    "ScreeningRequest",
    "ScreeningResponse",
    "Secret",
    "ServerError",
    "Status",
    "__version__",
    "converter",
    "mask_phone",
]
