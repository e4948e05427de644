"""The gate counts orders sent and not yet filled (Property 34/36: limits hold within a bar).

Orders fill after the strategy's handler returns, so two orders sent on one bar both meet a
ledger that has seen neither: without counting the first, each would pass a limit meant for
their sum.
"""

from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.plugin_desk import allow_test_plugins
from support.strategy_runs import run_specs

INSTRUMENT = "SYN01.SIM"


def burst_spec(burst: int, max_size: int) -> StrategySpec:
    return StrategySpec(
        strategy_path="support.reckless:Reckless",
        config_path="support.reckless:RecklessConfig",
        config={
            "instrument_id": INSTRUMENT,
            "bar_type": f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL",
            "order_id_tag": "BURST",
            "seed": 3,
            "max_size": max_size,
            "every": 7,
            "burst": burst,
        },
    )


def test_two_orders_on_one_bar_never_exceed_the_position_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_test_plugins(monkeypatch)
    desk = bootstrap(home=tmp_path / "home")
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=5))
    limit = 150
    result = run_specs(
        desk,
        [burst_spec(burst=2, max_size=100)],
        instruments=[INSTRUMENT],
        risk={"constraints": {"Reckless-BURST": {"max_position": str(limit)}}},
    )
    position, peak = 0.0, 0.0
    for fill in desk.backtests.artifacts(result.run_id).fills:
        position += fill.side * fill.quantity
        peak = max(peak, abs(position))
    assert peak <= limit
    assert result.risk_counts.get("max_position", 0) > 0  # the second of a burst was cut


def test_an_order_past_the_gate_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Property 34 at run time: a class that slipped past validation still cannot trade."""
    allow_test_plugins(monkeypatch)
    desk = bootstrap(home=tmp_path / "home")
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=5))
    spec = StrategySpec(
        strategy_path="qd_test_plugins.bypass:Direct",
        config_path="qd_test_plugins.bypass:BypassConfig",
        config={
            "instrument_id": INSTRUMENT,
            "bar_type": f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL",
        },
    )
    with pytest.raises(InvalidInputError, match="without the risk gate"):
        run_specs(desk, [spec], instruments=[INSTRUMENT])
