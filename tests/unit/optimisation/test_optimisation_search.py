"""The search loop without an engine: a fake pool scores each candidate from its parameters.

Same seed -> same trials and best, whatever the pool's worker count and the order its
trials finish in (asked in fixed batches, told in number order); infeasible points and runs
without a value are trials with no value and a reason; objectives, custom ones included.
"""

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

from quantdesk.adapters.optimisation.optuna_study import OptunaStudyBackend
from quantdesk.domain.backtest import BacktestRequest, Metrics
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import (
    ParameterRange,
    ParamValue,
    SearchSpace,
    default_space,
)
from quantdesk.domain.optimisation.study import (
    Objective,
    ObjectiveKind,
    Sampler,
    SearchResult,
    TrialState,
)
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.trials import TrialOutcome, TrialSpec
from quantdesk.services.optimisation.objective import objective_of, objective_value
from quantdesk.services.optimisation.search import BATCH
from quantdesk.services.optimisation.service import OptimisationService

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def definition() -> StrategyDefinition:
    text = (EXAMPLES / "strategies" / "trend_following.yaml").read_text()
    return StrategyDefinition.model_validate({**yaml.safe_load(text), "version": 1})


def metrics(sharpe: float | None, trades: int = 5, **fields: float) -> Metrics:
    values: dict[str, object] = {
        name: 0.0 for name in Metrics.model_fields if name not in {"trade_count"}
    }
    values.update(
        sharpe=sharpe,
        sortino=None if sharpe is None else 2 * sharpe,
        calmar=None,
        trade_count=trades,
        max_drawdown_duration_ns=0,
        total_return=0.01,
    )
    values.update(fields)
    return Metrics.model_validate(values)


def score(spec: TrialSpec) -> TrialOutcome:
    """A smooth function of the candidate's parameters; fast 13 never trades (no value)."""
    params = spec.request.pinned[0].parameters.model_dump()
    fast, slow = params["fast_period"], params["slow_period"]
    if fast == 13:
        return TrialOutcome(key=spec.key, fingerprint=spec.key, metrics=metrics(None, trades=0))
    sharpe = -((fast - 9) ** 2) / 10 - ((slow - 60) / 20) ** 2 + (params["ma_type"] == "sma")
    return TrialOutcome(key=spec.key, fingerprint=f"fp-{fast}-{slow}", metrics=metrics(sharpe))


