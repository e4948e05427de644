"""The transport schemas of /backtest and /jobs on their own: a run's progress and ETA come
from its job while it is unfinished, a completed run is at 100% with no ETA, and a request
is refused with the field the domain's own check names."""

import pytest
from pydantic import ValidationError

from quantdesk.api.schemas.backtest import BacktestCreate, RunOut
from quantdesk.api.schemas.jobs import JobOut
from quantdesk.domain.backtest_checks import error_location
from quantdesk.domain.jobs import JobKind, JobRecord, JobState
from quantdesk.domain.runs import RunRecord, RunState, RunSummary

JOB_ID = "ab" * 16


def job(progress: float, eta: float | None, state: JobState = JobState.RUNNING) -> JobOut:
    return JobOut.of(
        JobRecord(
            job_id=JOB_ID,
            kind=JobKind.BACKTEST,
            state=state,
            payload={"run_id": "r1"},
            subject="r1",
            submitted_by="ann",
            created_ns=1,
            started_ns=2,
            progress=progress,
            eta_seconds=eta,
            message="backtest (simulated time)",
        )
    )


def run(state: RunState, summary: RunSummary | None = None) -> RunRecord:
    return RunRecord(
        run_id="r1",
        state=state,
        strategies=("trend-a@1",),
        submitted_by="ann",
        job_id=JOB_ID,
        created_ns=1,
        summary=summary,
    )


def test_an_unfinished_run_shows_its_jobs_progress_eta_and_step() -> None:
    shown = RunOut.of(run(RunState.RUNNING), job(42.5, 7.25))
    assert (shown.progress, shown.eta_seconds) == (42.5, 7.25)
    assert shown.message == "backtest (simulated time)"
    assert RunOut.of(run(RunState.PENDING), None).progress == 0.0


def test_a_completed_run_is_at_100_with_no_eta_and_its_summary() -> None:
    summary = RunSummary(total_return=0.01, sharpe=None, max_drawdown=-0.02, trade_count=3)
    shown = RunOut.of(run(RunState.COMPLETED, summary), job(99.0, 0.5, JobState.COMPLETED))
    assert (shown.progress, shown.eta_seconds) == (100.0, None)
    assert shown.summary is not None and shown.summary.trade_count == 3


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"strategies": ["a", "a"]}, ("strategies", 1)),
        ({"strategies": ["a"], "start_ns": 9, "end_ns": 3}, ("start_ns",)),
        ({"strategies": ["a"], "risk": {"constraints": {"b": {}}}}, ("risk", "constraints", "b")),
    ],
)
def test_a_request_is_refused_at_the_field_the_domain_names(
    fields: dict[str, object], where: tuple[object, ...]
) -> None:
    body = BacktestCreate.model_validate(fields)
    with pytest.raises(ValidationError) as refused:
        body.request()
    assert error_location(refused.value.errors()[0])[: len(where)] == where


def test_a_request_takes_no_engine_options_or_pinned_definitions() -> None:
    for extra in ({"engine": {"log_level": "DEBUG"}}, {"pinned": []}):
        with pytest.raises(ValidationError):
            BacktestCreate.model_validate({"strategies": ["a"], **extra})
