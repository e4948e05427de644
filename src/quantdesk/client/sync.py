"""The blocking client: ``QuantdeskClient(base_url).login(user, password)``, then one method
per route, each returning a typed result or raising QuantdeskApiError."""

import time
from types import TracebackType
from typing import Any, TypeVar

import httpx

from quantdesk.client import _api
from quantdesk.client._resources import SyncResources
from quantdesk.client._transport import (
    DEFAULT_TIMEOUT,
    Call,
    Credentials,
    RetryPolicy,
    api_url,
    problem_error,
    retryable_status,
)
from quantdesk.client.errors import QuantdeskConnectionError
from quantdesk.domain.auth import TokenPair

T = TypeVar("T")


class QuantdeskClient(SyncResources):
    """A session with one quantdesk service.

    Authenticate with ``api_key=`` (a machine), ``token=`` (an access token you hold), or
    ``login()``; after a login an expired access token is renewed once with the refresh token
    and the call repeated. Reads (GET) are retried on connection failures and 502/503/504,
    ``retry.attempts`` times at most; nothing else is ever repeated by the client.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        refresh_token: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.credentials = Credentials(
            access_token=token, refresh_token=refresh_token, api_key=api_key
        )
        self.retry = retry if retry is not None else RetryPolicy()
        self._http = httpx.Client(base_url=api_url(base_url), timeout=timeout, transport=transport)

    def __enter__(self) -> "QuantdeskClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # auth --------------------------------------------------------------------------------

    def login(self, username: str, password: str) -> TokenPair:
        """Log in; the client keeps the tokens (and renews the access token by itself)."""
        tokens = self.call(_api.login(username, password))
        with self.credentials.lock:
            self.credentials.store(tokens)
        return tokens

    def refresh(self) -> TokenPair:
        """Exchange the refresh token for a new pair (the old refresh token is spent)."""
        with self.credentials.lock:
            return self._refresh_locked()

    def logout(self) -> None:
        """Revoke this login's refresh token on the server and forget both tokens."""
        refresh_token = self.credentials.refresh_token
        if refresh_token is not None:
            self.call(_api.logout(refresh_token))
        with self.credentials.lock:
            self.credentials.forget()

    def _refresh_locked(self) -> TokenPair:
        refresh_token = self.credentials.refresh_token
        if refresh_token is None:
            raise ValueError("nothing to refresh: log in first (an API key needs no refresh)")
        tokens = self.call(_api.refresh(refresh_token))
        self.credentials.store(tokens)
        return tokens

    # the one door every route goes through ------------------------------------------------

    def call(self, call: Call[T]) -> T:
        generation = self.credentials.generation
        response = self._exchange(call)
        if response.status_code == 401 and call.refresh_on_401 and self.credentials.can_refresh():
            with self.credentials.lock:
                if self.credentials.generation == generation:  # nobody renewed it meanwhile
                    self._refresh_locked()
            response = self._exchange(call)
        if response.is_error:
            raise problem_error(response)
        return call.decode(response)

    def _exchange(self, call: Call[Any]) -> httpx.Response:
        request = self._http.build_request(
            call.method,
            call.path.lstrip("/"),
            params=call.params,
            json=call.json,
            files=call.files,
            data=call.data,
            headers=self.credentials.headers() if call.authenticated else None,
        )
        retries = self.retry.retries(call.method)
        for attempt in range(retries + 1):
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                if attempt == retries:
                    raise QuantdeskConnectionError(
                        call.method, str(request.url), type(exc).__name__
                    ) from None
            else:
                if attempt == retries or not retryable_status(call.method, response.status_code):
                    return response
                response.close()
            time.sleep(self.retry.delay(attempt + 1))
        raise AssertionError("unreachable: the last attempt returns or raises")
