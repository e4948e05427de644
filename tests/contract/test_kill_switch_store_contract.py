"""The ``KillSwitchStore`` contract, one suite over every backend: the in-memory fake, SQLite
and PostgreSQL (required in CI)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakes import InMemoryKillSwitchStore
from quantdesk.adapters.storage.kill_switches import SqlKillSwitchStore
from quantdesk.domain.risk import KillSwitch, KillSwitchScope
from quantdesk.services.ports import KillSwitchStore
from support.contract_backends import BACKENDS, backend

PORTFOLIO, STRATEGY, INSTRUMENT = (
    KillSwitchScope.PORTFOLIO,
    KillSwitchScope.STRATEGY,
    KillSwitchScope.INSTRUMENT,
)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KillSwitchStore]:
    with backend(request.param, tmp_path, InMemoryKillSwitchStore, SqlKillSwitchStore) as port:
        yield port


def switch(scope: KillSwitchScope, target: str, at_ns: int, **fields: str) -> KillSwitch:
    return KillSwitch.model_validate(
        {"scope": scope, "target": target, "reason": "why", "actor": "ana", "thrown_at_ns": at_ns}
        | fields
    )


def test_nothing_is_thrown_at_first(store: KillSwitchStore) -> None:
    assert store.thrown() == []
    assert store.release(PORTFOLIO, "", "ana", 1) is False


def test_thrown_switches_come_back_whole_in_the_order_thrown(store: KillSwitchStore) -> None:
    switches = [
        switch(STRATEGY, "EmaCross-A", 30, reason="r" * 2000, actor="a" * 200),
        switch(INSTRUMENT, "SYN01.SIM", 10),
        switch(PORTFOLIO, "", 20, reason="fire drill"),
    ]
    for s in switches:
        store.throw(s)
    assert store.thrown() == sorted(switches, key=lambda s: s.thrown_at_ns)


def test_one_switch_per_scope_and_target_the_newest_throw_wins(store: KillSwitchStore) -> None:
    store.throw(switch(STRATEGY, "S", 1, reason="first"))
    store.throw(switch(STRATEGY, "S", 2, reason="again", actor="bo"))
    store.throw(switch(INSTRUMENT, "S", 3))  # same target, another scope: its own switch
    assert [(s.scope, s.reason, s.actor) for s in store.thrown()] == [
        (STRATEGY, "again", "bo"),
        (INSTRUMENT, "why", "ana"),
    ]


def test_release_takes_exactly_one_switch_once(store: KillSwitchStore) -> None:
    store.throw(switch(STRATEGY, "S", 1))
    store.throw(switch(INSTRUMENT, "S", 2))
    assert store.release(STRATEGY, "S", "bo", 5) is True
    assert store.release(STRATEGY, "S", "bo", 6) is False
    assert store.release(STRATEGY, "s", "bo", 6) is False  # targets are exact
    assert [s.scope for s in store.thrown()] == [INSTRUMENT]
    store.throw(switch(STRATEGY, "S", 7))  # thrown again after a release
    assert [s.scope for s in store.thrown()] == [INSTRUMENT, STRATEGY]
