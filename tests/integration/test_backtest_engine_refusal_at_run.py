"""What the engine still refuses once every check has passed ends the run with a clear error,
never a traceback, and stores nothing (issue 12, item 8)."""

from pathlib import Path

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.errors import InvalidInputError
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.plugin_desk import plugin_settings
from support.strategy_runs import raw_plan


def test_a_value_the_engine_refuses_mid_run_is_a_clear_error(tmp_path: Path) -> None:
    desk = bootstrap(plugin_settings(tmp_path / "home"))
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    request = raw_plan(
        [
            StrategySpec(
                strategy_path="support.engine_refusal:RefusedAtRun",
                config_path="support.engine_refusal:RefusedAtRunConfig",
                config={
                    "instrument_id": "SYN01.SIM",
                    "bar_type": "SYN01.SIM-1-MINUTE-LAST-EXTERNAL",
                },
            )
        ],
        instruments=["SYN01.SIM"],
    )
    with pytest.raises(InvalidInputError, match="the engine refused the run while running it"):
        desk.backtests.run_plan(request)
    assert desk.backtests.results() == []
