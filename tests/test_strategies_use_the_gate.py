"""Property 34 by construction: no family strategy calls ``submit_order`` itself.

Every one of the eight registry families has its module here, is a ``FamilyStrategy`` (so its
orders leave through ``QuantdeskStrategy.submit``, the risk gate) and is scanned below.
"""

import importlib
import re
from pathlib import Path

import pytest

from quantdesk.strategies.base import FamilyConfig, FamilyStrategy

STRATEGIES = Path(__file__).resolve().parents[1] / "src" / "quantdesk" / "strategies"
FAMILIES = {
    "trend_following": "TrendFollowing",
    "mean_reversion": "MeanReversion",
    "volatility_breakout": "VolatilityBreakout",
    "momentum_rotation": "MomentumRotation",
    "statistical_arbitrage": "StatisticalArbitrage",
    "regime_switching": "RegimeSwitching",
    "sentiment_reaction": "SentimentReaction",
    "execution": "Execution",
}
BYPASS = re.compile(r"\.submit_order(_list)?\(|close_all_positions\(|close_position\(")


def test_only_the_base_class_submits_orders() -> None:
    scanned = sorted(STRATEGIES.glob("*.py"))
    assert {f"{module}.py" for module in FAMILIES} <= {path.name for path in scanned}
    offenders = [
        f"{path.name}:{number}"
        for path in scanned
        if path.name != "base.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if BYPASS.search(line)
    ]
    assert offenders == [], "orders must go through QuantdeskStrategy.submit (the risk gate)"
    base = (STRATEGIES / "base.py").read_text()
    assert base.count("self.submit_order(") == 1  # the one door, after the gate


@pytest.mark.parametrize(("module", "name"), sorted(FAMILIES.items()))
def test_every_family_stands_on_the_base(module: str, name: str) -> None:
    loaded = importlib.import_module(f"quantdesk.strategies.{module}")
    assert issubclass(getattr(loaded, name), FamilyStrategy)
    assert issubclass(getattr(loaded, f"{name}Config"), FamilyConfig)
