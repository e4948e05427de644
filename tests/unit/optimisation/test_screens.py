"""The vectorised screens without an engine: their numbers are NautilusTrader's and the
strategies' own, bit for bit; their decisions are what the strategies' rules say bar by bar;
what they cannot replicate is refused by name; a grid is scored in grid order."""

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nautilus_trader.indicators import ExponentialMovingAverage, SimpleMovingAverage
from nautilus_trader.model.objects import Price

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import ParameterRange, SearchSpace
from quantdesk.domain.optimisation.study import Objective, ObjectiveKind
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.optimisation import screens
from quantdesk.services.optimisation.screens.mean_reversion import ZScores
from quantdesk.services.optimisation.screens.series import ema, engine_closes, sma, ticks_of
from quantdesk.strategies.mean_reversion import MeanReversion, _Leg, reversion_step

DAY = 86_400_000_000_000
MINUTE = 60_000_000_000


def definition(family: str, instruments: tuple[str, ...] = ("SYN01.SIM",), **params: Any) -> Any:
    base: dict[str, Any] = {"trade_size": "100", **params}
    return StrategyDefinition.model_validate(
        {
            "strategy_id": "s",
            "version": 1,
            "family": family,
            "name": "screened",
            "instruments": list(instruments),
            "parameters": base,
        }
    )


def market(seed: int, bars: int, precision: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A random walk of closes at ``precision`` decimals, as the catalog returns them."""
    rng = np.random.default_rng(seed)
    ticks = 10_000 * 10**precision // 100 + np.cumsum(rng.integers(-20, 21, bars))
    closes = ticks / 10.0**precision
    return np.arange(bars, dtype=np.int64) * MINUTE + DAY, closes


def as_double(closes: np.ndarray, precision: int) -> list[float]:
    return [Price(float(c), precision).as_double() for c in closes]


walks = st.tuples(st.integers(0, 2**31), st.integers(1, 6))


# Property: engine_closes == Price.as_double and ema/sma == NautilusTrader's, bit for bit
@settings(max_examples=100, deadline=None)
@given(walk=walks, period=st.integers(2, 40))
def test_the_series_are_the_engines_doubles(walk: tuple[int, int], period: int) -> None:
    seed, precision = walk
    _, closes = market(seed, 120, precision)
    doubles = engine_closes(closes, precision)
    assert doubles.tolist() == as_double(closes, precision)
    ours_ema, ours_sma = ema(doubles, period), sma(doubles, period)
    theirs_ema, theirs_sma = ExponentialMovingAverage(period), SimpleMovingAverage(period)
    for i, value in enumerate(doubles.tolist()):
        theirs_ema.update_raw(value)
        theirs_sma.update_raw(value)
        assert ours_ema[i] == theirs_ema.value
        if theirs_sma.initialized:
            assert ours_sma[i] == theirs_sma.value


def trend_reference(
    closes: np.ndarray, kind: str, fast: int, slow: int, long_only: bool
) -> list[tuple[int, int]]:
    """(bar, side) of every order, bar by bar as TrendFollowing.on_bar (no stop)."""
    make = ExponentialMovingAverage if kind == "ema" else SimpleMovingAverage
    f, s = make(fast), make(slow)
    net, out = 0, []
    for i, value in enumerate(as_double(closes, 2)):
        f.update_raw(value)
        s.update_raw(value)
        if not (f.initialized and s.initialized):
            continue
        if f.value > s.value:
            if not long_only and net < 0:
                out.append((i, 1))
                net = 0
            if net <= 0:
                out.append((i, 1))
                net = 1
        elif net > 0:
            out.append((i, -1))
            net = 0
            if not long_only:
                out.append((i, -1))
                net = -1
        elif not long_only and net == 0:
            out.append((i, -1))
            net = -1
    return out


def orders(found: list[screens.Decision], ts: np.ndarray) -> list[tuple[int, int]]:
    index = {int(t): i for i, t in enumerate(ts)}
    return [(index[d.ts_ns], side) for d in found for side in d.order_sides]


# Property: the trend screen's orders are TrendFollowing's rule on NautilusTrader's averages
@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    kind=st.sampled_from(["ema", "sma"]),
    fast=st.integers(2, 12),
    gap=st.integers(1, 30),
    long_only=st.booleans(),
)
def test_trend_decisions_follow_the_rule(
    seed: int, kind: str, fast: int, gap: int, long_only: bool
) -> None:
    ts, closes = market(seed, 300)
    d = definition(
        "trend_following",
        ma_type=kind,
        fast_period=fast,
        slow_period=fast + gap,
        long_only=long_only,
    )
    found = screens.decisions(d, ts, closes)
    assert orders(found, ts) == trend_reference(closes, kind, fast, fast + gap, long_only)


def reversion_reference(
    closes: np.ndarray,
    lookback: int,
    entry: float,
    exit_: float,
    stop: float | None,
    precision: int = 2,
) -> list[tuple[int, int]]:
    """(bar, side) of every order through the strategy's own z-score and reversion_step."""
    owner = SimpleNamespace(_lookback=lookback)
    leg = _Leg(None)  # type: ignore[arg-type]  # the instrument id is not read here
    side, out = 0, []
    for i, value in enumerate(closes.tolist()):
        z = MeanReversion._zscore(owner, leg, Price(value, precision).raw)  # type: ignore[arg-type]
        if z is None:
            continue
        close, open_side, leg.stopped = reversion_step(z, side, leg.stopped, entry, exit_, stop)
        if close:
            out.append((i, -side))
            side = 0
        if open_side:
            out.append((i, open_side))
            side = open_side
    return out


# Property: the reversion screen's orders are the strategy's z-score and reversion_step
@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    lookback=st.integers(5, 40),
    entry=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
    exit_=st.sampled_from([0.0, 0.25, 0.4]),
    stop=st.sampled_from([None, 2.2, 3.0]),
)
def test_reversion_decisions_follow_the_rule(
    seed: int, lookback: int, entry: float, exit_: float, stop: float | None
) -> None:
    ts, closes = market(seed, 400)
    d = definition(
        "mean_reversion",
        lookback=lookback,
        entry_zscore=entry,
        exit_zscore=exit_,
        stop_zscore=stop,
    )
    found = screens.decisions(d, ts, closes)
    assert orders(found, ts) == reversion_reference(closes, lookback, entry, exit_, stop)


