"""The Python client of the quantdesk service (httpx, sync and async).

from quantdesk.client import QuantdeskClient

with QuantdeskClient("http://127.0.0.1:8000") as qd:
    qd.login("admin", password)
    print(qd.me())
"""

from quantdesk.client._transport import RetryPolicy
from quantdesk.client.async_client import AsyncQuantdeskClient
from quantdesk.client.errors import (
    QuantdeskApiError,
    QuantdeskConnectionError,
    QuantdeskProtocolError,
)
from quantdesk.client.models import Page
from quantdesk.client.sync import QuantdeskClient

__all__ = [
    "AsyncQuantdeskClient",
    "Page",
    "QuantdeskApiError",
    "QuantdeskClient",
    "QuantdeskConnectionError",
    "QuantdeskProtocolError",
    "RetryPolicy",
]
