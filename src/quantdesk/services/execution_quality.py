"""Execution quality from a run's own record: its fills and the bars it traded on.

The window of a parent is every bar from its start ``t0`` (the first bar of the run in the
instrument, the one the first slice goes on: its close is the arrival price) to ``t0 +
horizon`` inclusive (an open child is cancelled at the first bar at or after it, and may fill
on that bar). The interval VWAP is ``sum(close * volume) / sum(volume)`` over those bars (bars
fill at their closes in these backtests, so the close is the price a slice could get), and
``participation`` is the filled quantity over their volume. Only fills on the parent's side
count: the opposite side is the strategy getting flat at the stop, not execution.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np

from quantdesk.domain.backtest import StrategySpec
from quantdesk.domain.backtest_records import FillRecord
from quantdesk.domain.errors import NotFoundError
from quantdesk.domain.execution_quality import ExecutionQuality, cost_bps
from quantdesk.services.columns import BarColumns

NS_PER_MINUTE = 60_000_000_000


def measure_execution(
    fills: Iterable[FillRecord],
    bars: BarColumns,
    *,
    strategy_id: str,
    instrument_id: str,
    algorithm: str,
    side: Literal["buy", "sell"],
    total_quantity: float,
    horizon_minutes: int,
) -> ExecutionQuality:
    """The quality of one parent; ``bars``: the instrument's bars of the run, in time order,
    starting with the parent's first."""
    if len(bars) == 0:
        raise NotFoundError(
            f"no bars of {instrument_id} in the run: no market to measure the execution against",
            hint="run the execution strategy over a range with bars of its instrument",
        )
    start = int(bars.ts_ns[0])
    in_window = bars.ts_ns <= start + horizon_minutes * NS_PER_MINUTE
    end = int(bars.ts_ns[in_window][-1])
    volume = float(np.sum(bars.volume[in_window]))
    vwap = (
        float(np.sum(bars.close[in_window] * bars.volume[in_window])) / volume
        if volume > 0
        else None
    )
    sign = 1 if side == "buy" else -1
    mine = [
        f
        for f in fills
        if f.strategy_id == strategy_id and f.instrument_id == instrument_id and f.side == sign
    ]
    filled = sum(f.quantity for f in mine)
    average = sum(f.quantity * f.price for f in mine) / filled if filled > 0 else None
    arrival = float(bars.close[0])
    return ExecutionQuality(
        strategy_id=strategy_id,
        instrument_id=instrument_id,
        algorithm=algorithm,
        side=side,
        total_quantity=total_quantity,
        start_ns=start,
        end_ns=end,
        filled_quantity=filled,
        filled_share=filled / total_quantity,
        fills=len(mine),
        orders=len({f.order_id for f in mine}),
        average_price=average,
        arrival_price=arrival,
        interval_vwap=vwap,
        vs_arrival_bps=None if average is None else cost_bps(average, arrival, side),
        vs_vwap_bps=None if average is None or vwap is None else cost_bps(average, vwap, side),
        market_volume=volume,
        participation=filled / volume if volume > 0 else None,
    )


EXECUTION_FAMILY_PATH = "quantdesk.strategies.execution:Execution"
"""The execution family's strategy class: the strategies of a run whose quality is measured."""

BarReader = Callable[[str, str, str], BarColumns]
"""(instrument id, bar spec, market data) -> that instrument's bars of the run, in time
order (the catalog's, or those the engine built from ticks)."""


def run_execution_quality(
    strategies: Iterable[tuple[str, StrategySpec]],
    fills: Sequence[FillRecord],
    read_bars: BarReader,
) -> list[ExecutionQuality]:
    """The quality of every parent order of a run: one per execution-family strategy
    (``(engine strategy id, spec)``) and instrument, in the order given. Other families are
    skipped."""
    out = []
    for strategy_id, spec in strategies:
        if spec.strategy_path != EXECUTION_FAMILY_PATH:
            continue
        config = spec.config
        for instrument_id in config["instrument_ids"]:
            out.append(
                measure_execution(
                    fills,
                    read_bars(
                        instrument_id,
                        str(config.get("bar_spec", "1-MINUTE-LAST")),
                        str(config.get("market_data", "bars")),
                    ),
                    strategy_id=strategy_id,
                    instrument_id=instrument_id,
                    algorithm=str(config["algorithm"]),
                    side="buy" if config["side"] == "buy" else "sell",
                    total_quantity=float(config["total_quantity"]),
                    horizon_minutes=int(config.get("horizon_minutes", 60)),
                )
            )
    return out
