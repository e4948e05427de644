"""A run from submission on (issue 14): an id and a stored state before any work, then
running, completed or failed (error and code kept) or stopped from outside. On the desk's
real registry and catalog with the fakes of tests/fakes.py for the engine and the stores, so
no engine runs."""

import csv
import io
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fakes import FakeBacktestRunner, InMemoryKillSwitchStore, InMemoryRunIndex, InMemoryRunStore
from quantdesk.bootstrap import Overrides, bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.correlation import correlated
from quantdesk.domain.errors import InvalidInputError, JobStateError, NotFoundError
from quantdesk.domain.risk import KillSwitchScope
from quantdesk.domain.runs import RunFilter, RunState
from quantdesk.services.backtests import PROGRESS_TASKS
from quantdesk.services.platform import Platform
from quantdesk.services.ports import Advance
from quantdesk.services.run_ledger import ADOPTED_BY
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.registry import trend

REQUEST = BacktestRequest(strategies=["trend-a"], label="nightly")


def faked(home: Path, runner: FakeBacktestRunner | None = None, **given: object) -> Platform:
    parts = {
        "runner": runner or FakeBacktestRunner(),
        "run_store": InMemoryRunStore(home / "runs"),
        "run_index": InMemoryRunIndex(),
        "kill_switches": InMemoryKillSwitchStore(),
    } | given
    return bootstrap(home=home, overrides=Overrides(**parts))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one day of synthetic bars and trend-a registered (copied per test)."""
    home = tmp_path_factory.mktemp("market") / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    desk.registry.register(trend(), "alice")
    return home


@pytest.fixture
def home(market: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(market, copy)
    return copy


class Tasks:
    """A ``ProgressReporter`` that records its tasks."""

    def __init__(self) -> None:
        self.names: list[str] = []

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        self.names.append(description)
        yield lambda units: None


def test_a_platform_on_fakes_runs_a_backtest_end_to_end_without_an_engine(home: Path) -> None:
    runner = FakeBacktestRunner(entry=100.0, exit=110.0)
    desk = faked(home, runner)
    tasks = Tasks()
    result = desk.backtests.run(REQUEST, tasks, submitted_by="ana")
    assert len(runner.runs) == 1 and result.facts.nautilus_trader_version == "fake-engine 0"
    assert result.facts.fills == 2 and result.metrics.trade_count == 1
    assert result.request.strategies == ["trend-a@1"]
    assert tasks.names == list(PROGRESS_TASKS)  # analysis and the report: steps of their own
    record = desk.backtests.record(result.run_id)
    assert (record.state, record.submitted_by, record.label) == (
        RunState.COMPLETED,
        "ana",
        "nightly",
    )
    assert record.strategies == ("trend-a@1",) and record.fingerprint == result.fingerprint
    assert record.summary is not None
    assert record.summary.total_return == result.metrics.total_return
    assert record.created_ns <= (record.started_ns or 0) <= (record.finished_ns or 0)
    assert desk.backtests.result(result.run_id) == result
    assert (home / "runs" / result.run_id / "report.html").is_file()
    desk.risk.kill(KillSwitchScope.PORTFOLIO, "", "drill", "ana")  # the fake switch store
    assert [s.reason for s in desk.risk.status()] == ["drill"]


def test_a_submitted_run_has_an_id_and_a_state_before_any_work(home: Path) -> None:
    runner = FakeBacktestRunner()
    desk = faked(home, runner)
    with correlated("req-1"):
        record = desk.backtests.submit(REQUEST, submitted_by="ana", job_id="job-7")
    assert runner.runs == []
    assert (record.state, record.correlation_id, record.job_id) == (
        RunState.PENDING,
        "req-1",
        "job-7",
    )
    assert desk.backtests.record(record.run_id) == record
    assert desk.backtests.records(RunFilter(state=RunState.PENDING)) == ([record], 1)
    result = desk.backtests.execute(record.run_id)
    assert result.run_id == record.run_id and len(runner.runs) == 1
    assert desk.backtests.record(record.run_id).state is RunState.COMPLETED
    with pytest.raises(JobStateError) as again:
        desk.backtests.execute(record.run_id)
    assert again.value.code == "run_finished" and again.value.data["state"] == "completed"


def test_a_refused_request_stores_nothing(home: Path) -> None:
    desk = faked(home)
    with pytest.raises(NotFoundError):
        desk.backtests.submit(BacktestRequest(strategies=["nope"]), submitted_by="ana")
    with pytest.raises(InvalidInputError, match="author/actor"):
        desk.backtests.submit(REQUEST, submitted_by="a\nb")
    with pytest.raises(InvalidInputError) as job:
        desk.backtests.submit(REQUEST, submitted_by="ana", job_id="x" * 65)
    assert job.value.code == "invalid_job_id"
    assert desk.backtests.records(RunFilter()) == ([], 0)


@pytest.mark.parametrize(
    ("error", "message", "code"),
    [
        (
            InvalidInputError("the venue refused it", code="engine_refused"),
            "venue",
            "engine_refused",
        ),
        (RuntimeError("secret internals"), "internal error (RuntimeError)", "internal"),
    ],
)
def test_a_failed_run_is_stored_with_its_error_and_code(
    home: Path, error: Exception, message: str, code: str
) -> None:
    desk = faked(home, FakeBacktestRunner(fail=error))
    with pytest.raises(type(error)):
        desk.backtests.run(REQUEST, submitted_by="ana")
    (record,), total = desk.backtests.records(RunFilter())
    assert (total, record.state, record.error_code) == (1, RunState.FAILED, code)
    assert record.error is not None and message in record.error
    assert "secret" not in record.error  # a bug's details go to the log, not the record
    assert record.finished_ns is not None and record.summary is None


def test_a_run_stopped_from_outside_never_runs_and_keeps_its_reason(home: Path) -> None:
    desk = faked(home)
    record = desk.backtests.submit(REQUEST, submitted_by="ana")
    stopped = desk.backtests.mark_stopped(record.run_id, RunState.CANCELLED, "cancelled by bo")
    assert (stopped.state, stopped.error, stopped.error_code) == (
        RunState.CANCELLED,
        "cancelled by bo",
        "run_cancelled",
    )
    with pytest.raises(JobStateError):
        desk.backtests.execute(record.run_id)
    again = desk.backtests.mark_stopped(record.run_id, RunState.FAILED, "worker killed")
    assert again == stopped  # the first end stands
    with pytest.raises(InvalidInputError):
        desk.backtests.mark_stopped(record.run_id, RunState.COMPLETED, "no")
    with pytest.raises(NotFoundError) as missing:
        desk.backtests.mark_stopped("nope", RunState.FAILED, "x")
    assert (missing.value.code, missing.value.data) == ("run_not_found", {"run_id": "nope"})


def test_a_run_stopped_while_it_runs_stays_stopped(home: Path) -> None:
    """The worker finishing and the job service stopping it race: the first write wins."""
    hold = threading.Event()
    desk = faked(home, FakeBacktestRunner(hold=hold))
    record = desk.backtests.submit(REQUEST, submitted_by="ana")
    worker = threading.Thread(target=desk.backtests.execute, args=(record.run_id,))
    worker.start()
    while desk.backtests.record(record.run_id).state is RunState.PENDING:
        threading.Event().wait(0.01)
    desk.backtests.mark_stopped(record.run_id, RunState.FAILED, "past its time limit")
    hold.set()
    worker.join()
    final = desk.backtests.record(record.run_id)
    assert (final.state, final.error) == (RunState.FAILED, "past its time limit")


def test_a_worker_executes_from_the_database_what_another_process_submitted(home: Path) -> None:
    """The default index (SQLite in the home): a fresh platform runs the stored request."""
    store = InMemoryRunStore(home / "runs")
    overrides = Overrides(runner=FakeBacktestRunner(), run_store=store)
    submitted = bootstrap(home=home, overrides=overrides).backtests.submit(
        REQUEST, submitted_by="ana"
    )
    worker = bootstrap(home=home, overrides=overrides)
    result = worker.backtests.execute(submitted.run_id)
    assert result.request.strategies == ["trend-a@1"]
    fresh = bootstrap(home=home, overrides=overrides)
    assert fresh.backtests.record(submitted.run_id).state is RunState.COMPLETED
    assert fresh.backtests.records(RunFilter(strategy="trend"), limit=1)[1] == 1


def test_pages_are_bounded(home: Path) -> None:
    desk = faked(home)
    for limit, offset in ((0, 0), (1001, 0), (1, -1)):
        with pytest.raises(InvalidInputError):
            desk.backtests.records(RunFilter(), limit=limit, offset=offset)


def test_a_completed_run_pages_and_downloads_its_tables(home: Path) -> None:
    desk = bootstrap(home=home, overrides=Overrides(runner=FakeBacktestRunner()))
    result = desk.backtests.run(REQUEST, submitted_by="ana")  # the desk's file store
    backtests = desk.backtests
    fills, total = backtests.artifact_rows(result.run_id, "fills", offset=1, limit=5)
    assert total == 2 and [f["side"] for f in fills] == [-1]
    equity, points = backtests.artifact_rows(result.run_id, "equity", limit=10_000)
    assert points == len(equity) > 0 and {"ts_ns", "drawdown"} <= set(equity[0])
    text = b"".join(backtests.artifact_download(result.run_id, "positions", "csv")).decode()
    (position,) = csv.DictReader(io.StringIO(text))
    assert position["strategy_id"] == result.strategies[0].nautilus_id
    assert backtests.report_file(result.run_id).read_text().startswith("<!DOCTYPE html")
    with pytest.raises(InvalidInputError):
        backtests.artifact_rows(result.run_id, "prices", limit=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        backtests.artifact_rows(result.run_id, "fills", limit=10_001)
    with pytest.raises(InvalidInputError):
        list(backtests.artifact_download(result.run_id, "fills", "xlsx"))  # type: ignore[arg-type]


def test_runs_stored_before_runs_had_records_are_listed(home: Path) -> None:
    overrides = Overrides(runner=FakeBacktestRunner())
    desk = bootstrap(home=home, overrides=overrides)
    older = desk.backtests.run_plan(desk.backtests.plan(REQUEST))  # stored, not indexed
    fresh = bootstrap(home=home, overrides=overrides)
    (adopted,), total = fresh.backtests.records(RunFilter())
    assert (total, adopted.run_id, adopted.state) == (1, older.run_id, RunState.COMPLETED)
    assert adopted.submitted_by == ADOPTED_BY and adopted.fingerprint == older.fingerprint
    assert adopted.summary is not None and adopted.summary.sharpe == older.metrics.sharpe
    newer = fresh.backtests.run(REQUEST, submitted_by="ana")
    listed, total = bootstrap(home=home, overrides=overrides).backtests.records(RunFilter())
    assert [r.run_id for r in listed] == [newer.run_id, older.run_id] and total == 2
