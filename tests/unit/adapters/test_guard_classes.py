"""The guard's ledger by asset class, without an engine (the actor is built, not started)."""

from decimal import Decimal

from quantdesk.adapters.nautilus.risk_guard import PortfolioRiskGuard, RiskGuardConfig
from quantdesk.domain.risk import RiskConfig
from support.contracts import equity, future

ES = future()
AAPL = equity()


def test_positions_are_kept_per_asset_class_net_of_strategies() -> None:
    guard = PortfolioRiskGuard(
        RiskGuardConfig(component_id="QuantdeskRiskGuard"),
        risk=RiskConfig(),
        bar_types={},
        starting_equity=1_000_000.0,
        size_increments={},
        specs={s.instrument_id: s for s in (ES, AAPL)},
        base_currencies={"ESH4.XCME": "USD", "AAPL.XNAS": "USD"},
    )
    guard.ledger = {
        "S1": {"ESH4.XCME": Decimal(2), "AAPL.XNAS": Decimal(100)},
        "S2": {"ESH4.XCME": Decimal(-1), "MSFT.XNAS": Decimal(5)},
    }
    assert guard.positions_by_class() == {
        "future": {"ESH4.XCME": Decimal(1)},
        "equity": {"AAPL.XNAS": Decimal(100)},
        "unclassified": {"MSFT.XNAS": Decimal(5)},
    }
