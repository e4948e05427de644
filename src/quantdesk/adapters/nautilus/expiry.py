"""Cash settlement of dated contracts at expiry, as a simulation module of the venue.

The engine closes a future's open positions by itself when a bar of it reaches its
expiration, at that bar's market (its open, in bar execution), and only if such a bar
comes: a contract whose data ends before its expiration stays open. Its own
``OptionExerciseModule`` settles in cash only options on an index instrument, names the
underlying ``{underlying}.{option venue}`` (quantdesk names the underlying's full id, often
on another venue) and settles other options physically. So quantdesk settles every dated
contract itself, as ``domain/expiry.py`` defines it: at the expiration instant, a future at
its last close at or before expiration, an option at its intrinsic value against the
underlying's last close. The module sees each bar of its venue before the matching engine
does (``pre_process``): a contract's own bar at its expiration settles it first, at that
bar's close; otherwise a time alert at the expiration (fired after every bar at that instant)
settles it. A settlement is an order (tagged ``SETTLEMENT_TAG``, in the cache like the
engine's own expiration close) and its fill at the final price, so positions, accounts, the
risk guard's ledger and the run's record take it as any other fill.
"""

from collections.abc import Iterable, Mapping

from nautilus_trader.backtest.config import SimulationModuleConfig
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.common.component import Logger
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.config import ImportableActorConfig, ImportableStrategyConfig
from nautilus_trader.core.data import Data
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import (
    LiquiditySide,
    OrderSide,
    OrderType,
    PositionSide,
)
from nautilus_trader.model.enums import (
    OptionKind as EngineOptionKind,
)
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId, TradeId, VenueOrderId
from nautilus_trader.model.instruments import Instrument, OptionContract
from nautilus_trader.model.objects import Money, Price
from nautilus_trader.model.orders import MarketOrder
from nautilus_trader.model.position import Position

from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.contract_terms import OptionKind
from quantdesk.domain.expiry import SETTLEMENT_TAG
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.options import intrinsic_value
from quantdesk.domain.rolls import chain_contracts

_END = 2**64  # after any instant
MODULE_PATH = "quantdesk.adapters.nautilus.expiry:ExpirySettlement"
CONFIG_PATH = "quantdesk.adapters.nautilus.expiry:ExpirySettlementConfig"


class ExpirySettlementConfig(SimulationModuleConfig, frozen=True, kw_only=True):
    marks: dict[str, str]
    """Instrument id -> the bar type the run marks it by (a contract's and an underlying's)."""


