"""Instruments valued in the account's currency: multipliers and conversion rates.

The arithmetic of the converted part of the equity curve (see :mod:`performance`'s
definitions, "Converted instruments"): per position, the average open price and realised
PnL of each fill as the engine's margin account books them, then the instrument's open
quantity ``Q`` and cost ``K = sum of q * avg_px_open`` as step functions over the curve.
Instruments in the account's currency at multiplier 1 never come here.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from quantdesk.domain.backtest import FillRecord
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.record_log import RecordLog, as_log
from quantdesk.domain.time import ns_to_text
from quantdesk.services.columns import BoolArray, Float64Array, Int64Array

FLAT_TOLERANCE = 1e-9  # of the largest fill quantity: below it, a position is float residue


@dataclass(frozen=True, eq=False)
class RateSeries:
    """A currency's rate into the base currency (base units per unit) at each bar close."""

    ts_ns: Int64Array  # strictly increasing
    rate: Float64Array

    def at(self, ts_ns: Int64Array, what: str) -> Float64Array:
        """The rate at each instant: the last at or before it; an instant before the first
        rate is an error naming ``what`` (the run's checks rule it out before it starts)."""
        last = np.searchsorted(self.ts_ns, ts_ns, side="right") - 1
        if len(last) and (len(self.ts_ns) == 0 or int(last.min()) < 0):
            early = int(np.asarray(ts_ns)[int(np.argmin(last))])
            first = ns_to_text(int(self.ts_ns[0])) if len(self.ts_ns) else "never"
            raise InvalidInputError(
                f"{what} at {ns_to_text(early)} has no conversion rate: the first is at {first}",
                hint="ingest the FX pair's bars from before the run's first bar",
            )
        rates: Float64Array = self.rate[last]
        return rates


@dataclass(frozen=True)
class Valuation:
    """How each instrument's PnL reaches the base currency.

    ``currency``: per instrument, the currency its PnL is booked in (absent: the base);
    ``multiplier``: per instrument (absent: 1); ``rates``: per currency other than the base;
    ``cash``: the instruments held in CASH accounts, which book a fill's whole cash flow at
    its rate and mark a holding's whole value (margin accounts: realised and unrealised PnL).
    """

    base_currency: str
    currency: Mapping[str, str] = field(default_factory=dict)
    multiplier: Mapping[str, float] = field(default_factory=dict)
    rates: Mapping[str, RateSeries] = field(default_factory=dict)
    cash: frozenset[str] = frozenset()

    def converts(self, instrument_id: str) -> bool:
        """False for an instrument in the base currency at multiplier 1: it keeps the plain
        cash-and-mark arithmetic, bit for bit."""
        own = self.currency.get(instrument_id, self.base_currency)
        return own != self.base_currency or self.multiplier.get(instrument_id, 1.0) != 1.0

    def series(self, currency: str) -> RateSeries | None:
        """None for the base currency (rate 1)."""
        if currency in ("", self.base_currency):
            return None
        found = self.rates.get(currency)
        if found is None:
            raise InvalidInputError(
                f"no rate converts {currency} into {self.base_currency}",
                hint=f"ingest bars of {self.base_currency}/{currency} or {currency}/"
                f"{self.base_currency}",
            )
        return found

    def rates_at(self, currency: str, ts_ns: Int64Array, what: str) -> Float64Array:
        series = self.series(currency)
        if series is None:
            return np.ones(len(ts_ns), dtype=np.float64)
        return series.at(ts_ns, what)


@dataclass(frozen=True, eq=False)
class ConvertedFills:
    """One converted instrument's fills, in time order, as the margin account books them."""

    ts_ns: Int64Array
    signed_quantity: Float64Array
    realised: Float64Array  # quote currency, multiplier applied (cash accounts: the cash flow)
    cost_change: Float64Array  # change of the instrument's K (quote currency, multiplier applied)
    rate: Float64Array  # the instrument's rate at each fill
    commission: Float64Array  # in the base currency, at its own currency's rate at the fill
    open_positions: Int64Array  # positions of the instrument open after each fill
    notional: Float64Array  # |quantity * price| * multiplier * rate: traded, in the base

    @property
    def flows(self) -> Float64Array:
        """What each fill books into the account, in the base currency."""
        flows: Float64Array = self.realised * self.rate
        flows -= self.commission
        return flows


