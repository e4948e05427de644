"""The blocking client: ``QuantdeskClient(base_url).login(user, password)``, then one method
per route, each returning a typed result or raising QuantdeskApiError."""

import time
from collections.abc import Collection
from types import TracebackType
from typing import Any, TypeVar

import httpx

from quantdesk.api.schemas.auth import TokenPairOut
from quantdesk.api.schemas.backtest import RunOut
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.client import _api_access
from quantdesk.client._resources import SyncResources
from quantdesk.client._transport import (
    DEFAULT_TIMEOUT,
    Call,
    Credentials,
    RetryPolicy,
    Waiting,
    api_url,
    problem_error,
    retryable_status,
    ws_url,
)
from quantdesk.client.errors import QuantdeskConnectionError
from quantdesk.client.events import EventStream
from quantdesk.domain.events import EventType

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

    def login(self, username: str, password: str) -> TokenPairOut:
        """Log in; the client keeps the tokens (and renews the access token by itself)."""
        tokens = self.call(_api_access.login(username, password))
        with self.credentials.lock:
            self.credentials.store(tokens)
        return tokens

    def refresh(self) -> TokenPairOut:
        """Exchange the refresh token for a new pair (the old refresh token is spent)."""
        with self.credentials.lock:
            return self._refresh_locked()

    def logout(self) -> None:
        """Revoke this login's refresh token on the server and forget both tokens."""
        refresh_token = self.credentials.refresh_token
        if refresh_token is not None:
            self.call(_api_access.logout(refresh_token))
        with self.credentials.lock:
            self.credentials.forget()

    def _refresh_locked(self) -> TokenPairOut:
        refresh_token = self.credentials.refresh_token
        if refresh_token is None:
            raise ValueError("nothing to refresh: log in first (an API key needs no refresh)")
        tokens = self.call(_api_access.refresh(refresh_token))
        self.credentials.store(tokens)
        return tokens

    # events ------------------------------------------------------------------------------

    def events(
        self, types: Collection[EventType] = tuple(EventType), *, after_seq: int | None = None
    ) -> EventStream:
        """A stream of service events of ``types`` (all by default), after ``after_seq``:
        ``with qd.events([EventType.job_update]) as stream: event = stream.receive(10)``."""
        return EventStream(
            ws_url(self.base_url),
            self.credentials.credential,
            types,
            after_seq=after_seq,
            renew=self.refresh if self.credentials.can_refresh() else None,
        )

    # waiting for work to finish ------------------------------------------------------------

    def wait_for_job(self, job_id: str, *, timeout_s: float = 600.0, poll_s: float = 0.5) -> JobOut:
        """The job once finished (completed, failed or cancelled); TimeoutError after
        ``timeout_s`` (the job goes on)."""
        waiting = Waiting(f"job {job_id}", timeout_s, poll_s)
        while not (found := self.job(job_id)).state.finished:
            waiting.check(found.state.value)
            time.sleep(poll_s)
        return found

    def wait_for_run(self, run_id: str, *, timeout_s: float = 600.0, poll_s: float = 0.5) -> RunOut:
        """The run once finished; its result and downloads are there when ``completed``."""
        waiting = Waiting(f"run {run_id}", timeout_s, poll_s)
        while not (found := self.run(run_id)).state.finished:
            waiting.check(found.state.value)
            time.sleep(poll_s)
        return found

    # the one door every route goes through ------------------------------------------------

    def call(self, call: Call[T]) -> T:
        generation = self.credentials.generation
        response = self._exchange(call)
        if response.status_code == 401 and call.refresh_on_401 and self.credentials.can_refresh():
            with self.credentials.lock:
                if self.credentials.generation == generation:  # nobody renewed it meanwhile
                    self._refresh_locked()
            response = self._exchange(call)
        if call.failed(response):
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
                if (
                    attempt == retries
                    or not call.failed(response)
                    or not retryable_status(call.method, response.status_code)
                ):
                    return response
                response.close()
            time.sleep(self.retry.delay(attempt + 1))
        raise AssertionError("unreachable: the last attempt returns or raises")