class ExpirySettlement(SimulationModule):
    def __init__(self, config: ExpirySettlementConfig) -> None:
        super().__init__(config)
        self._marks = {i: BarType.from_str(b) for i, b in config.marks.items()}
        self._seen: set[InstrumentId] = set()
        self._pending: dict[InstrumentId, Instrument] = {}  # dated, watched, not yet settled
        self.settled: list[tuple[str, int]] = []
        self._fills = 0
        # Once every instrument of the venue has been seen: no bar before the earliest pending
        # expiration needs looking at (each bar's instrument id is an object to build), while
        # the venue lists as many instruments as then.
        self._quiet_until = 0
        self._known = -1

    def pre_process(self, data: Data) -> None:
        if not isinstance(data, Bar):
            return
        if data.ts_init < self._quiet_until and len(self.exchange.instruments) == self._known:
            return
        instrument_id = data.bar_type.instrument_id
        if instrument_id not in self._seen:
            self._seen.add(instrument_id)
            self._watch(instrument_id)
        instrument = self._pending.get(instrument_id)
        if instrument is not None and data.ts_init >= instrument.expiration_ns:
            # before the matching engine sees the bar (it would close at its own market)
            own = data.close if data.ts_init == instrument.expiration_ns else None
            self._settle(instrument, own)
        known = len(self.exchange.instruments)
        if len(self._seen) >= known:
            self._known = known
            self._quiet_until = min((i.expiration_ns for i in self._pending.values()), default=_END)

    def process(self, ts_now: int) -> None:
        """Nothing to do on every step: settlement waits for its instant."""

    def log_diagnostics(self, logger: Logger) -> None:
        logger.info(f"ExpirySettlement: {len(self.settled)} contract(s) settled")

    def reset(self) -> None:
        self._quiet_until = 0
        self._known = -1
        self._seen.clear()
        self._pending.clear()
        self.settled.clear()
        self._fills = 0

    def _watch(self, instrument_id: InstrumentId) -> None:
        instrument = self.cache.instrument(instrument_id)
        expiration = getattr(instrument, "expiration_ns", None)
        if expiration is None or expiration < self.clock.timestamp_ns():
            return
        self._pending[instrument_id] = instrument
        self.clock.set_time_alert_ns(
            name=f"quantdesk-expiry-{instrument_id}",
            alert_time_ns=expiration,
            callback=self._on_expiry,
        )

    def _on_expiry(self, event: TimeEvent) -> None:
        instrument_id = InstrumentId.from_str(event.name.removeprefix("quantdesk-expiry-"))
        instrument = self._pending.get(instrument_id)
        if instrument is not None:
            self._settle(instrument, None)

    def _last_close(self, instrument_id: InstrumentId | str) -> float | None:
        bar_type = self._marks.get(str(instrument_id))
        bar = self.cache.bar(bar_type) if bar_type is not None else None
        return None if bar is None else bar.close.as_double()

    def _final_price(self, instrument: Instrument, own: Price | None) -> float | None:
        if isinstance(instrument, OptionContract):
            underlying = self._last_close(instrument.underlying)
            if underlying is None:
                return None
            kind = (
                OptionKind.CALL
                if instrument.option_kind == EngineOptionKind.CALL
                else OptionKind.PUT
            )
            return intrinsic_value(kind, underlying, instrument.strike_price.as_double())
        return own.as_double() if own is not None else self._last_close(instrument.id)

    def _settle(self, instrument: Instrument, own: Price | None) -> None:
        del self._pending[instrument.id]
        ts = int(instrument.expiration_ns)
        positions = self.cache.positions_open(None, instrument.id)
        if not positions:
            return
        price = self._final_price(instrument, own)
        if price is None:
            self._log.error(f"{instrument.id}: no final price at expiry, positions left open")
            return
        for position in positions:
            self._settle_position(instrument, position, instrument.make_price(price), ts)
        self.settled.append((str(instrument.id), ts))

    def _settle_position(
        self, instrument: Instrument, position: Position, price: Price, ts: int
    ) -> None:
        """The engine's own expiration close, filled at ``price`` (ids derived from the
        position and the instant, so that a run repeats bit for bit)."""
        key = f"SETTLE-{position.id}-{ts}"
        self._fills += 1
        trade_id = f"SETTLE-{self._fills}-{ts}"  # at most 36 characters
        side = OrderSide.SELL if position.side == PositionSide.LONG else OrderSide.BUY
        order = MarketOrder(
            trader_id=position.trader_id,
            strategy_id=position.strategy_id,
            instrument_id=instrument.id,
            client_order_id=ClientOrderId(key),
            order_side=side,
            quantity=position.quantity,
            init_id=UUID4(),
            ts_init=ts,
            reduce_only=True,
            tags=[SETTLEMENT_TAG],
        )
        self.cache.add_order(order, position_id=position.id)
        self.msgbus.send(
            endpoint="ExecEngine.process",
            msg=OrderFilled(
                trader_id=position.trader_id,
                strategy_id=position.strategy_id,
                instrument_id=instrument.id,
                client_order_id=order.client_order_id,
                venue_order_id=VenueOrderId(key),
                account_id=position.account_id,
                trade_id=TradeId(trade_id),
                position_id=position.id,
                order_side=side,
                order_type=OrderType.MARKET,
                last_qty=position.quantity,
                last_px=price,
                currency=instrument.quote_currency,
                commission=Money(0, instrument.quote_currency),
                liquidity_side=LiquiditySide.TAKER,
                event_id=UUID4(),
                ts_event=ts,
                ts_init=ts,
            ),
        )


def settlement_modules(
    plan: RunPlan, venue: str, dated: set[str]
) -> list[ImportableActorConfig] | None:
    """The settlement module for a venue listing dated contracts in the run (None without:
    a run of equities, FX or perpetuals is configured as it always was)."""
    if not any(instrument_of_venue(i) == venue for i in dated):
        return None
    return [
        ImportableActorConfig(
            actor_path=MODULE_PATH,
            config_path=CONFIG_PATH,
            config={"component_id": f"QuantdeskExpiry-{venue}", "marks": dict(plan.marks)},
        )
    ]


def instrument_of_venue(instrument_id: str) -> str:
    return instrument_id.rsplit(".", 1)[1]


def option_stream_ends(specs: Iterable[InstrumentSpec]) -> dict[str, int]:
    """Options' bars stop short of their expiration instant: at that instant the matching
    engine would close a position at the option's own bar, before the underlying's bar of
    the same instant is known (the replay orders bars of one instant as it likes). The
    settlement then comes at the time alert, after every bar of the instant."""
    return {
        s.instrument_id: s.expiration_ns - 1
        for s in specs
        if s.asset_class is AssetClass.OPTION and s.expiration_ns is not None
    }


def strategy_configs(
    plan: RunPlan, specs: Mapping[str, InstrumentSpec]
) -> list[ImportableStrategyConfig]:
    """The plan's strategies as the engine builds them; a strategy trading contracts of a
    chain the request rolls gets ``rolls``: per chain its contracts there in expiration order
    and the rule (see ``strategies/rolls.py``)."""
    chains = [
        (rule, [s.instrument_id for s in chain_contracts(rule, specs.values())])
        for rule in plan.request.rolls
    ]
    configs = []
    for strategy in plan.strategies:
        spec = strategy.spec
        config = dict(spec.config)
        rolls = [
            {"contracts": mine, "method": rule.method.value, "offset_ns": rule.offset_ns}
            for rule, contracts in chains
            if (mine := [c for c in contracts if c in strategy.instruments])
        ]
        if rolls:
            config["rolls"] = rolls
        configs.append(
            ImportableStrategyConfig(
                strategy_path=spec.strategy_path, config_path=spec.config_path, config=config
            )
        )
    return configs