@dataclass(frozen=True, eq=False)
class _Columns:
    """A fill log's columns as arrays, read once for every converted instrument."""

    ts: Int64Array
    signed: Float64Array
    quantity: Float64Array
    price: Float64Array
    commission: Float64Array
    position: Int64Array
    commission_code: Int64Array
    commission_currencies: list[str | None]

    @classmethod
    def of(cls, log: RecordLog[FillRecord]) -> "_Columns":
        side = np.array(log.numbers("side"), dtype=np.float64)
        quantity = np.array(log.numbers("quantity"), dtype=np.float64)
        codes, currencies = log.encoded("commission_currency")
        return cls(
            ts=np.array(log.numbers("ts_ns"), dtype=np.int64),
            signed=side * quantity,
            quantity=quantity,
            price=np.array(log.numbers("price"), dtype=np.float64),
            commission=np.array(log.numbers("commission"), dtype=np.float64),
            position=np.array(log.encoded("position_id")[0], dtype=np.int64),
            commission_code=np.array(codes, dtype=np.int64),
            commission_currencies=currencies,
        )


def _booked(
    columns: _Columns, rows: Int64Array, instrument_id: str, valuation: Valuation
) -> ConvertedFills:
    """Average-price bookkeeping per position (the engine's) of the instrument's ``rows`` of
    a log's columns: a fill adding to a position moves its average open price to the
    quantity-weighted mean; a fill reducing it realises ``closed * (price - avg_px_open) *
    direction * multiplier``; one crossing zero closes the position and opens the rest at its
    price. A position within the flat tolerance of zero is closed (its residue is neither
    marked nor costed)."""
    multiplier = valuation.multiplier.get(instrument_id, 1.0)
    order = rows[np.argsort(columns.ts[rows], kind="stable")]
    quantity, price, signed = columns.quantity[order], columns.price[order], columns.signed[order]
    scale = float(quantity.max()) if len(quantity) else 0.0
    realised, cost_change, open_positions = _book(
        signed.tolist(), price.tolist(), columns.position[order].tolist(), FLAT_TOLERANCE * scale
    )
    if instrument_id in valuation.cash:  # the whole cost moves cash; a holding has no cost
        realised = -signed * price
        cost_change = np.zeros(len(order), dtype=np.float64)
    realised *= multiplier
    cost_change *= multiplier
    sorted_ts: Int64Array = columns.ts[order]
    currency = valuation.currency.get(instrument_id, valuation.base_currency)
    rate = valuation.rates_at(currency, sorted_ts, f"{instrument_id}'s fill")
    commission = columns.commission[order]
    commission_code = columns.commission_code[order]
    for index, paid_in in enumerate(columns.commission_currencies):
        if paid_in in (None, "", valuation.base_currency):
            continue
        mine = commission_code == index
        if mine.any():
            commission[mine] *= valuation.rates_at(
                str(paid_in), sorted_ts[mine], f"{instrument_id}'s {paid_in} commission"
            )
    return ConvertedFills(
        ts_ns=sorted_ts,
        signed_quantity=signed,
        realised=realised,
        cost_change=cost_change,
        rate=rate,
        commission=commission,
        open_positions=open_positions,
        notional=np.abs(quantity * price) * multiplier * rate,
    )


def split_fills(
    fills: Sequence[FillRecord], valuation: Valuation | None
) -> tuple[BoolArray | None, dict[str, ConvertedFills]]:
    """Which fills are plain (None: all of them, untouched, when nothing converts) and each
    converted instrument's fills as booked in the base currency."""
    if valuation is None:
        return None, {}
    log = as_log(FillRecord, fills)
    codes, instruments = log.encoded("instrument_id")
    converts = [valuation.converts(str(i)) for i in instruments]
    if not any(converts):
        return None, {}
    code = np.array(codes, dtype=np.int64)
    columns = _Columns.of(log)
    converted = {
        str(i): _booked(columns, np.flatnonzero(code == index), str(i), valuation)
        for index, (i, flag) in enumerate(zip(instruments, converts, strict=True))
        if flag
    }
    plain: BoolArray = ~np.array(converts, dtype=np.bool_)[code]
    return plain, converted


