"""Execution quality of a parent order: what it paid against the market it traded in.

Prices are compared in basis points of the reference, signed so that a positive number is a
cost: a buy above its reference or a sell below it. The references are the arrival price
(the market when the parent started: its first bar's close) and the interval VWAP (the
volume-weighted close of the bars of the execution window).
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BPS = 10_000.0


def cost_bps(price: float, reference: float, side: Literal["buy", "sell"]) -> float:
    """``price`` against ``reference`` in bps of the reference; positive = it cost."""
    sign = 1.0 if side == "buy" else -1.0
    return sign * (price - reference) / reference * BPS


class ExecutionQuality(BaseModel):
    """One parent order (one execution strategy in one instrument) over its window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_id: str
    instrument_id: str
    algorithm: str
    side: Literal["buy", "sell"]
    total_quantity: float
    start_ns: int = Field(description="the parent's start: its first bar's close time")
    end_ns: int = Field(description="the window's last bar: the horizon's end or the data's")
    filled_quantity: float
    filled_share: float = Field(description="filled / total_quantity")
    fills: int
    orders: int = Field(description="child orders that filled at least in part")
    average_price: float | None = Field(description="volume-weighted fill price; None: no fill")
    arrival_price: float
    interval_vwap: float | None = Field(description="None: no volume in the window")
    vs_arrival_bps: float | None
    vs_vwap_bps: float | None
    market_volume: float = Field(description="volume of the window's bars")
    participation: float | None = Field(description="filled / market volume; None: no volume")