class FakePool:
    """``workers`` > 1 finish out of order (reversed); outcomes still come back in spec order."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self.calls: list[int] = []

    @property
    def workers(self) -> int:
        return self._workers

    def run(
        self,
        specs: Sequence[TrialSpec],
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> list[TrialOutcome]:
        self.calls.append(len(specs))
        order = list(reversed(specs)) if self._workers > 1 else list(specs)
        done = {spec.key: score(spec) for spec in order}
        if on_outcome is not None:
            for spec in order:
                on_outcome(done[spec.key])
        return [done[spec.key] for spec in specs]

    def close(self) -> None:
        return None


def search(
    sampler: Sampler, seed: int, workers: int, trials: int = 20, space: SearchSpace | None = None
) -> SearchResult:
    service = OptimisationService(OptunaStudyBackend())
    return service.search(
        definition(),
        space or default_space(definition()),
        BacktestRequest(strategies=["trend-syn01@1"]),
        trials=trials,
        objective=Objective(),
        sampler=sampler,
        seed=seed,
        pool=FakePool(workers),
        key_prefix="t",
    )


def summary(result: SearchResult) -> list[tuple[int, dict[str, ParamValue], float | None, str]]:
    return [(t.number, t.params, t.value, t.state.value) for t in result.trials]


@pytest.mark.parametrize("sampler", list(Sampler))
def test_same_seed_same_trials_and_best_whatever_the_workers(sampler: Sampler) -> None:
    serial = search(sampler, seed=7, workers=1)
    parallel = search(sampler, seed=7, workers=2)
    assert summary(serial) == summary(parallel)
    assert serial.best is not None and parallel.best is not None
    assert serial.best.number == parallel.best.number
    assert [t.number for t in serial.trials] == list(range(20))
    assert len({repr(sorted(t.params.items())) for t in serial.trials}) > 10  # it explores


def test_another_seed_gives_another_study() -> None:
    assert summary(search(Sampler.RANDOM, 1, 1)) != summary(search(Sampler.RANDOM, 2, 1))


def test_batches_are_fixed_not_the_pools_worker_count() -> None:
    for workers in (1, 3):
        pool = FakePool(workers)
        OptimisationService(OptunaStudyBackend()).search(
            definition(),
            default_space(definition()),
            BacktestRequest(strategies=["trend-syn01@1"]),
            trials=BATCH * 2 + 3,
            objective=Objective(),
            sampler=Sampler.TPE,
            seed=1,
            pool=pool,
            key_prefix="t",
        )
        assert sum(pool.calls) <= BATCH * 2 + 3 and len(pool.calls) == 3


def test_infeasible_and_valueless_trials_have_no_value_and_a_reason() -> None:
    space = SearchSpace(
        family="trend_following",
        parameters=(
            ParameterRange(name="fast_period", kind="int", low=10, high=60, step=1),
            ParameterRange(name="slow_period", kind="int", low=20, high=60, step=1),
        ),
    )
    result = search(Sampler.RANDOM, seed=3, workers=2, trials=40, space=space)
    states = {t.state for t in result.trials}
    assert states == {TrialState.COMPLETE, TrialState.INFEASIBLE, TrialState.FAIL}
    for trial in result.trials:
        if trial.state is TrialState.INFEASIBLE:
            assert int(trial.params["fast_period"] or 0) >= int(trial.params["slow_period"] or 0)
            assert trial.value is None and "slow_period" in (trial.outcome.error or "")
        elif trial.state is TrialState.FAIL:
            assert trial.params["fast_period"] == 13
            assert trial.outcome.error == "no value for sharpe (no trades)"
    assert result.best is not None and result.best.value == max(
        t.value for t in result.trials if t.value is not None
    )


def test_a_grid_search_visits_each_point_once_and_stops_at_the_grid() -> None:
    space = SearchSpace(
        family="trend_following",
        parameters=(
            ParameterRange(name="fast_period", kind="int", low=5, high=9, step=2),
            ParameterRange(name="ma_type", kind="categorical", choices=("ema", "sma")),
        ),
    )
    result = search(Sampler.GRID, seed=0, workers=1, trials=50, space=space)
    points = sorted((t.params["fast_period"], t.params["ma_type"]) for t in result.trials)
    assert points == [(f, m) for f in (5, 7, 9) for m in ("ema", "sma")]


def test_objectives_read_their_metric_and_a_custom_one_weighs_several() -> None:
    m = metrics(1.5, calmar=0.5, max_drawdown=0.1)
    assert objective_value(m, Objective()) == 1.5
    assert objective_value(m, Objective(kind=ObjectiveKind.SORTINO)) == 3.0
    assert objective_value(m, Objective(kind=ObjectiveKind.CALMAR)) == 0.5
    assert objective_value(m, Objective(kind=ObjectiveKind.RETURN)) == 0.01
    custom = objective_of("custom", {"sharpe": 1.0, "max_drawdown": -2.0})
    assert objective_value(m, custom) == pytest.approx(1.5 - 0.2)
    assert objective_value(metrics(None), custom) is None
    assert objective_value(metrics(math.nan), Objective()) is None
    assert custom.describe() == "custom(-2*max_drawdown + 1*sharpe)"


@pytest.mark.parametrize(
    ("kind", "weights", "code"),
    [
        ("custom", None, "custom_objective_weights"),
        ("custom", {"sharp": 1.0}, "invalid_objective"),
        ("profit", None, "invalid_objective"),
    ],
)
def test_a_bad_objective_is_refused_by_code(
    kind: str, weights: dict[str, float] | None, code: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        objective_of(kind, weights)
    assert refused.value.code == code
