"""The asyncio client: the same methods as ``QuantdeskClient``, awaited; one instance may
serve many concurrent tasks (one connection pool, one token renewal at a time)."""

import asyncio
from collections.abc import Collection
from types import TracebackType
from typing import Any, TypeVar

import httpx

from quantdesk.api.schemas.auth import TokenPairOut
from quantdesk.api.schemas.backtest import RunOut
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.client import _api_access
from quantdesk.client._core import ClientCore
from quantdesk.client._resources import AsyncResources
from quantdesk.client._transport import (
    DEFAULT_TIMEOUT,
    Call,
    RetryPolicy,
    Waiting,
    api_url,
    ws_url,
)
from quantdesk.client.events import AsyncEventStream
from quantdesk.domain.events import EventType

T = TypeVar("T")


class AsyncQuantdeskClient(ClientCore, AsyncResources):
    """A session with one quantdesk service, for asyncio code (see ``QuantdeskClient``)."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        api_key: str | None = None,
        refresh_token: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        super().__init__(base_url, token, api_key, refresh_token, retry)
        self._renewal = asyncio.Lock()
        self._http = httpx.AsyncClient(
            base_url=api_url(base_url),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections),
        )

    async def __aenter__(self) -> "AsyncQuantdeskClient":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # auth --------------------------------------------------------------------------------

    async def login(self, username: str, password: str) -> TokenPairOut:
        """Log in; the client keeps the tokens (and renews the access token by itself)."""
        tokens = await self.call(_api_access.login(username, password))
        self.credentials.store(tokens)
        return tokens

    async def refresh(self) -> TokenPairOut:
        """Exchange the refresh token for a new pair (the old refresh token is spent)."""
        async with self._renewal:
            return await self._refresh_locked()

    async def logout(self) -> None:
        """Revoke this login's refresh token on the server and forget both tokens."""
        refresh_token = self.credentials.refresh_token
        if refresh_token is not None:
            await self.call(_api_access.logout(refresh_token))
        self.credentials.forget()

    async def _refresh_locked(self) -> TokenPairOut:
        return self._keep(await self.call(_api_access.refresh(self._refresh_token())))

    # events ------------------------------------------------------------------------------

    def events(
        self, types: Collection[EventType] = tuple(EventType), *, after_seq: int | None = None
    ) -> AsyncEventStream:
        """A stream of service events of ``types`` (all by default), after ``after_seq``:
        ``async with qd.events([EventType.job_update]) as stream: async for e in stream``."""
        return AsyncEventStream(
            ws_url(self.base_url),
            self.credentials.credential,
            types,
            after_seq=after_seq,
            renew=self.refresh if self.credentials.can_refresh() else None,
        )

    # waiting for work to finish ------------------------------------------------------------

    async def wait_for_job(
        self, job_id: str, *, timeout_s: float = 600.0, poll_s: float = 0.5
    ) -> JobOut:
        """The job once finished (completed, failed or cancelled); TimeoutError after
        ``timeout_s`` (the job goes on)."""
        waiting = Waiting(f"job {job_id}", timeout_s, poll_s)
        while not (found := await self.job(job_id)).state.finished:
            waiting.check(found.state.value)
            await asyncio.sleep(poll_s)
        return found

    async def wait_for_run(
        self, run_id: str, *, timeout_s: float = 600.0, poll_s: float = 0.5
    ) -> RunOut:
        """The run once finished; its result and downloads are there when ``completed``."""
        waiting = Waiting(f"run {run_id}", timeout_s, poll_s)
        while not (found := await self.run(run_id)).state.finished:
            waiting.check(found.state.value)
            await asyncio.sleep(poll_s)
        return found

    # the one door every route goes through ------------------------------------------------

    async def call(self, call: Call[T]) -> T:
        generation = self.credentials.generation
        response = await self._exchange(call)
        if self._renewal_due(call, response):
            async with self._renewal:
                if self.credentials.generation == generation:  # nobody renewed it meanwhile
                    await self._refresh_locked()
            response = await self._exchange(call)
        return self._outcome(call, response)

    async def _exchange(self, call: Call[Any]) -> httpx.Response:
        request = self._http.build_request(**self._request_args(call))
        for attempt in range(self.retry.retries(call.method) + 1):
            try:
                response = await self._http.send(request)
            except httpx.TransportError as error:
                self._unanswered(call, request, error, attempt)
            else:
                if self._final(call, response, attempt):
                    return response
                await response.aclose()
            await asyncio.sleep(self.retry.delay(attempt + 1))
        raise AssertionError("unreachable: the last attempt returns or raises")
