"""The registry on its real databases: one contract, run on SQLite and on PostgreSQL.

PostgreSQL tests skip when no server listens on 127.0.0.1:5432, unless
QUANTDESK_REQUIRE_SERVICES=1. Each test gets a database of its own.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.tables import StrategyVersionRow
from quantdesk.domain.errors import ConflictError, NotFoundError
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.domain.strategies.versions import StrategyAction, StrategyChange
from support.migrations import HEAD, REVISIONS
from support.registry import (
    EXAMPLES,
    postgres_database,
    registry_on,
    sqlite_database,
    trend,
)

SRC = Path(__file__).resolve().parents[2] / "src"
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
        return
    with postgres_database() as database_url:
        yield database_url


@pytest.fixture
def database(url: str) -> Iterator[Database]:
    database = Database(url)
    yield database
    database.dispose()


def test_new_strategy_is_version_1_and_same_content_is_a_no_op(url: str) -> None:
    registry, _, database = registry_on(url)
    first = registry.register(trend(), "alice", "first")
    again = registry.register(trend(), "bob", "same content, other reason")
    assert (first.stored.version, first.created) == (1, True)
    assert (again.stored.version, again.created) == (1, False)
    assert again.stored.definition.author == "alice"  # the version that holds the content
    database.dispose()


def test_changed_content_is_the_next_version_and_history_keeps_all(url: str) -> None:
    registry, _, database = registry_on(url)
    for fast in (5, 6, 7):
        registry.register(trend(fast_period=fast), "alice", f"fast {fast}")
    history = registry.history("trend-a")
    assert [v.version for v in history] == [1, 2, 3]
    assert [v.definition.parameters.model_dump()["fast_period"] for v in history] == [5, 6, 7]
    assert registry.get("trend-a").version == 3
    assert registry.get("trend-a", 2).definition.reason == "fast 6"
    changes = registry.diff("trend-a", 1, 3)
    assert [(c.path, c.old, c.new) for c in changes] == [("parameters.fast_period", 5, 7)]
    database.dispose()


def test_add_refuses_other_content_and_update_refuses_unknown(url: str) -> None:
    registry, _, database = registry_on(url)
    with pytest.raises(NotFoundError, match="not registered"):
        registry.update(trend(), "alice")
    registry.add(trend(), "alice")
    assert registry.add(trend(), "alice").created is False
    with pytest.raises(ConflictError, match="strategy update"):
        registry.add(trend(fast_period=3), "alice")
    assert registry.update(trend(fast_period=3), "alice").stored.version == 2
    database.dispose()


def test_stored_definition_is_byte_identical_to_the_registered_one(url: str) -> None:
    registry, store, database = registry_on(url)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        import yaml

        definition = parse_definition(yaml.safe_load(path.read_text()))
        stored = registry.register(definition, "alice").stored
        assert store.stored_content(stored.strategy_id, 1) == definition.canonical_json
        assert stored.definition.canonical_json == definition.canonical_json
        assert stored.content_hash == definition.content_hash
    assert {v.definition.family for v in registry.list()} == set(StrategyFamily)
    database.dispose()


def test_tags_move_deprecations_stay_and_list_filters(url: str) -> None:
    registry, _, database = registry_on(url)
    registry.register(trend(), "alice")
    registry.register(trend(fast_period=3), "alice")
    registry.register(trend("trend-b"), "alice")
    registry.tag("trend-a", 1, "live", "bob")
    registry.tag("trend-a", 2, "live", "bob")  # moves
    registry.tag("trend-b", 1, "validated", "bob")
    assert registry.resolve("trend-a@live").version == 2
    assert [v.ref for v in registry.list(tag="live")] == ["trend-a@2"]
    assert registry.get("trend-a", 1).tags == ()
    registry.deprecate("trend-a", 1, "bob", "superseded")
    registry.deprecate("trend-a", 1, "bob", "twice is a no-op")
    deprecation = registry.get("trend-a", 1).deprecation
    assert deprecation is not None and deprecation.reason == "superseded"
    assert [v.ref for v in registry.list(family=StrategyFamily.TREND_FOLLOWING)] == [
        "trend-a@2",
        "trend-b@1",
    ]
    assert registry.list(family=StrategyFamily.EXECUTION) == []
    with pytest.raises(NotFoundError):
        registry.tag("trend-a", 9, "live", "bob")
    actions = [e.action for e in registry.audit_events()]
    assert actions.count(StrategyAction.TAGGED) == 3
    assert actions.count(StrategyAction.DEPRECATED) == 1
    assert registry.verify_audit().breaks == []
    database.dispose()


def test_changes_are_published_after_they_are_stored(url: str) -> None:
    registry, _, database = registry_on(url)
    heard: list[StrategyChange] = []
    registry.subscribe(heard.append)
    registry.subscribe(lambda change: (_ for _ in ()).throw(RuntimeError("listener bug")))
    registry.register(trend(), "alice")
    registry.register(trend(), "alice")  # no change, no event
    registry.deprecate("trend-a", 1, "alice")
    assert [(c.action, c.version) for c in heard] == [
        (StrategyAction.REGISTERED, 1),
        (StrategyAction.DEPRECATED, 1),
    ]
    database.dispose()


def test_the_database_refuses_a_second_row_for_one_version(database: Database) -> None:
    """The lock is the first guard; the unique constraint is the one that cannot be bypassed."""
    database.upgrade()
    row = {
        "strategy_id": "x",
        "version": 1,
        "family": "trend_following",
        "name": "x",
        "content_hash": "0" * 64,
        "content": "{}",
        "author": "a",
        "created_at_ns": 0,
        "reason": "",
    }
    with database.engine.begin() as connection:
        connection.execute(insert(StrategyVersionRow).values(**row))
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(insert(StrategyVersionRow).values(**row))


def test_migrations_are_idempotent(database: Database) -> None:
    assert database.upgrade() == REVISIONS
    assert database.upgrade() == []
    assert database.current_revision() == HEAD


Interval = tuple[int, int]  # (monotonic ns at the call, at its return): order only, no timing


def overlap(calls: dict[str, list[Interval]]) -> bool:
    """Whether two writers were inside ``register`` at once: the evidence that the race the
    test is about happened (run one after another, the calls would never overlap and the
    test would pass whether or not the lock works)."""
    spans = [(start, end, writer) for writer, own in calls.items() for start, end in own]
    return any(s1 < e2 and s2 < e1 and w1 != w2 for s1, e1, w1 in spans for s2, e2, w2 in spans)


def test_concurrent_threads_never_share_a_version(url: str) -> None:
    registry, _, database = registry_on(url)
    database.upgrade()
    errors: list[BaseException] = []
    start = threading.Barrier(6)
    calls: dict[str, list[Interval]] = {f"w{w}": [] for w in range(6)}

    def writer(worker: int) -> None:
        try:
            start.wait(timeout=60)  # all six write at once
            for i in range(4):
                began = time.monotonic_ns()
                registry.register(trend(fast_period=2 + worker * 4 + i), f"w{worker}")
                calls[f"w{worker}"].append((began, time.monotonic_ns()))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = registry.history("trend-a")
    assert [v.version for v in history] == list(range(1, 25))
    assert len({v.content_hash for v in history}) == 24
    assert overlap(calls)  # the writers did race
    assert registry.verify_audit().breaks == []
    database.dispose()


_WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from support.registry import registry_on, trend
    registry, _, database = registry_on(sys.argv[1])
    base, gate = int(sys.argv[2]), Path(sys.argv[3])
    (gate / f"ready-{base}").touch()
    while not (gate / "go").exists():  # start together, so the writes overlap
        time.sleep(0.005)
    calls = []
    for i in range(15):
        began = time.monotonic_ns()  # one clock for every process on the machine
        registry.register(trend(fast_period=base + i), f"process-{base}")
        calls.append((began, time.monotonic_ns()))
    database.dispose()
    print(json.dumps(calls))
    """
)


def test_two_processes_never_share_a_version(url: str, tmp_path: Path) -> None:
    registry, _, database = registry_on(url)
    database.upgrade()  # else both processes race to create the schema (also safe, slower)
    env = {"PYTHONPATH": f"{SRC}:{TESTS}"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, str(base), str(tmp_path)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for base in (2, 20)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outputs = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _, err in outputs]
    history = registry.history("trend-a")
    assert [v.version for v in history] == list(range(1, 31))
    assert {v.definition.author for v in history} == {"process-2", "process-20"}
    calls = {str(n): [(a, b) for a, b in json.loads(out)] for n, (out, _) in enumerate(outputs)}
    assert overlap(calls)  # the two processes did race
    assert registry.verify_audit().breaks == []
    database.dispose()
