"""The validation pipeline on the real engine (issue 15's acceptance tests).

- A trend follower fitted to noise (the best of a large random grid on a random walk,
  registered as a version) fails the gate, on the checks that catch overfitting;
- the same family on a market built with a trend (drift that switches sign in long
  regimes) passes every check of every step;
- every trial is an ordinary fingerprinted backtest: the candidate re-run as a stored
  backtest has the report's fingerprint.

One validation per market (module fixtures), under the quick policy of
``support.validation_markets`` (~35 trials of 2,880 hourly bars each).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.validation.report import ValidationRecord, ValidationReport, ValidationStep
from quantdesk.services.columns import Float64Array
from quantdesk.services.platform import Platform
from quantdesk.services.ports.progress import Advance
from quantdesk.services.validation.pipeline import VALIDATION_TASKS
from support.validation_markets import (
    QUICK_POLICY,
    best_of_random_grid,
    definition,
    ingest_returns,
    random_walk_returns,
    trending_returns,
)

DAYS = 120
BARS = 24 * DAYS
OVERFITTING_CHECKS = {"deflated_sharpe", "pbo", "oos_sharpe", "walk_forward_efficiency"}


class RecordedProgress:
    """Every task started, with its total, and the units each advanced."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, int | None]] = []
        self.advanced: dict[str, int] = {}

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        self.tasks.append((description, total))

        def advance(units: int) -> None:
            self.advanced[description] = self.advanced.get(description, 0) + units

        yield advance


@dataclass(frozen=True)
class Validated:
    desk: Platform
    ref: str
    record: ValidationRecord
    report: ValidationReport
    progress: RecordedProgress


def _validate(
    home: Path, returns: Float64Array, strategy_id: str, fast: int, slow: int
) -> Validated:
    desk = bootstrap(home=home)
    ingest_returns(desk, returns, strategy_id)
    ref = desk.registry.register(definition(strategy_id, fast, slow), "tester").stored.ref
    research = desk.research
    research.policies.store(QUICK_POLICY, "tester")
    progress = RecordedProgress()
    record = research.validation.run(
        ref, policy=QUICK_POLICY.name, actor="tester", progress=progress
    )
    report = research.promotion.reports.load(record.validation_id)
    return Validated(desk, ref, record, report, progress)


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Validated:
    returns = random_walk_returns(BARS, seed=21, noise=0.004)
    fast, slow = best_of_random_grid(returns, points=400, seed=5)
    return _validate(tmp_path_factory.mktemp("noise") / "home", returns, "fitted", fast, slow)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Validated:
    returns = trending_returns(BARS, seed=4, drift=0.0008, noise=0.002, regime=150)
    return _validate(tmp_path_factory.mktemp("edge") / "home", returns, "trend", 10, 50)


def test_a_strategy_fitted_to_noise_fails_the_gate(noise: Validated) -> None:
    record, report = noise.record, noise.report
    assert not record.passed and not report.passed
    failed = set(record.failed_checks)
    assert failed & OVERFITTING_CHECKS, record.failed_checks
    overfitting = report.overfitting
    assert overfitting is not None and overfitting.deflated_sharpe is not None
    # the deflated Sharpe counted every parameter set the validation tried, and more than
    # the configurations alone: the walk-forward's searches are tries too
    assert overfitting.trials_counted > overfitting.configurations
    assert overfitting.deflated_sharpe < overfitting.probabilistic_sharpe  # type: ignore[operator]
    assert "validated" not in noise.desk.registry.get("fitted", 1).tags


def test_a_strategy_with_a_real_edge_passes_every_check(edge: Validated) -> None:
    record, report = edge.record, edge.report
    failed = [
        f"{c.name}: {c.value} {c.comparison} {c.threshold} {c.detail}" for c in report.failed_checks
    ]
    assert record.passed and report.passed, failed
    assert [s.step for s in report.steps] == list(ValidationStep)
    assert all(s.skipped is None for s in report.steps)
    assert report.warnings == []
    assert "validated" in edge.desk.registry.get("trend", 1).tags


def test_the_report_holds_each_steps_numbers(edge: Validated) -> None:
    report = edge.report
    policy = QUICK_POLICY
    assert report.policy_name == policy.name and report.policy_version == 1
    periods = report.periods
    assert periods is not None and len(periods.periods) == policy.periods.periods
    assert periods.regime_source == "quantdesk.regime.vol_trend"
    assert periods.worst_period is not None and periods.worst_regime is not None
    walk = report.walk_forward
    assert walk is not None and len(walk.windows) == policy.walk_forward.windows
    for a, b in zip(walk.windows, walk.windows[1:], strict=False):
        assert a.is_end_ns < a.oos_start_ns and a.oos_end_ns < b.oos_start_ns
    assert walk.stitched_oos and walk.oos_sharpe is not None and walk.efficiency is not None
    overfitting = report.overfitting
    assert (
        overfitting is not None and overfitting.configurations == policy.overfitting.configurations
    )
    assert overfitting.observations == DAYS and overfitting.splits == 15  # C(6, 2)
    stress = report.stress
    assert stress is not None and len(stress.scenarios) == len(policy.stress.scenarios)
    assert stress.catalog_checksum_before == stress.catalog_checksum_after
    monte_carlo = report.monte_carlo
    assert monte_carlo is not None and monte_carlo.daily_final_equity is not None
    p = monte_carlo.daily_final_equity
    assert p.p5 <= p.p25 <= p.p50 <= p.p75 <= p.p95
    baselines = report.baselines
    assert baselines is not None and baselines.random_entry_seeds == policy.baselines.random_seeds
    compliance = report.compliance
    assert compliance is not None and compliance.runs_checked == report.trials_run
    assert report.trials_run == sum(s.trials for s in report.steps) + 1  # + the candidate
    assert len(report.fingerprints) == len(set(report.fingerprints))


def test_progress_has_one_task_per_step_and_trials_advance_it(edge: Validated) -> None:
    progress, report = edge.progress, edge.report
    assert [name for name, _ in progress.tasks] == list(VALIDATION_TASKS)
    by_step = {s.step: s.trials for s in report.steps}
    assert progress.advanced[VALIDATION_TASKS[0]] == 1  # the candidate
    assert progress.advanced[VALIDATION_TASKS[1]] == by_step[ValidationStep.PERIODS]
    assert progress.advanced[VALIDATION_TASKS[2]] == by_step[ValidationStep.WALK_FORWARD]
    assert sum(progress.advanced.values()) == report.trials_run


def test_two_worker_processes_give_the_same_validation(edge: Validated) -> None:
    research = edge.desk.research
    again = research.validation.run(edge.ref, policy=QUICK_POLICY.name, workers=2)
    report = research.promotion.reports.load(again.validation_id)
    assert again.validation_id != edge.record.validation_id
    assert again.fingerprints_sha256 == edge.record.fingerprints_sha256
    assert report.steps == [
        s.model_copy(update={"seconds": r.seconds})
        for s, r in zip(edge.report.steps, report.steps, strict=True)
    ]
    assert report.overfitting == edge.report.overfitting
    assert report.walk_forward == edge.report.walk_forward


def test_the_candidate_is_an_ordinary_backtest(edge: Validated) -> None:
    result = edge.desk.backtests.run(
        BacktestRequest(strategies=[edge.ref], engine={"log_level": "OFF"})
    )
    assert result.fingerprint == edge.report.candidate_fingerprint
    assert edge.record.candidate_fingerprint == result.fingerprint