def _book(
    signed: list[float], price: list[float], position: list[int], tolerance: float
) -> tuple[Float64Array, Float64Array, Int64Array]:
    """The loop of :func:`_booked` over plain Python floats (numpy scalars cost ~10x):
    per fill the realised PnL and the change of ``q * avg``, per unit of multiplier, and the
    positions open after it."""
    held: dict[int, tuple[float, float]] = {}  # position -> (signed quantity, avg open price)
    realised = [0.0] * len(signed)
    cost_change = [0.0] * len(signed)
    open_after = [0] * len(signed)
    opened = 0
    for row, (amount, px, key) in enumerate(zip(signed, price, position, strict=True)):
        q, avg = held.get(key, (0.0, 0.0))
        was_open = q != 0.0
        before = q * avg
        if q == 0.0 or (q > 0) == (amount > 0):  # opening or adding
            total = q + amount
            avg = (abs(q) * avg + abs(amount) * px) / abs(total)
            q = total
        else:
            direction = 1.0 if q > 0 else -1.0
            realised[row] = min(abs(amount), abs(q)) * (px - avg) * direction
            q += amount
            if abs(q) <= tolerance:
                q = 0.0
            elif (q > 0) != (direction > 0):  # crossed zero: the rest opens at the price
                avg = px
        if q == 0.0:
            avg = 0.0
        opened += (q != 0.0) - was_open
        held[key] = (q, avg)
        open_after[row] = opened
        cost_change[row] = q * avg - before
    return (
        np.array(realised, dtype=np.float64),
        np.array(cost_change, dtype=np.float64),
        np.array(open_after, dtype=np.int64),
    )


def add_converted(
    equity: Float64Array,
    in_market: BoolArray,
    ts: Int64Array,
    instrument_id: str,
    booked: ConvertedFills,
    closes: Mapping[str, tuple[Int64Array, Float64Array]],
    valuation: Valuation,
) -> None:
    """One converted instrument's flows and unrealised PnL, added in place."""
    n = int(ts.shape[0])
    point = np.searchsorted(ts, booked.ts_ns, side="left")
    inside = point < n
    point = point[inside]
    if not len(point):
        return
    flows = np.bincount(point, weights=booked.flows[inside], minlength=n)
    equity += np.cumsum(flows)
    quantity = np.cumsum(np.bincount(point, weights=booked.signed_quantity[inside], minlength=n))
    cost = np.cumsum(np.bincount(point, weights=booked.cost_change[inside], minlength=n))
    scale = float(np.abs(booked.signed_quantity[inside]).max())
    in_market |= np.abs(quantity) > FLAT_TOLERANCE * scale
    # marked while any of its positions is open: two strategies' offsetting positions are
    # flat together but hold the PnL between their prices
    last_fill = np.searchsorted(booked.ts_ns[inside], ts, side="right") - 1
    open_ = np.where(last_fill >= 0, booked.open_positions[inside][last_fill], 0) > 0
    bar_ts, bar_close = closes.get(instrument_id, (ts[:0], np.empty(0)))
    if len(bar_ts) == 0 or not open_.any():
        return  # never priced: its position has no mark
    last = np.searchsorted(bar_ts, ts[open_], side="right") - 1
    close = np.where(last >= 0, np.asarray(bar_close, dtype=np.float64)[last], 0.0)
    multiplier = valuation.multiplier.get(instrument_id, 1.0)
    currency = valuation.currency.get(instrument_id, valuation.base_currency)
    rate = valuation.rates_at(currency, ts[open_], f"{instrument_id}'s mark")
    equity[open_] += (multiplier * quantity[open_] * close - cost[open_]) * rate
