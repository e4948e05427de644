"""Execution quality in a run by registry reference: the TWAP example's parent is measured in
the result (numbers recomputed from the run's own fills and bars), shown by ``runs show`` and
in the HTML report; other families' runs carry none."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.synthetic import SyntheticMarketConfig, generate_market
from support.console import Cli
from support.registry import EXAMPLES

MARKET = SyntheticMarketConfig(instruments=3, days=1, seed=7)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("quality") / "home"
    desk = bootstrap(home=made)
    desk.synthetic.synthesize(MARKET)
    for name in ("execution", "trend_following"):
        text = (EXAMPLES / f"{name}.yaml").read_text()
        desk.registry.add(parse_definition(yaml.safe_load(text)), "quality test")
    return made


def run(home: Path, strategy: str) -> str:
    desk = bootstrap(home=home)
    request = {"strategies": [strategy], "engine": {"log_level": "OFF"}}
    return desk.backtests.run(BacktestRequest.model_validate(request)).run_id


def test_the_twap_parent_is_measured_shown_and_reported(home: Path) -> None:
    desk = bootstrap(home=home)
    run_id = run(home, "twap-syn02")
    result = desk.backtests.result(run_id)
    fills = [f for f in desk.backtests.artifacts(run_id).fills if f.side == 1]
    (quality,) = result.execution_quality
    assert quality.strategy_id == result.strategies[0].nautilus_id
    assert (quality.instrument_id, quality.algorithm, quality.side) == ("SYN02.SIM", "twap", "buy")
    bars = generate_market(MARKET)[1].bars
    window = bars.ts_ns <= bars.ts_ns[0] + 120 * 60_000_000_000
    qty = np.array([f.quantity for f in fills])
    price = np.array([f.price for f in fills])
    vwap = float((bars.close[window] * bars.volume[window]).sum() / bars.volume[window].sum())
    assert quality.filled_quantity == pytest.approx(qty.sum())
    assert quality.filled_share == pytest.approx(qty.sum() / 1200)
    assert quality.average_price == pytest.approx(float((qty * price).sum() / qty.sum()))
    assert quality.interval_vwap == pytest.approx(vwap)
    assert quality.arrival_price == pytest.approx(float(bars.close[0]))

    shown = Cli(home).ok("runs", "show", run_id)
    assert "Execution quality" in shown and "twap buy" in shown
    report = Path(desk.backtests.report_path(run_id)).read_text()
    assert "<h2>Execution quality</h2>" in report


def test_other_families_carry_no_execution_quality(home: Path) -> None:
    desk = bootstrap(home=home)
    result = desk.backtests.result(run(home, "trend-syn01"))
    assert result.execution_quality == []
