"""Performance of a backtest, computed by quantdesk from its fills and the bar closes.

The engine's own statistics are per closed position and realised only; a run's risk lives in
its open positions too, so everything here starts from a mark-to-market equity curve.

Definitions (for instruments linear, quoted in the account currency, multiplier 1: the
*plain* ones; "Converted instruments" below extends them to the others):

- Curve points are the union of the bar-close timestamps of the run's instruments. A fill
  applies from the first point at or after its timestamp (fills after the last point are
  outside the run). Each fill moves cash by ``-side * quantity * price - commission`` and
  the position by ``side * quantity``; ``equity(t) = starting_equity + sum_i cash_i(t) +
  position_i(t) * close_i(t)``, where ``close_i(t)`` is the close of instrument i's last bar
  at or before t (0 before its first bar). A position within 1e-9 of the instrument's largest
  fill quantity of zero is flat: float residue of a round trip is neither marked nor counted
  as exposure.
- Drawdown is ``equity / running max - 1``; ``max_drawdown`` its minimum (0.0 if never below
  the peak). ``max_drawdown_duration_ns`` is the longest time from the last point at a peak
  before a fall to the first point back at or above that peak, or to the last point if it
  never recovers; 0 if the curve never falls below its peak.
- Daily returns: the curve grouped by UTC calendar day (``ts_ns // 86_400e9``), a day's equity
  its last; ``r_d = E_d / E_prev - 1`` with ``starting_equity`` before the first day.
- ``years = (last ts - first ts) / 365.25 days``; ``periods_per_year = days with returns /
  years``. ``cagr = (end / start) ** (1 / years) - 1``; ``annual_volatility = std(r, ddof=1) *
  sqrt(ppy)``; ``sharpe = mean(r) / std(r, ddof=1) * sqrt(ppy)`` (risk-free 0); ``sortino =
  mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(ppy)``; ``calmar = cagr / |max_drawdown|``.
  Each is None when its inputs are missing (no elapsed time, fewer than two returns for a
  standard deviation, end equity <= 0 for cagr, or cagr overflowing a float over a span of
  minutes) or its denominator is 0.
- Trades are the closed positions: wins have ``realized_pnl > 0``, losses ``< 0``;
  ``profit_factor = sum(wins) / |sum(losses)|`` (None without losses), ``avg_loss`` is
  negative, ``expectancy`` the mean realised pnl.
- ``exposure`` is the fraction of curve points with a position open; ``turnover`` the traded
  notional ``sum |quantity * price|`` over the mean equity; ``fees`` the sum of commissions.
- Attribution runs the same analysis on each strategy's own fills and positions, over the
  closes of the instruments it traded, from the same starting equity; the strategies' pnl
  therefore add up to the run's pnl.

Converted instruments (a :class:`Valuation`: PnL in a currency C other than the account's
base B, or a multiplier m other than 1), as the engine's single-currency MARGIN account books
them (CASH accounts: see the last but one item); plain instruments keep the arithmetic above,
bit for bit:

- ``rate_C(t)``: B per unit of C at instant t, the close of the rate series' last bar at or
  before t (:mod:`quantdesk.domain.conversion`); 1 for B itself. A fill before the series'
  first bar is an error (the run's checks refuse such a run before it starts).
- Per position (the engine's position id), in fill time order: a fill adding to it moves its
  average open price ``avg`` to the quantity-weighted mean; a fill reducing it realises
  ``closed * (price - avg) * direction * m`` in C; one crossing zero opens the rest at its
  price. A fill books ``realised * rate_C(t_fill) - commission * rate_K(t_fill)`` (K the
  commission's currency) from the first point at or after it, like a plain fill's cash.
- At each point t, an instrument's open quantity ``Q(t)`` and cost ``K(t) = sum of q * avg *
  m`` over its positions mark ``(m * Q(t) * close(t) - K(t)) * rate_C(t)`` while any of its
  positions is open (a position within the flat tolerance of zero is closed; two strategies'
  offsetting positions are net flat but still hold the PnL between their prices). So
  ``equity(t) = starting_equity + plain cash and marks + converted flows + converted
  unrealised``; ``in_market`` follows the net quantity, as for plain instruments.
- In a CASH account (as the engine's books it) a converted fill books its whole cash flow
  ``-side * quantity * price * m * rate_C(t_fill) - commission * rate_K(t_fill)`` and its
  holdings are marked at their whole value ``m * Q(t) * close(t) * rate_C(t)`` (K = 0): the
  currency's move on the cost is PnL too, where a margin account's PnL is the price's alone.
- ``turnover`` counts a converted fill's ``|quantity * price| * m * rate_C(t_fill)``, ``fees``
  its converted commission; a closed position's ``realized_pnl`` (in C) counts at the rate of
  its closing instant in the trade statistics.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from quantdesk.domain.backtest import FillRecord, Metrics, PositionRecord, StrategyAttribution
from quantdesk.domain.record_log import as_log
from quantdesk.services.columns import BoolArray, Float64Array, Int64Array
from quantdesk.services.valuation import FLAT_TOLERANCE, Valuation, add_converted, split_fills

DAY_NS = 86_400_000_000_000
YEAR_NS = 365.25 * DAY_NS


@dataclass(frozen=True, eq=False)
class EquityCurve:
    """Mark-to-market equity at every bar close of the run, after that instant's fills."""

    ts_ns: Int64Array  # strictly increasing: the union of the instruments' bar closes
    equity: Float64Array
    in_market: BoolArray  # any position open after the fills at that point

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])


