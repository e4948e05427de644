"""`runs list` shows every run's state: a failed or cancelled run is listed with its reason."""

from rich.console import Console

from quantdesk.cli.backtest_render import RUN_ERROR_SHOWN, runs_table
from quantdesk.domain.runs import RunRecord, RunState, RunSummary


def shown(records: list[RunRecord]) -> str:
    console = Console(width=400, record=True)
    console.print(runs_table(records, {}))
    return console.export_text()


def test_a_failed_run_is_listed_with_its_reason_and_no_figures() -> None:
    failed = RunRecord(
        run_id="r-failed",
        state=RunState.FAILED,
        label="nightly",
        strategies=("trend-a@1",),
        submitted_by="alice",
        created_ns=1,
        error="the engine refused the run while running it: " + "x" * 200,
        error_code="engine_refused",
    )
    done = RunRecord(
        run_id="r-done",
        state=RunState.COMPLETED,
        strategies=("trend-a@1", "pair-b@2"),
        submitted_by="alice",
        created_ns=2,
        summary=RunSummary(total_return=0.0123, sharpe=1.5, max_drawdown=0.02, trade_count=1234),
    )
    text = shown([done, failed])
    failed_line = next(line for line in text.splitlines() if "r-failed" in line)
    assert "failed: the engine refused the run while running it" in failed_line
    assert "x" * (RUN_ERROR_SHOWN + 1) not in failed_line  # the reason is cut, runs show has it
    assert "nightly" in failed_line
    done_line = next(line for line in text.splitlines() if "r-done" in line)
    assert "completed" in done_line and "1.23%" in done_line and "1,234" in done_line
    assert "1.50" in done_line and " 2 " in done_line  # two strategies
