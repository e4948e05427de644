"""TESTS ONLY: a strategy that trades a script: at given bar times, given signed quantities,
through quantdesk's risk gate (for expiry, settlement and roll tests: what is traded and when
is fixed, so the expected PnL is computed by hand)."""

from decimal import Decimal

from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.strategies.base import (
    FamilyConfig,
    FamilyStrategy,
    QuantdeskStrategy,
    QuantdeskStrategyConfig,
)

SCRIPTED = "support.scripted_trades"


class ScriptedConfig(QuantdeskStrategyConfig, frozen=True, kw_only=True):
    bar_types: list[str]
    orders: list[list[str]]
    """``[ts_ns, instrument_id, signed quantity]`` as text: sent on the bar closing at ts_ns."""


class Scripted(QuantdeskStrategy):
    def __init__(self, config: ScriptedConfig) -> None:
        super().__init__(config)
        self._bar_types = [BarType.from_str(b) for b in config.bar_types]
        self._script: dict[int, list[tuple[InstrumentId, Decimal]]] = {}
        for ts, instrument_id, quantity in config.orders:
            self._script.setdefault(int(ts), []).append(
                (InstrumentId.from_str(instrument_id), Decimal(quantity))
            )
        self._done: set[int] = set()
        self.sent: list[tuple[int, str, bool]] = []

    def on_start(self) -> None:
        super().on_start()
        for bar_type in self._bar_types:
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        ts = bar.ts_event
        if ts in self._done or ts not in self._script:
            return
        self._done.add(ts)
        for instrument_id, quantity in self._script[ts]:
            instrument = self.cache.instrument(instrument_id)
            sent = self.submit(
                self.order_factory.market(
                    instrument_id=instrument_id,
                    order_side=OrderSide.BUY if quantity > 0 else OrderSide.SELL,
                    quantity=instrument.make_qty(abs(quantity)),
                )
            )
            self.sent.append((ts, str(instrument_id), sent))

    def stop_trading_instruments(self) -> list[InstrumentId]:
        return sorted({i for orders in self._script.values() for i, _ in orders}, key=str)


class ScriptedFamilyConfig(FamilyConfig, frozen=True, kw_only=True):
    orders: list[list[str]]
    """``[ts_ns, instrument_id, signed quantity]``: sent on the first bar at ts_ns, on the
    family's instrument (a chain's logical id goes to its active contract)."""
    trade_size: Decimal = Decimal(1)


class ScriptedFamily(FamilyStrategy):
    """A family strategy trading a script (on a chain: its logical id)."""

    def __init__(self, config: ScriptedFamilyConfig) -> None:
        super().__init__(config)
        self._script: dict[int, list[tuple[InstrumentId, Decimal]]] = {}
        for ts, instrument_id, quantity in config.orders:
            self._script.setdefault(int(ts), []).append(
                (InstrumentId.from_str(instrument_id), Decimal(quantity))
            )

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_all_bars()

    def on_bar(self, bar: Bar) -> None:
        for instrument_id, quantity in self._script.pop(bar.ts_event, []):
            instrument = self.cache.instrument(instrument_id)
            side = OrderSide.BUY if quantity > 0 else OrderSide.SELL
            self._submit_market(instrument_id, side, instrument.make_qty(abs(quantity)))
