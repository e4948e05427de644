"""The sync and the async client offer the same methods with the same parameters (the async
ones are coroutines), so that the README's example reads the same in either."""

import inspect

from quantdesk.client import AsyncQuantdeskClient, QuantdeskClient

SYNC_ONLY = {"close", "__enter__", "__exit__"}
ASYNC_ONLY = {"aclose", "__aenter__", "__aexit__"}
NOT_COROUTINES = {"events"}  # opening a stream is sync in both; reading it is async


def public(cls: type) -> dict[str, inspect.Signature]:
    """The methods a user calls: no underscore, and the context-manager ones."""
    wanted = SYNC_ONLY | ASYNC_ONLY
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_") or name in wanted
    }


def test_the_same_methods_with_the_same_parameters() -> None:
    sync, asynchronous = public(QuantdeskClient), public(AsyncQuantdeskClient)
    assert set(sync) - SYNC_ONLY == set(asynchronous) - ASYNC_ONLY
    differ = [
        name
        for name in set(sync) - SYNC_ONLY
        if list(sync[name].parameters) != list(asynchronous[name].parameters)
    ]
    assert differ == []
    assert len(sync) > 60  # every route has its method


def test_every_async_method_is_a_coroutine() -> None:
    names = set(public(AsyncQuantdeskClient)) - ASYNC_ONLY - NOT_COROUTINES
    plain = [n for n in names if not inspect.iscoroutinefunction(getattr(AsyncQuantdeskClient, n))]
    assert plain == []
