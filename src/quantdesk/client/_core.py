"""What the sync and the async client share besides the routes: the session's state (base
URL, credentials, retry policy) and every decision about an answer (renew the token? try
again? raise or decode?), so that each client only does its own I/O."""

from typing import Any, TypeVar

import httpx

from quantdesk.api.schemas.auth import TokenPairOut
from quantdesk.client._transport import (
    Call,
    Credentials,
    RetryPolicy,
    problem_error,
    retryable_status,
)
from quantdesk.client.errors import QuantdeskConnectionError

T = TypeVar("T")


class ClientCore:
    """A session's state and decisions (``QuantdeskClient``, ``AsyncQuantdeskClient``)."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        api_key: str | None,
        refresh_token: str | None,
        retry: RetryPolicy | None,
    ) -> None:
        self.base_url = base_url
        self.credentials = Credentials(
            access_token=token, refresh_token=refresh_token, api_key=api_key
        )
        self.retry = retry if retry is not None else RetryPolicy()

    def _request_args(self, call: Call[Any]) -> dict[str, Any]:
        return {
            "method": call.method,
            "url": call.path.lstrip("/"),
            "params": call.params,
            "json": call.json,
            "files": call.files,
            "data": call.data,
            "headers": self.credentials.headers() if call.authenticated else None,
        }

    def _renewal_due(self, call: Call[Any], response: httpx.Response) -> bool:
        """A 401 a renewed access token may mend (the call is repeated with it)."""
        return (
            response.status_code == 401 and call.refresh_on_401 and self.credentials.can_refresh()
        )

    def _refresh_token(self) -> str:
        held = self.credentials.refresh_token
        if held is None:
            raise ValueError("nothing to refresh: log in first (an API key needs no refresh)")
        return held

    def _keep(self, tokens: TokenPairOut) -> TokenPairOut:
        self.credentials.store(tokens)
        return tokens

    @staticmethod
    def _outcome(call: Call[T], response: httpx.Response) -> T:
        if call.failed(response):
            raise problem_error(response)
        return call.decode(response)

    def _final(self, call: Call[Any], response: httpx.Response, attempt: int) -> bool:
        """Whether this answer is the one to hand on (else it is retried)."""
        return (
            attempt == self.retry.retries(call.method)
            or not call.failed(response)
            or not retryable_status(call.method, response.status_code)
        )

    def _unanswered(
        self, call: Call[Any], request: httpx.Request, error: httpx.TransportError, attempt: int
    ) -> None:
        """Raise when no attempt is left after a failed connection or a timeout."""
        if attempt == self.retry.retries(call.method):
            raise QuantdeskConnectionError(
                call.method, str(request.url), type(error).__name__
            ) from None