def test_a_threshold_equal_to_a_z_score_compares_as_the_strategy_does() -> None:
    """entry_zscore set to the exact z of a bar: >= must hold there, as in the engine. Our
    vectorised float z differs from the strategy's in the last bit at many bars (it rounds
    other integers); near a threshold it is recomputed exactly, so ties compare alike."""
    precision, lookback = 5, 20
    ts, closes = market(5, 600, precision)
    owner, leg = SimpleNamespace(_lookback=lookback), _Leg(None)  # type: ignore[arg-type]
    raws = [Price(c, precision).raw for c in closes.tolist()]
    exact = [MeanReversion._zscore(owner, leg, raw) for raw in raws]  # type: ignore[arg-type]
    fast = ZScores(ticks_of(closes, precision), precision).of(lookback)
    ties = [
        (z, bool(fast[i] != z))
        for i, z in enumerate(exact)
        if z is not None and 0.6 < abs(z) < 4.5 and (z > 0) == (fast[i] > 0)
    ]
    differing = [z for z, differs in ties if differs][:12]
    assert differing, "no bar where the vectorised z differs: the guard is not exercised"
    for z in differing + [z for z, differs in ties if not differs][:4]:
        d = definition("mean_reversion", lookback=lookback, entry_zscore=abs(z), exit_zscore=0.1)
        expected = reversion_reference(closes, lookback, abs(z), 0.1, None, precision)
        assert orders(screens.decisions(d, ts, closes), ts) == expected


