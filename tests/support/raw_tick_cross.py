"""TESTS ONLY: the long-only EMA cross written as a NautilusTrader user would, run on a raw
``BacktestEngine`` over a catalog's trade ticks: the reference a quantdesk run on the same
ticks must equal, fill for fill.

The venue is quantdesk's default venue spelled in the engine's terms (SIM, netting, margin,
1,000,000 USD, leverage 1, the default fill model with its seed 0) with trades moving the
market (``trade_execution``); bars are the engine's own aggregation of the ticks.
"""

from decimal import Decimal
from pathlib import Path

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import FillModel
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import ExponentialMovingAverage
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide, TimeInForce
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.trading.strategy import Strategy

Fill = tuple[int, int, float, float]
"""(ts_ns, side +1/-1, quantity, price)."""


class RawCrossConfig(StrategyConfig, frozen=True, kw_only=True):
    instrument_id: InstrumentId
    bar_type: BarType
    trade_size: Decimal
    fast: int = 10
    slow: int = 50


class RawTickCross(Strategy):
    """Buy when EMA(fast) > EMA(slow) and flat; sell all when it is <= and long."""

    def __init__(self, config: RawCrossConfig) -> None:
        super().__init__(config)
        self.fast = ExponentialMovingAverage(config.fast)
        self.slow = ExponentialMovingAverage(config.slow)
        self.net = Decimal(0)
        self.fills: list[Fill] = []

    def on_start(self) -> None:
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        if not self.indicators_initialized():
            return
        instrument = self.cache.instrument(self.config.instrument_id)
        if self.fast.value > self.slow.value and self.net <= 0:
            self._market(OrderSide.BUY, instrument.make_qty(self.config.trade_size))
        elif self.fast.value <= self.slow.value and self.net > 0:
            self._market(OrderSide.SELL, instrument.make_qty(self.net))

    def _market(self, side: OrderSide, quantity: object) -> None:
        self.submit_order(
            self.order_factory.market(
                instrument_id=self.config.instrument_id,
                order_side=side,
                quantity=quantity,
                time_in_force=TimeInForce.GTC,
            )
        )

    def on_order_filled(self, event: OrderFilled) -> None:
        signed = 1 if event.order_side == OrderSide.BUY else -1
        self.net += signed * event.last_qty.as_decimal()
        self.fills.append(
            (event.ts_event, signed, event.last_qty.as_double(), event.last_px.as_double())
        )


def raw_tick_cross(catalog_root: Path, instrument_id: str, bar_spec: str, size: str) -> list[Fill]:
    """The raw engine's fills for the EMA 10/50 cross on the catalog's trade ticks."""
    catalog = ParquetDataCatalog(str(catalog_root))
    (instrument,) = catalog.instruments(instrument_ids=[instrument_id])
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id="RAW-001", logging=LoggingConfig(bypass_logging=True), run_analysis=False
        )
    )
    engine.add_venue(
        venue=Venue(instrument.id.venue.value),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(1_000_000, USD)],
        default_leverage=Decimal(1),
        fill_model=FillModel(prob_fill_on_limit=1.0, prob_slippage=0.0, random_seed=0),
        trade_execution=True,
    )
    engine.add_instrument(instrument)
    engine.add_data(catalog.trade_ticks(instrument_ids=[instrument_id]))
    strategy = RawTickCross(
        RawCrossConfig(
            instrument_id=instrument.id,
            bar_type=BarType.from_str(f"{instrument_id}-{bar_spec}-INTERNAL"),
            trade_size=Decimal(size),
        )
    )
    engine.add_strategy(strategy)
    engine.run()
    fills = list(strategy.fills)
    engine.dispose()
    return fills
