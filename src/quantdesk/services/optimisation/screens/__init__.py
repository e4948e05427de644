"""Vectorised screens: a family's orders replicated from the bar closes, for a whole grid.

Where a family's rule is a function of the closes (trend following without its ATR stop,
mean reversion), numpy reproduces the strategy's decisions bit for bit: the same doubles
(``series``), the same comparisons, the same order of orders. ``decisions`` gives them for
one definition; ``screen`` scores every grid point on close-to-close pnl (``scoring``: an
estimate, no fill model) so an optimiser confirms only the leaders event-driven. The
decisions equal the engine's orders (tests/integration/test_screen_equals_engine.py); what
a replica cannot follow exactly is refused (``not_screenable``, naming the parameter), never
approximated.

Assumed, as in a plain backtest: every order fills before the next bar (market orders, no
risk layer denial or reduction), one instrument per definition.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import Params, SearchSpace
from quantdesk.domain.optimisation.study import Objective
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import (
    PARAMETER_MODELS,
    MeanReversionParameters,
    StrategyFamily,
    StrategyParameters,
    TrendFollowingParameters,
)
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.optimisation.objective import objective_value
from quantdesk.services.optimisation.screens import mean_reversion, trend_following
from quantdesk.services.optimisation.screens.model import (
    Decision,
    DecisionAction,
    ScreenRow,
    not_screenable,
)
from quantdesk.services.optimisation.screens.scoring import Steps, actions, score
from quantdesk.services.optimisation.screens.series import (
    Averages,
    engine_closes,
    price_precision,
    ticks_of,
)

__all__ = [
    "SCREENABLE",
    "Decision",
    "DecisionAction",
    "ScreenRow",
    "decisions",
    "screen",
]

SCREENABLE = frozenset({StrategyFamily.TREND_FOLLOWING, StrategyFamily.MEAN_REVERSION})


@dataclass(frozen=True)
class _Market:
    """One close series prepared once for every point of a grid."""

    ts: Int64Array
    closes: Float64Array  # as the engine's strategy reads them
    tradable: int  # bars before trade_until_ns
    averages: Averages
    zscores: mean_reversion.ZScores


def _market(ts: Int64Array, closes: Float64Array, trade_until_ns: int | None) -> _Market:
    ts = np.asarray(ts, dtype=np.int64)
    closes = np.asarray(closes, dtype=np.float64)
    if ts.shape != closes.shape or ts.ndim != 1:
        raise InvalidInputError("the screen needs one timestamp per close", code="invalid_input")
    precision = price_precision(closes)
    exact = engine_closes(closes, precision)
    tradable = int(ts.size if trade_until_ns is None else np.searchsorted(ts, trade_until_ns))
    return _Market(
        ts=ts,
        closes=exact,
        tradable=tradable,
        averages=Averages(exact),
        zscores=mean_reversion.ZScores(ticks_of(closes, precision), precision),
    )


def _screenable(definition: StrategyDefinition) -> None:
    if definition.family not in SCREENABLE:
        raise InvalidInputError(
            f"the {definition.family.value} family has no vectorised screen",
            hint="optimise it without the screen",
            code="not_screenable",
            data={"family": definition.family.value, "parameter": "family"},
        )
    if len(definition.instruments) != 1:
        raise not_screenable(
            "instruments", len(definition.instruments), "the screen follows one instrument"
        )


def _check(parameters: StrategyParameters) -> None:
    if isinstance(parameters, TrendFollowingParameters):
        trend_following.check(parameters)


def _steps(parameters: StrategyParameters, market: _Market) -> Steps:
    if isinstance(parameters, TrendFollowingParameters):
        return trend_following.steps(parameters, market.averages, market.tradable)
    assert isinstance(parameters, MeanReversionParameters)
    return mean_reversion.steps(parameters, market.zscores, market.tradable)


def _with_end(steps: Steps, bars: int, flat_at_end: bool) -> Steps:
    """``flat_at_end``: an open position is closed at the last bar (the strategy's stop)."""
    index, after = steps
    if not flat_at_end or index.size == 0 or after[-1] == 0:
        return steps
    return np.append(index, bars - 1), np.append(after, 0)


def decisions(
    definition: StrategyDefinition,
    ts: Int64Array,
    closes: Float64Array,
    *,
    trade_until_ns: int | None = None,
    flat_at_end: bool = False,
) -> list[Decision]:
    """The decisions ``definition`` takes on these bar closes (``ts``: the bars' close
    times, increasing), in order; the run options as in ``BacktestRequest``."""
    _screenable(definition)
    _check(definition.parameters)
    market = _market(ts, closes, trade_until_ns)
    steps = _with_end(_steps(definition.parameters, market), int(market.ts.size), flat_at_end)
    return [
        Decision(ts_ns=int(market.ts[i]), action=action)
        for i, action in zip(steps[0].tolist(), actions(steps), strict=True)
    ]


def screen(
    definition: StrategyDefinition,
    space: SearchSpace,
    grid: Sequence[Mapping[str, object]],
    ts: Int64Array,
    closes: Float64Array,
    *,
    start_equity: float,
    objective: Objective,
    trade_until_ns: int | None = None,
) -> list[ScreenRow]:
    """Every grid point (``definition`` with the point's parameters) scored, in grid order.

    Points the family's rules refuse (fast >= slow) get no value and say why; a point the
    replica cannot follow (a WMA, an ATR stop) refuses the whole screen before any work.
    """
    _screenable(definition)
    if space.family != definition.family.value:
        raise InvalidInputError(
            f"the space is for {space.family}, the definition is {definition.family.value}",
            code="invalid_space",
            data={"family": space.family},
        )
    candidates = [_candidate(definition, point) for point in grid]
    for parameters in candidates:
        if not isinstance(parameters, str):
            _check(parameters)
    market = _market(ts, closes, trade_until_ns)
    size = float(getattr(definition.parameters, "trade_size", 1))
    rows: list[ScreenRow] = []
    for point, parameters in zip(grid, candidates, strict=True):
        params: Params = dict(point)  # type: ignore[arg-type]  # a grid point's values
        if isinstance(parameters, str):
            rows.append(ScreenRow(params, None, 0, None, None, reason=parameters))
            continue
        metrics = score(
            _steps(parameters, market),
            market.ts,
            market.closes,
            size=size,
            start_equity=start_equity,
        )
        if metrics is None:
            rows.append(ScreenRow(params, None, 0, None, None, reason="no bars"))
            continue
        value = objective_value(metrics, objective)
        rows.append(
            ScreenRow(
                params,
                value,
                metrics.trade_count,
                metrics.total_return,
                metrics.sharpe,
                reason=None if value is not None else f"no {objective.describe()} value",
            )
        )
    return rows


ParametersOrReason = StrategyParameters | str


def _candidate(definition: StrategyDefinition, point: Mapping[str, object]) -> ParametersOrReason:
    """The family's parameters with the point applied, or why the family refuses them."""
    model: Callable[..., StrategyParameters] = PARAMETER_MODELS[definition.family].model_validate
    try:
        return model({**definition.parameters.model_dump(), **point})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "parameters"
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"infeasible: {where}: {message}"[:300]
