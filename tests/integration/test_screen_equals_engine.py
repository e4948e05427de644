"""The vectorised screen's decisions are the engine's orders (issue 15, item 6).

For trend following (EMA/SMA, long/short and long-only) and mean reversion (with and
without a stop), the real engine runs each parameter set on a tiny synthetic market; every
order it sent (first fill of each order: bar time and side) must be, in order, exactly the
orders the screen's ``decisions`` say on the same closes. Run options (``trade_until_ns``,
``flat_at_end``) are followed too.
"""

from collections.abc import Iterable
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.services.optimisation.screens import Decision, decisions
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.trial_specs import INSTRUMENT, candidate, pinned_request

MARKET = SyntheticMarketConfig(instruments=1, days=2, seed=11)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    home = tmp_path_factory.mktemp("screen") / "home"
    platform = bootstrap(home=home)
    platform.synthetic.synthesize(MARKET)
    return platform


def engine_orders(fills: Iterable[FillRecord]) -> list[tuple[int, int]]:
    """(bar ts, side) of each order, in the order sent (an order's first fill)."""
    seen: dict[str, tuple[int, int]] = {}
    for fill in fills:
        if fill.instrument_id == INSTRUMENT:
            seen.setdefault(fill.order_id, (fill.ts_ns, fill.side))
    return list(seen.values())


def screen_orders(found: list[Decision]) -> list[tuple[int, int]]:
    return [(d.ts_ns, side) for d in found for side in d.order_sides]


def compare(desk: Platform, family: str, options: dict[str, Any], **parameters: Any) -> int:
    definition = candidate(family, risk={}, **parameters)
    request = pinned_request(definition, **options)
    _, artifacts = desk.backtests.evaluate(request, request.pinned)
    ts, closes = artifacts.prices[INSTRUMENT]
    found = decisions(
        definition,
        ts,
        closes,
        trade_until_ns=options.get("trade_until_ns"),
        flat_at_end=bool(options.get("flat_at_end", False)),
    )
    assert screen_orders(found) == engine_orders(artifacts.fills)
    return len(found)


@pytest.mark.parametrize(
    "parameters",
    [
        {"ma_type": "ema", "fast_period": 8, "slow_period": 30},
        {"ma_type": "ema", "fast_period": 5, "slow_period": 21, "long_only": True},
        {"ma_type": "sma", "fast_period": 10, "slow_period": 40},
        {"ma_type": "sma", "fast_period": 3, "slow_period": 12, "long_only": True},
    ],
    ids=["ema-8-30", "ema-5-21-long", "sma-10-40", "sma-3-12-long"],
)
def test_trend_following_decisions_are_the_engines_orders(
    desk: Platform, parameters: dict[str, Any]
) -> None:
    count = compare(desk, "trend_following", {}, atr_stop_multiple=None, **parameters)
    assert count >= 10  # enough crossings that an off-by-one bar would show


@pytest.mark.parametrize(
    "parameters",
    [
        {"lookback": 20, "entry_zscore": 2.0, "exit_zscore": 0.5, "stop_zscore": None},
        {"lookback": 30, "entry_zscore": 1.5, "exit_zscore": 0.0, "stop_zscore": 2.5},
        {"lookback": 60, "entry_zscore": 2.0, "exit_zscore": 0.25, "stop_zscore": 4.0},
    ],
    ids=["20-no-stop", "30-tight-stop", "60-example"],
)
def test_mean_reversion_decisions_are_the_engines_orders(
    desk: Platform, parameters: dict[str, Any]
) -> None:
    count = compare(desk, "mean_reversion", {}, **parameters)
    assert count >= 10


def test_run_options_are_followed(desk: Platform) -> None:
    """Orders stop at ``trade_until_ns``; ``flat_at_end`` closes what is open at the end."""
    request = pinned_request(candidate("trend_following", risk={}))
    ts, _ = desk.backtests.evaluate(request, request.pinned)[1].prices[INSTRUMENT]
    until = int(ts[len(ts) * 2 // 3])
    options = {"trade_until_ns": until, "flat_at_end": True}
    count = compare(
        desk, "trend_following", options, atr_stop_multiple=None, fast_period=8, slow_period=30
    )
    assert count >= 5
    compare(desk, "mean_reversion", options, lookback=20, stop_zscore=None)
