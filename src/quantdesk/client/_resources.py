"""The routes as methods, once for each client: every method is the route's ``Call`` (from
``_api``) run by the client's ``call``, with the route's own signature and docstring."""

from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from quantdesk.client import _api
from quantdesk.client._transport import Call

P = ParamSpec("P")
T = TypeVar("T")


class _SyncCaller(Protocol):
    def call(self, call: Call[T]) -> T: ...


class _AsyncCaller(Protocol):
    async def call(self, call: Call[T]) -> T: ...


def _sync(build: Callable[P, Call[T]]) -> Callable[Concatenate[_SyncCaller, P], T]:
    def method(self: _SyncCaller, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self.call(build(*args, **kwargs))

    method.__name__ = method.__qualname__ = build.__name__
    method.__doc__ = build.__doc__
    return method


def _async(
    build: Callable[P, Call[T]],
) -> Callable[Concatenate[_AsyncCaller, P], Coroutine[Any, Any, T]]:
    async def method(self: _AsyncCaller, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.call(build(*args, **kwargs))

    method.__name__ = method.__qualname__ = build.__name__
    method.__doc__ = build.__doc__
    return method


class SyncResources:
    me = _sync(_api.me)
    health = _sync(_api.health)
    ready = _sync(_api.ready)
    metrics = _sync(_api.metrics)


class AsyncResources:
    me = _async(_api.me)
    health = _async(_api.health)
    ready = _async(_api.ready)
    metrics = _async(_api.metrics)