@dataclass(frozen=True, eq=False)
class _FillColumns:
    """Fills as columns, stably sorted by time, so the curve is built without a Python loop."""

    ts_ns: Int64Array
    instrument: list[str]  # instrument id of each distinct code, in code order
    code: Int64Array
    signed_quantity: Float64Array
    cash: Float64Array
    notional: Float64Array
    commission: Float64Array

    @classmethod
    def of(cls, fills: Sequence[FillRecord], keep: BoolArray | None = None) -> "_FillColumns":
        """``keep``: the rows to take (the plain ones of a run converting others); None: all."""
        log = as_log(FillRecord, fills)
        ts = np.array(log.numbers("ts_ns"), dtype=np.int64)
        order = np.argsort(ts, kind="stable")
        if keep is not None:
            order = order[keep[order]]
        codes, instruments = log.encoded("instrument_id")
        raw_code = np.array(codes, dtype=np.int64)
        side = np.array(log.numbers("side"), dtype=np.float64)
        quantity = np.array(log.numbers("quantity"), dtype=np.float64)
        price = np.array(log.numbers("price"), dtype=np.float64)
        commission = np.array(log.numbers("commission"), dtype=np.float64)
        signed = (side * quantity)[order]
        price = price[order]
        commission = commission[order]
        return cls(
            ts_ns=ts[order],
            instrument=[str(i) for i in instruments],
            code=raw_code[order],
            signed_quantity=signed,
            cash=-signed * price - commission,
            notional=np.abs(signed * price),
            commission=commission,
        )


def _curve_ts(closes: Mapping[str, tuple[Int64Array, Float64Array]]) -> Int64Array:
    parts = [np.asarray(ts, dtype=np.int64) for ts, _ in closes.values()]
    if not parts:
        return np.empty(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0]
    # A stable sort merges the already-sorted runs in linear time; np.unique is ~100x slower.
    merged = np.sort(np.concatenate(parts), kind="stable")
    first = np.ones(merged.shape[0], dtype=np.bool_)
    first[1:] = merged[1:] != merged[:-1]
    distinct: Int64Array = merged[first]
    return distinct


