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
from quantdesk.client._core import ClientCore
from quantdesk.client._resources import SyncResources
from quantdesk.client._transport import (
    DEFAULT_TIMEOUT,
    Call,
    RetryPolicy,
    Waiting,
    api_url,
    ws_url,
)
from quantdesk.client.events import EventStream
from quantdesk.domain.events import EventType

T = TypeVar("T")


class QuantdeskClient(ClientCore, SyncResources):
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
        super().__init__(base_url, token, api_key, refresh_token, retry)
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
        return self._keep(self.call(_api_access.refresh(self._refresh_token())))

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
        if self._renewal_due(call, response):
            with self.credentials.lock:
                if self.credentials.generation == generation:  # nobody renewed it meanwhile
                    self._refresh_locked()
            response = self._exchange(call)
        return self._outcome(call, response)

    def _exchange(self, call: Call[Any]) -> httpx.Response:
        request = self._http.build_request(**self._request_args(call))
        for attempt in range(self.retry.retries(call.method) + 1):
            try:
                response = self._http.send(request)
            except httpx.TransportError as error:
                self._unanswered(call, request, error, attempt)
            else:
                if self._final(call, response, attempt):
                    return response
                response.close()
            time.sleep(self.retry.delay(attempt + 1))
        raise AssertionError("unreachable: the last attempt returns or raises")
