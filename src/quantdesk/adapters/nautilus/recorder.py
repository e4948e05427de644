"""An actor that keeps the run's record and the engine fast.

The engine's cache slows a long run down as orders pile up (nautilus-notes §8), so the
recorder purges closed orders on a simulated-time timer; since purged orders vanish from the
engine's reports, it records every fill and every closed position itself as they happen,
into columns (:class:`RecordLog`) rather than an object each: they are held through the
engine's peak. It also reports simulated time, which drives the progress bar, and keeps the
signal trail: the signals strategies consumed and the gate's decisions on orders taken on
them, so each fill carries the id of the signal its order was taken on (and the rate its
account converted it at into the base currency, from the run's :class:`RateBook`; 1.0 in
the base currency, NaN before a rate exists). And it counts the
orders the engine refused (``OrderRejected`` by the venue, ``OrderDenied`` by its risk
engine or the margin check), by reason, with their first times: a run that traded nothing
because every order bounced must not look like a strategy that chose not to trade.
"""

import re
from collections.abc import Callable
from datetime import timedelta

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.config import ActorConfig
from nautilus_trader.core.message import Event
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.events import (
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderRejected,
    PositionClosed,
)

from quantdesk.adapters.nautilus.built_bars import BuiltBars
from quantdesk.adapters.nautilus.rates import RateBook
from quantdesk.adapters.nautilus.signal_data import SIGNAL_DECISION_TOPIC, SIGNAL_USED_TOPIC
from quantdesk.domain.backtest import FillRecord, PositionRecord, SignalDecision, SignalUse
from quantdesk.domain.execution import EngineRejection
from quantdesk.domain.expiry import fill_kind
from quantdesk.domain.record_log import RecordLog

PURGE_TIMER = "quantdesk-purge"
PROGRESS_TIMER = "quantdesk-progress"
FIRST_TIMES = 5


def reason_code(reason: str) -> str:
    """What a reason says without its particulars, so that one cause groups as one:
    ``NOTIONAL_EXCEEDS_FREE_BALANCE: free=..`` or ``.. order MarketOrder(SELL 80 ..)`` are
    cut at their first ``:``, ``(``, ``[``, ``{`` or ``=``, and numbers read as ``#``."""
    head = re.split(r"[:(\[{=]", reason, maxsplit=1)[0].strip()
    return re.sub(r"\d[\d,._]*", "#", head)[:120] or reason[:120]


class RunRecorderConfig(ActorConfig, frozen=True, kw_only=True):
    purge_interval_ns: int
    progress_interval_ns: int
    purge: bool = True


