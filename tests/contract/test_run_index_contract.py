"""The ``RunIndex`` contract, one suite over every backend: the in-memory fake, SQLite and
PostgreSQL (required in CI). Each test states a rule of the port, not of one adapter."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session

from fakes import InMemoryRunIndex
from quantdesk.adapters.storage.run_index import (
    BacktestRunRow,
    BacktestRunStrategyRow,
    SqlRunIndex,
)
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantdesk.domain.runs import RunFilter, RunRecord, RunState, RunSummary
from quantdesk.services.ports import RunIndex
from support.contract_backends import BACKENDS, backend


@pytest.fixture(params=BACKENDS)
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunIndex]:
    with backend(request.param, tmp_path, InMemoryRunIndex, SqlRunIndex) as port:
        yield port


def record(run_id: str, created_ns: int = 1, **fields: object) -> RunRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "state": RunState.PENDING,
        "strategies": ("trend-a@1",),
        "submitted_by": "ana",
        "created_ns": created_ns,
        **fields,
    }
    return RunRecord.model_validate(values)


REQUEST = BacktestRequest(strategies=["trend-a@1"], label="nightly", seed=7)


def test_a_record_and_its_request_come_back_as_stored(index: RunIndex) -> None:
    full = record(
        "r1",
        label="nightly",
        strategies=("trend-a@1", "breakout-b@3"),
        correlation_id="c" * 64,
        job_id="j1",
        fingerprint="f" * 64,
    )
    index.add(full, REQUEST)
    assert index.get("r1") == full
    assert index.request("r1") == REQUEST
    assert index.get("r2") is None and index.request("r2") is None


def test_an_id_is_stored_once(index: RunIndex) -> None:
    index.add(record("r1"), REQUEST)
    with pytest.raises(ConflictError) as taken:
        index.add(record("r1", label="other"), REQUEST)
    assert (taken.value.code, taken.value.data) == ("run_exists", {"run_id": "r1"})
    assert index.get("r1") == record("r1")


def test_updates_are_compare_and_set_on_the_state(index: RunIndex) -> None:
    index.add(record("r1"), REQUEST)
    running = record("r1", state=RunState.RUNNING, started_ns=5)
    assert index.update(running, expect={RunState.PENDING})
    done = running.model_copy(
        update={
            "state": RunState.COMPLETED,
            "finished_ns": 9,
            "summary": RunSummary(total_return=0.1, sharpe=None, max_drawdown=-0.2, trade_count=3),
        }
    )
    cancelled = running.model_copy(update={"state": RunState.CANCELLED, "error": "stop"})
    assert index.update(done, expect={RunState.RUNNING})
    assert not index.update(cancelled, expect={RunState.PENDING, RunState.RUNNING})
    assert index.get("r1") == done  # the first to finish it wins
    failed = done.model_copy(
        update={"state": RunState.FAILED, "error": "x" * 2000, "error_code": "c" * 60}
    )
    assert index.update(failed, expect={RunState.COMPLETED})
    assert index.get("r1") == failed


def test_updating_an_unknown_run_is_not_found(index: RunIndex) -> None:
    with pytest.raises(NotFoundError) as missing:
        index.update(record("nope"), expect={RunState.PENDING})
    assert missing.value.code == "run_not_found"


def test_pages_are_newest_first_and_count_every_match(index: RunIndex) -> None:
    for n in range(7):
        index.add(record(f"r{n}", created_ns=100 + n // 2), REQUEST)  # ties: by run id
    page, total = index.query(RunFilter(), limit=3, offset=0)
    assert ([r.run_id for r in page], total) == (["r6", "r5", "r4"], 7)
    page, total = index.query(RunFilter(), limit=3, offset=5)
    assert ([r.run_id for r in page], total) == (["r1", "r0"], 7)
    assert index.query(RunFilter(), limit=3, offset=50) == ([], 7)


def test_filters_narrow_alike(index: RunIndex) -> None:
    rows = [
        record("a", 10, label="x", submitted_by="ana", strategies=("trend-a@1",)),
        record("b", 20, label="y", submitted_by="bo", strategies=("tre%nd@2", "pair-z@1")),
        record("c", 30, state=RunState.FAILED, strategies=("tre_nd@1",)),
    ]
    for row in rows:
        index.add(row, REQUEST)

    def ids(**given: object) -> list[str]:
        found, total = index.query(RunFilter.model_validate(given), limit=10, offset=0)
        assert total == len(found)
        return [r.run_id for r in found]

    assert ids(state="failed") == ["c"]
    assert ids(label="x") == ["a"]
    assert ids(submitted_by="bo") == ["b"]
    assert ids(strategy="tre") == ["c", "b", "a"]
    assert ids(strategy="tre%") == ["b"]  # a prefix, not a pattern: % and _ are literal
    assert ids(strategy="tre_") == ["c"]
    assert ids(strategy="pair") == ["b"]
    assert ids(since_ns=20) == ["c", "b"]
    assert ids(until_ns=20) == ["b", "a"]
    assert ids(since_ns=20, until_ns=20, strategy="pair-z@1") == ["b"]


def test_what_a_column_cannot_hold_is_refused_alike(index: RunIndex) -> None:
    """A NUL cannot be stored in PostgreSQL: every backend refuses it or keeps it exactly."""
    try:
        index.add(record("r1", label="a\x00b"), REQUEST)
    except InvalidInputError:
        assert index.get("r1") is None
    else:
        stored = index.get("r1")
        assert stored is not None and stored.label == "a\x00b"


states = st.sampled_from(list(RunState))
filters = st.builds(
    RunFilter,
    state=st.none() | states,
    label=st.none() | st.sampled_from(["", "x", "y"]),
    strategy=st.none() | st.sampled_from(["t", "trend-a", "trend-a@1", "p", "x"]),
    submitted_by=st.none() | st.sampled_from(["ana", "bo"]),
    since_ns=st.none() | st.integers(0, 40),
    until_ns=st.none() | st.integers(0, 40),
)
records = st.lists(
    st.builds(
        lambda n, state, label, who, refs, at: record(
            f"r{n}", at, state=state, label=label, submitted_by=who, strategies=refs
        ),
        st.integers(0, 10**6),
        states,
        st.sampled_from(["", "x", "y"]),
        st.sampled_from(["ana", "bo"]),
        st.lists(st.sampled_from(["trend-a@1", "trend-b@2", "pair-c@1"]), max_size=3).map(tuple),
        st.integers(0, 40),
    ),
    max_size=12,
    unique_by=lambda r: r.run_id,
)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=records, wanted=filters, limit=st.integers(1, 5), offset=st.integers(0, 6))
def test_a_query_is_the_filter_applied_to_every_record(
    index: RunIndex, rows: list[RunRecord], wanted: RunFilter, limit: int, offset: int
) -> None:
    """Property (issue 14, run index): on every backend a page is the records that
    ``RunFilter.matches`` keeps, newest first (ties by run id), sliced by limit and offset;
    ``total`` counts them all."""
    clear(index)
    for row in rows:
        index.add(row, REQUEST)
    expected = sorted(
        (r for r in rows if wanted.matches(r)), key=lambda r: (r.created_ns, r.run_id)
    )[::-1]
    assert index.query(wanted, limit=limit, offset=offset) == (
        expected[offset : offset + limit],
        len(expected),
    )


def clear(index: RunIndex) -> None:
    """Empty the index between examples (the test reaches into its own backends)."""
    if isinstance(index, InMemoryRunIndex):
        index.__init__()  # type: ignore[misc]
        return
    assert isinstance(index, SqlRunIndex)
    database = index._database

    def work(session: Session) -> None:
        session.execute(delete(BacktestRunStrategyRow))
        session.execute(delete(BacktestRunRow))

    database.write(work)