@pytest.mark.parametrize(
    ("family", "params", "parameter"),
    [
        ("trend_following", {"ma_type": "wma"}, "ma_type"),
        ("trend_following", {"ma_type": "hull"}, "ma_type"),
        ("trend_following", {"atr_stop_multiple": 2.0}, "atr_stop_multiple"),
        ("volatility_breakout", {}, "family"),
    ],
)
def test_what_cannot_be_replicated_is_refused_by_name(
    family: str, params: dict[str, Any], parameter: str
) -> None:
    ts, closes = market(1, 50)
    with pytest.raises(InvalidInputError) as refused:
        screens.decisions(definition(family, **params), ts, closes)
    assert refused.value.code == "not_screenable"
    assert refused.value.data["parameter"] == parameter


def test_two_instruments_are_refused() -> None:
    ts, closes = market(1, 50)
    d = definition("mean_reversion", instruments=("A.SIM", "B.SIM"))
    with pytest.raises(InvalidInputError) as refused:
        screens.decisions(d, ts, closes)
    assert refused.value.data["parameter"] == "instruments"


SPACE = SearchSpace(
    family="trend_following",
    parameters=(
        ParameterRange(name="fast_period", kind="int", low=4, high=20, step=4),
        ParameterRange(name="ma_type", kind="categorical", choices=("ema", "sma")),
    ),
)


def test_a_grid_point_the_replica_cannot_follow_refuses_the_screen() -> None:
    ts, closes = market(1, 100)
    grid = [{"fast_period": 5, "ma_type": "ema"}, {"fast_period": 5, "ma_type": "wma"}]
    with pytest.raises(InvalidInputError) as refused:
        screens.screen(
            definition("trend_following", slow_period=30),
            SPACE,
            grid,
            ts,
            closes,
            start_equity=1e6,
            objective=Objective(),
        )
    assert refused.value.data["parameter"] == "ma_type"


def test_the_grid_is_scored_in_order_and_infeasible_points_say_why() -> None:
    ts, closes = market(3, 3 * 1440)
    base = definition("trend_following", slow_period=20)
    grid = [
        {"fast_period": 4, "ma_type": "ema"},
        {"fast_period": 20, "ma_type": "ema"},  # fast == slow: the family refuses it
        {"fast_period": 8, "ma_type": "sma"},
    ]
    rows = screens.screen(
        base,
        SPACE,
        grid,
        ts,
        closes,
        start_equity=1e6,
        objective=Objective(kind=ObjectiveKind.RETURN),
    )
    assert [r.params for r in rows] == grid
    assert rows[1].value is None and rows[1].reason and "fast_period" in rows[1].reason
    for row in (rows[0], rows[2]):
        found = screens.decisions(
            base.model_copy(update={"parameters": base.parameters.model_copy(update=row.params)}),
            ts,
            closes,
        )
        closed = sum(1 for d in found if d.action.value.startswith(("exit", "flip")))
        assert row.trades == closed > 0
        assert row.value == row.total_return and row.sharpe is not None


def test_close_to_close_pnl_of_a_long_hold() -> None:
    """A market that only rises: a long-only cross enters once and earns the rise after it."""
    ts = np.arange(200, dtype=np.int64) * MINUTE + DAY
    closes = 100.0 + np.arange(200) * 0.01
    base = definition("trend_following", fast_period=3, slow_period=10, long_only=True)
    (entered,) = screens.decisions(base, ts, closes)
    assert entered.action is screens.DecisionAction.ENTER_LONG and entered.ts_ns == ts[9]
    space = SearchSpace(
        family="trend_following",
        parameters=(ParameterRange(name="fast_period", kind="int", low=3, high=3),),
    )
    (row,) = screens.screen(
        base,
        space,
        [{"fast_period": 3}],
        ts,
        closes,
        start_equity=1e6,
        objective=Objective(kind=ObjectiveKind.RETURN),
    )
    assert row.total_return == pytest.approx(100 * (closes[-1] - closes[9]) / 1e6)
    assert row.trades == 0  # still open at the end