def build_equity_curve(
    fills: Sequence[FillRecord],
    closes: Mapping[str, tuple[Int64Array, Float64Array]],
    starting_equity: float,
    valuation: Valuation | None = None,
) -> EquityCurve:
    """The run's mark-to-market equity at every bar close (see the module's definitions)."""
    ts = _curve_ts(closes)
    n = int(ts.shape[0])
    plain, converted = split_fills(fills, valuation)
    columns = _FillColumns.of(fills, plain)
    point = np.searchsorted(ts, columns.ts_ns, side="left")
    inside = point < n
    point = point[inside]
    code = columns.code[inside]
    # In place where possible: at a million bars every temporary curve is 8 MB more peak.
    equity: Float64Array = np.bincount(point, weights=columns.cash[inside], minlength=n).astype(
        np.float64, copy=False
    )  # int64 when there are no fills at all
    np.cumsum(equity, out=equity)
    equity += float(starting_equity)
    in_market = np.zeros(n, dtype=np.bool_)
    signed = columns.signed_quantity[inside]
    for index, instrument_id in enumerate(columns.instrument):
        mine = code == index
        if not mine.any():
            continue
        position = np.bincount(point[mine], weights=signed[mine], minlength=n).astype(
            np.float64, copy=False
        )
        np.cumsum(position, out=position)
        scale = float(np.abs(signed[mine]).max())
        position[np.abs(position) <= FLAT_TOLERANCE * scale] = 0.0
        in_market |= position != 0.0
        bar_ts, bar_close = closes.get(instrument_id, (ts[:0], np.empty(0)))
        if len(bar_ts) == 0:
            continue  # never priced: its position has no mark
        if bar_ts is ts:  # the only instrument: its closes are the curve's own points
            position *= np.asarray(bar_close, dtype=np.float64)
        else:
            last = np.searchsorted(bar_ts, ts, side="right") - 1
            position *= np.where(last >= 0, np.asarray(bar_close, dtype=np.float64)[last], 0.0)
        equity += position
    for instrument_id, booked in converted.items():
        assert valuation is not None  # nothing converts without one
        add_converted(equity, in_market, ts, instrument_id, booked, closes, valuation)
    return EquityCurve(ts_ns=ts, equity=equity, in_market=in_market)


def _require_points(curve: EquityCurve) -> None:
    if len(curve) == 0:
        raise ValueError("the equity curve is empty: the run has no bars to mark positions at")


def drawdown(curve: EquityCurve) -> Float64Array:
    """Equity below its running peak, as a fraction (<= 0)."""
    _require_points(curve)
    return drawdown_of(curve.equity)


def drawdown_of(equity: Float64Array, peak: float = -math.inf) -> Float64Array:
    """Drawdown of ``equity`` after a running peak of ``peak``; one array, filled in place."""
    result: Float64Array = np.maximum.accumulate(equity)
    np.maximum(result, peak, out=result)
    np.divide(equity, result, out=result)
    result -= 1.0
    return result


def _max_drawdown_duration_ns(curve: EquityCurve) -> int:
    """Longest peak-to-recovery time over the underwater runs, vectorised over the curve."""
    under = curve.equity < np.maximum.accumulate(curve.equity)
    if not under.any():
        return 0
    padded = np.concatenate(([False], under, [False])).astype(np.int8)
    edges = np.diff(padded)
    first = np.flatnonzero(edges == 1)  # first underwater point of each run (never 0)
    after = np.flatnonzero(edges == -1)  # the point that recovers it, or n if none
    ts = curve.ts_ns
    end = ts[np.minimum(after, len(ts) - 1)]
    return int((end - ts[first - 1]).max())


def daily_returns(curve: EquityCurve, starting_equity: float) -> tuple[Int64Array, Float64Array]:
    """(UTC day index, return) for each day with data, from each day's last equity."""
    _require_points(curve)
    day = curve.ts_ns // DAY_NS
    last = np.flatnonzero(np.concatenate((day[1:] != day[:-1], [True])))
    day_equity = curve.equity[last]
    previous = np.concatenate(([starting_equity], day_equity[:-1]))
    returns: Float64Array = day_equity / previous - 1.0
    days: Int64Array = day[last]
    return days, returns


def _cagr(growth: float, years: float) -> float | None:
    """None without elapsed time or equity, or when compounding a short span overflows."""
    if years <= 0 or growth <= 0:
        return None
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:
        return None


def _ratio(numerator: float, denominator: float, scale: float) -> float | None:
    return numerator / denominator * scale if denominator != 0 else None


def _realized_pnl(positions: Sequence[PositionRecord], valuation: Valuation | None) -> Float64Array:
    """Closed positions' realised pnl, those of converted instruments at their closing rate."""
    log = as_log(PositionRecord, positions)
    pnl = np.array(log.numbers("realized_pnl"), dtype=np.float64)
    if valuation is None:
        return pnl
    codes, instruments = log.encoded("instrument_id")
    code = np.array(codes, dtype=np.int64)
    closed = np.array(log.numbers("closed_ns"), dtype=np.int64)
    for index, instrument_id in enumerate(instruments):
        currency = valuation.currency.get(str(instrument_id), valuation.base_currency)
        if currency == valuation.base_currency:
            continue
        mine = code == index
        pnl[mine] *= valuation.rates_at(currency, closed[mine], f"{instrument_id}'s trade")
    return pnl