class RunRecorder(Actor):
    def __init__(
        self,
        config: RunRecorderConfig,
        on_progress: Callable[[int], None] | None = None,
        rates: RateBook | None = None,
    ) -> None:
        super().__init__(config)
        self._rates = rates if rates is not None else RateBook({})  # {}: all at 1.0
        self._purge_interval = timedelta(microseconds=config.purge_interval_ns // 1_000)
        self._progress_interval = timedelta(microseconds=config.progress_interval_ns // 1_000)
        self._purge = config.purge
        self._on_progress = on_progress
        self.fills = RecordLog(FillRecord)
        self.positions = RecordLog(PositionRecord)
        self._commissions: dict[str, float] = {}
        self.signal_uses: list[SignalUse] = []
        self.signal_decisions: list[SignalDecision] = []
        self._order_signals: dict[str, str] = {}  # approved orders taken on a signal
        self._refusals: dict[tuple[str, str], tuple[int, list[int], str]] = {}
        self.orders_accepted = 0
        self.built: BuiltBars | None = None  # the bars built from ticks, kept by the runner

    def on_start(self) -> None:
        self.msgbus.subscribe(topic="events.fills.*", handler=self._on_fill)
        self.msgbus.subscribe(topic="events.position.*", handler=self._on_position)
        self.msgbus.subscribe(topic="events.order.*", handler=self._on_order)
        self.msgbus.subscribe(topic=SIGNAL_USED_TOPIC, handler=self.signal_uses.append)
        self.msgbus.subscribe(topic=SIGNAL_DECISION_TOPIC, handler=self._on_signal_decision)
        if self._purge:
            self.clock.set_timer(PURGE_TIMER, self._purge_interval, callback=self._purge_now)
        if self._on_progress is not None:
            self.clock.set_timer(PROGRESS_TIMER, self._progress_interval, callback=self._report)

    def _purge_now(self, event: TimeEvent) -> None:
        # Fills and closed positions are recorded here as they happen, so the engine may forget
        # them: closed orders cost speed, closed positions and account events cost memory.
        self.cache.purge_closed_orders(event.ts_event)
        self.cache.purge_closed_positions(event.ts_event)
        self.cache.purge_account_events(event.ts_event)

    def _report(self, event: TimeEvent) -> None:
        if self._on_progress is not None:
            self._on_progress(event.ts_event)

    def _on_signal_decision(self, decision: SignalDecision) -> None:
        self.signal_decisions.append(decision)
        if decision.approved:
            self._order_signals[decision.order_id] = decision.signal_id

    def _on_fill(self, event: OrderFilled) -> None:
        commission = event.commission.as_double() if event.commission is not None else 0.0
        position_id = str(event.position_id) if event.position_id is not None else ""
        self._commissions[position_id] = self._commissions.get(position_id, 0.0) + commission
        order_id = str(event.client_order_id)
        self.fills.append_values(  # FillRecord's fields, in order
            event.ts_event,
            str(event.strategy_id),
            str(event.instrument_id),
            order_id,
            str(event.trade_id),
            position_id,
            1 if event.order_side == OrderSide.BUY else -1,
            event.last_qty.as_double(),
            event.last_px.as_double(),
            commission,
            event.commission.currency.code if event.commission is not None else "",
            self._order_signals.get(order_id),
            self._quote_rate(event),
            self._kind(event),
        )

    def _quote_rate(self, event: OrderFilled) -> float:
        """The rate the engine's account converts this fill at (1.0 in the base currency)."""
        rate = self._rates.rate(event.instrument_id)
        return float("nan") if rate is None else rate

    def _kind(self, event: OrderFilled) -> str | None:
        """Settlement or roll, from the order's tags (the order is still in the cache: it is
        purged only once closed, on the next purge timer)."""
        order = self.cache.order(event.client_order_id)
        kind = fill_kind(order.tags) if order is not None else None
        return None if kind is None else kind.value

    def _on_order(self, event: Event) -> None:
        if isinstance(event, OrderAccepted):
            self.orders_accepted += 1
            return
        if isinstance(event, OrderRejected):
            kind = "rejected"
        elif isinstance(event, OrderDenied):
            kind = "denied"
        else:
            return
        reason = str(event.reason)
        key = (kind, reason_code(reason))
        count, first, example = self._refusals.get(key, (0, [], reason))
        if len(first) < FIRST_TIMES:
            first.append(int(event.ts_event))
        self._refusals[key] = (count + 1, first, example)

    @property
    def refusals(self) -> list[EngineRejection]:
        """Refused orders by kind and reason, most frequent first."""
        rows = [
            EngineRejection(kind=kind, reason=code, count=count, first_ts=first, example=example)
            for (kind, code), (count, first, example) in self._refusals.items()
        ]
        return sorted(rows, key=lambda r: (-r.count, r.kind, r.reason))

    def _on_position(self, event: Event) -> None:
        if not isinstance(event, PositionClosed):
            return
        position_id = str(event.position_id)
        self.positions.append_values(  # PositionRecord's fields, in order
            str(event.strategy_id),
            str(event.instrument_id),
            position_id,
            1 if event.entry == OrderSide.BUY else -1,
            event.peak_qty.as_double(),
            event.ts_opened,
            event.ts_closed,
            float(event.avg_px_open),
            float(event.avg_px_close),
            event.realized_pnl.as_double(),
            self._commissions.pop(position_id, 0.0),
        )

    def on_reset(self) -> None:
        self.fills = RecordLog(FillRecord)
        self.positions = RecordLog(PositionRecord)
        self._commissions.clear()
        self.signal_uses.clear()
        self.signal_decisions.clear()
        self._order_signals.clear()
        self._refusals.clear()
        self.orders_accepted = 0
