"""The ``JobStore`` contract, over every backend: SQLite, PostgreSQL and the in-memory fake."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fakes import InMemoryJobStore
from quantdesk.adapters.storage.database import Database
from quantdesk.adapters.storage.job_store import SqlJobStore
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.jobs import JobFilter, JobKind, JobRecord, JobState
from quantdesk.services.ports.jobs import JobStore
from support.registry import postgres_database, sqlite_database


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    if request.param == "memory":
        yield InMemoryJobStore()
        return
    if request.param == "sqlite":
        database = Database(sqlite_database(tmp_path))
        yield SqlJobStore(database)
        database.dispose()
        return
    with postgres_database() as url:
        database = Database(url)
        yield SqlJobStore(database)
        database.dispose()


def job(created_ns: int = 1, **fields: Any) -> JobRecord:
    values: dict[str, Any] = {
        "job_id": uuid.uuid4().hex,
        "kind": JobKind.BACKTEST,
        "state": JobState.PENDING,
        "payload": {"run_id": "r1", "nested": {"a": [1, 2.5, None, True, "x"]}},
        "subject": "r1",
        "submitted_by": "alice",
        "correlation_id": "cid-1",
        "created_ns": created_ns,
    }
    return JobRecord(**(values | fields))


def test_a_job_reads_back_as_stored_and_as_updated(store: JobStore) -> None:
    pending = job()
    store.add(pending, owner="host:1:a")
    assert store.get(pending.job_id) == pending
    assert store.get(uuid.uuid4().hex) is None
    ended = pending.model_copy(
        update={
            "state": JobState.COMPLETED,
            "started_ns": 5,
            "finished_ns": 3_000_000_005,
            "progress": 100.0,
            "eta_seconds": None,
            "message": "completed",
            "result": {"run_id": "r1", "metrics": {"sharpe": 1.25}},
        }
    )
    store.update(ended)
    assert store.get(pending.job_id) == ended  # every field back, nested JSON too
    failed = job(state=JobState.FAILED, error="x" * 2000, error_code="worker_died")
    store.add(failed, owner="host:1:a")
    assert store.get(failed.job_id) == failed


def test_lists_are_newest_first_filtered_and_counted(store: JobStore) -> None:
    jobs = [
        job(created_ns=10, kind=JobKind.BACKTEST, submitted_by="alice", subject="r1"),
        job(created_ns=20, kind=JobKind.INGEST_BARS, submitted_by="bob", subject=None),
        job(created_ns=30, kind=JobKind.BACKTEST, submitted_by="bob", subject="r2"),
        job(created_ns=40, kind=JobKind.VALIDATION, submitted_by="alice", subject="s@1"),
    ]
    for each in jobs:
        store.add(each, owner="o")
    store.update(jobs[0].model_copy(update={"state": JobState.RUNNING, "started_ns": 11}))
    everything, total = store.list(JobFilter(), limit=10, offset=0)
    assert total == 4
    assert [j.created_ns for j in everything] == [40, 30, 20, 10]
    page, total = store.list(JobFilter(), limit=2, offset=1)
    assert total == 4 and [j.created_ns for j in page] == [30, 20]
    assert store.list(JobFilter(), limit=2, offset=10) == ([], 4)
    backtests, total = store.list(JobFilter(kind=JobKind.BACKTEST), limit=10, offset=0)
    assert total == 2 and {j.created_ns for j in backtests} == {10, 30}
    by_bob, _ = store.list(JobFilter(submitted_by="bob"), limit=10, offset=0)
    assert {j.created_ns for j in by_bob} == {20, 30}
    running, total = store.list(JobFilter(state=JobState.RUNNING), limit=10, offset=0)
    assert total == 1 and running[0].job_id == jobs[0].job_id
    of_run, _ = store.list(JobFilter(subject="r2"), limit=10, offset=0)
    assert [j.job_id for j in of_run] == [jobs[2].job_id]
    both, total = store.list(
        JobFilter(kind=JobKind.BACKTEST, submitted_by="alice"), limit=10, offset=0
    )
    assert total == 1 and both[0].job_id == jobs[0].job_id


def test_unfinished_jobs_come_with_their_owner_and_may_be_claimed_once(store: JobStore) -> None:
    old = job(created_ns=1)
    newer = job(created_ns=2, state=JobState.RUNNING, started_ns=3)
    done = job(created_ns=3, state=JobState.CANCELLED, finished_ns=4)
    store.add(newer, owner="host:2:b")
    store.add(old, owner="host:1:a")
    store.add(done, owner="host:1:a")
    assert [(j.job_id, o) for j, o in store.unfinished()] == [
        (old.job_id, "host:1:a"),
        (newer.job_id, "host:2:b"),
    ]
    assert store.owner(old.job_id) == "host:1:a"
    assert store.owner(uuid.uuid4().hex) is None
    assert store.claim(old.job_id, "host:1:a", "host:9:z")
    assert not store.claim(old.job_id, "host:1:a", "host:8:y")  # taken: the second loses
    assert store.owner(old.job_id) == "host:9:z"
    store.update(old.model_copy(update={"message": "m"}), owner="host:7:w")
    assert store.owner(old.job_id) == "host:7:w"
    store.update(old.model_copy(update={"message": "n"}))
    assert store.owner(old.job_id) == "host:7:w"  # None keeps it


def test_a_cancel_asked_of_another_owner_is_seen_by_that_owner_until_the_job_ends(
    store: JobStore,
) -> None:
    running = job(state=JobState.RUNNING, started_ns=2)
    finished = job(state=JobState.COMPLETED, started_ns=2, finished_ns=3)
    store.add(running, owner="host:1:a")
    store.add(finished, owner="host:1:a")
    assert store.cancel_requests("host:1:a") == []
    store.request_cancel(running.job_id, "cancelled by carol")
    store.request_cancel(finished.job_id, "cancelled by carol")  # ended: nothing to ask
    assert store.cancel_requests("host:1:a") == [(running.job_id, "cancelled by carol")]
    assert store.cancel_requests("host:2:b") == []
    store.update(
        running.model_copy(update={"state": JobState.CANCELLED, "finished_ns": 9}),
    )
    assert store.cancel_requests("host:1:a") == []


def test_stats_count_by_kind_and_state_and_sum_finished_seconds(store: JobStore) -> None:
    store.add(job(), owner="o")
    store.add(job(kind=JobKind.INGEST_BARS), owner="o")
    for seconds in (1, 2):
        store.add(
            job(state=JobState.COMPLETED, started_ns=10, finished_ns=10 + seconds * 10**9),
            owner="o",
        )
    store.add(job(state=JobState.CANCELLED, finished_ns=5), owner="o")  # never started
    stats = store.stats()
    assert stats.counts == {
        (JobKind.BACKTEST, JobState.PENDING): 1,
        (JobKind.INGEST_BARS, JobState.PENDING): 1,
        (JobKind.BACKTEST, JobState.COMPLETED): 2,
        (JobKind.BACKTEST, JobState.CANCELLED): 1,
    }
    assert stats.finished == {JobKind.BACKTEST: 2}
    assert stats.finished_seconds == {JobKind.BACKTEST: pytest.approx(3.0)}


def test_hostile_text_is_refused_by_the_record_before_any_store(store: JobStore) -> None:
    with pytest.raises(ValueError):
        job(submitted_by="a" * 201)
    with pytest.raises(ValueError):
        job(job_id="../../etc")


def test_sql_stores_refuse_text_that_does_not_fit_their_columns(tmp_path: Path) -> None:
    database = Database(sqlite_database(tmp_path))
    store = SqlJobStore(database)
    nul = job(message="a\x00b")
    with pytest.raises(InvalidInputError):
        store.add(nul, owner="o")  # PostgreSQL would refuse the NUL: SQLite refuses it alike
    assert store.get(nul.job_id) is None
    database.dispose()