def compute_metrics(
    curve: EquityCurve,
    positions: Sequence[PositionRecord],
    fills: Sequence[FillRecord],
    starting_equity: float,
    valuation: Valuation | None = None,
) -> Metrics:
    """Every figure of a run from its curve, closed trades and fills (see the definitions)."""
    _require_points(curve)
    start = float(starting_equity)
    end = float(curve.equity[-1])
    _, returns = daily_returns(curve, starting_equity)
    years = float(curve.ts_ns[-1] - curve.ts_ns[0]) / YEAR_NS
    ppy = len(returns) / years if years > 0 else None
    cagr = _cagr(end / start, years)
    volatility: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    if ppy is not None:
        root = math.sqrt(ppy)
        mean = float(returns.mean())
        if len(returns) >= 2:
            std = float(returns.std(ddof=1))
            volatility = std * root
            sharpe = _ratio(mean, std, root)
        downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
        sortino = _ratio(mean, downside, root)
    max_dd = float(drawdown(curve).min())
    calmar = cagr / abs(max_dd) if cagr is not None and max_dd != 0 else None

    pnl = _realized_pnl(positions, valuation)
    wins = pnl[pnl > 0]
    losses = pnl[pnl < 0]
    plain, converted = split_fills(fills, valuation)
    columns = _FillColumns.of(fills, plain)
    mean_equity = float(curve.equity.mean())
    notional = float(columns.notional.sum())
    fees = float(columns.commission.sum())
    for booked in converted.values():
        notional += float(booked.notional.sum())
        fees += float(booked.commission.sum())
    return Metrics(
        start_equity=start,
        end_equity=end,
        pnl=end - start,
        total_return=end / start - 1.0,
        cagr=cagr,
        annual_volatility=volatility,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        max_drawdown=max_dd,
        max_drawdown_duration_ns=_max_drawdown_duration_ns(curve),
        trade_count=len(pnl),
        win_rate=len(wins) / len(pnl) if len(pnl) else None,
        profit_factor=float(wins.sum()) / abs(float(losses.sum())) if len(losses) else None,
        avg_win=float(wins.mean()) if len(wins) else None,
        avg_loss=float(losses.mean()) if len(losses) else None,
        expectancy=float(pnl.mean()) if len(pnl) else None,
        exposure=float(curve.in_market.mean()),
        turnover=notional / mean_equity if mean_equity != 0 else math.inf,
        fees=fees,
        periods_per_year=ppy,
    )


def attribute(
    fills: Sequence[FillRecord],
    positions: Sequence[PositionRecord],
    closes: Mapping[str, tuple[Int64Array, Float64Array]],
    starting_equity: float,
    *,
    run: tuple[EquityCurve, Metrics] | None = None,
    valuation: Valuation | None = None,
) -> list[StrategyAttribution]:
    """Each strategy's performance as if it had the account to itself, over its own data.

    Same starting equity for each, so their pnl add up to the run's; the ratios are each
    strategy's own, not shares of the run's. ``run`` (the run's own curve and metrics) is
    reused for a strategy alone in the run that traded every instrument: its analysis has
    the same inputs, so the same result, without a second million-point curve.
    """
    fill_log = as_log(FillRecord, fills)
    position_log = as_log(PositionRecord, positions)
    strategy_ids = sorted(str(s) for s in fill_log.encoded("strategy_id")[1])
    position_ids = [str(s) for s in position_log.encoded("strategy_id")[1]]
    result: list[StrategyAttribution] = []
    for strategy_id in strategy_ids:
        # A strategy alone in the run owns every row: no copy of the logs.
        lone = len(strategy_ids) == 1
        own = fill_log if lone else fill_log.where("strategy_id", strategy_id)
        owns_positions = position_ids in ([], [strategy_id])
        own_positions = (
            position_log if owns_positions else position_log.where("strategy_id", strategy_id)
        )
        instruments = sorted({str(i) for i in own.encoded("instrument_id")[1]})
        if run is not None and lone and owns_positions and set(closes) <= set(instruments):
            metrics = run[1]
        else:
            own_closes = {i: closes[i] for i in instruments if i in closes}
            curve = build_equity_curve(own, own_closes, starting_equity, valuation)
            metrics = compute_metrics(curve, own_positions, own, starting_equity, valuation)
        result.append(
            StrategyAttribution(strategy_id=strategy_id, instruments=instruments, metrics=metrics)
        )
    return result
