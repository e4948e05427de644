"""What a run records as it goes, one event at a time (the engine's cache is purged, so
these are the run's own account of its fills, positions and signal decisions)."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill event, as recorded during the run (the engine's cache is purged)."""

    ts_ns: int
    strategy_id: str
    instrument_id: str
    order_id: str
    trade_id: str
    position_id: str
    side: int  # +1 buy, -1 sell
    quantity: float
    price: float
    commission: float
    commission_currency: str
    signal_id: str | None = None  # the AI signal the order was taken on, if any
    quote_rate: float = 1.0  # base currency per unit of the instrument's PnL currency, applied
    kind: str | None = None  # "settlement" at expiry, "roll"; None: the strategy's own trade


@dataclass(frozen=True, slots=True)
class SignalUse:
    """A strategy received a replayed signal (recorded during the run)."""

    strategy_id: str
    signal_id: str
    signal_type: str
    instrument_id: str
    ts_init: int
    source_model: str
    trace_id: str


@dataclass(frozen=True, slots=True)
class SignalDecision:
    """The risk gate's answer to an order a strategy took on a signal."""

    strategy_id: str
    signal_id: str
    order_id: str
    ts_ns: int
    approved: bool  # approved as sent or reduced; False: denied


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """One closed round trip."""

    strategy_id: str
    instrument_id: str
    position_id: str
    side: int  # +1 long, -1 short
    peak_quantity: float
    opened_ns: int
    closed_ns: int
    avg_px_open: float
    avg_px_close: float
    realized_pnl: float  # net of commissions, in the quote currency
    commissions: float
