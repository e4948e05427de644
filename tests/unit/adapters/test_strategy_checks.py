"""Amounts in a strategy's config are checked against the instrument and the engine before a
run: positive, within the engine's maximum, quantities a multiple of the size increment."""

from decimal import Decimal
from typing import ClassVar

import pytest
from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.objects import PRICE_MAX, QUANTITY_MAX

from quantdesk.adapters.nautilus.strategy_checks import check_amounts
from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.backtest_checks import StrategyParameterError
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.numbers import PRICE_MAX as DOMAIN_PRICE_MAX
from quantdesk.domain.numbers import QUANTITY_MAX as DOMAIN_QUANTITY_MAX


class AmountsConfig(StrategyConfig, frozen=True, kw_only=True):
    order_qty: Decimal = Decimal(1)
    limit_price: Decimal = Decimal(1)
    lots: int = 1
    use_size: bool = True
    window: int = 10


class Declares:
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"lots"})


INSTRUMENT = InstrumentSpec(
    instrument_id="X.SIM",
    asset_class=AssetClass.CRYPTO_SPOT,
    currency="USD",
    base_currency="BTC",
    tick_size=Decimal("0.01"),
    size_increment=Decimal("0.5"),
)


def check(**values: object) -> None:
    config = AmountsConfig(**values)  # type: ignore[arg-type]
    spec = StrategySpec(strategy_path="a.b:C", config_path="a.b:D", config=dict(values))
    check_amounts(0, "a.b:C", spec, Declares, config, INSTRUMENT)


def test_the_domain_limits_lie_within_the_engines() -> None:
    assert Decimal(str(QUANTITY_MAX)) >= DOMAIN_QUANTITY_MAX
    assert Decimal(str(PRICE_MAX)) >= DOMAIN_PRICE_MAX


@pytest.mark.parametrize(
    ("values", "parameter", "problem"),
    [
        ({"order_qty": Decimal(0)}, "order_qty", "not greater than 0"),
        ({"order_qty": Decimal("0.25")}, "order_qty", "size increment 0.5"),
        ({"order_qty": Decimal("1e20")}, "order_qty", "above the maximum"),
        ({"limit_price": Decimal("1e20")}, "limit_price", "above the maximum"),
        ({"limit_price": Decimal(-1)}, "limit_price", "not greater than 0"),
        ({"lots": 0}, "lots", "not greater than 0"),
    ],
)
def test_an_amount_the_engine_would_refuse_or_round_is_named(
    values: dict[str, object], parameter: str, problem: str
) -> None:
    with pytest.raises(StrategyParameterError) as caught:
        check(**values)
    assert caught.value.parameter == parameter and problem in caught.value.problem
    assert caught.value.message.startswith("strategy 1 (a.b:C): ")


def test_fitting_amounts_and_other_fields_pass() -> None:
    check(order_qty=Decimal("1.5"), limit_price=Decimal("101.25"), lots=3, window=0)
