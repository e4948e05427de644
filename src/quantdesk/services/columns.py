"""Columnar market data handed across ports: numpy arrays, one per field, row-aligned.

Columns, not objects, because ingest validates a million rows at a time and a Python object
per row would cost more than the engine's own write.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from quantdesk.domain.market_data import Rejection
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS

Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]
UInt8Array = npt.NDArray[np.uint8]
BoolArray = npt.NDArray[np.bool_]

PRICE_FIELDS = ("open", "high", "low", "close")
VALUE_FIELDS = (*PRICE_FIELDS, "volume")


@dataclass(frozen=True, eq=False)
class BarColumns:
    """Bars at their close time (``ts_ns``), prices as floats at instrument precision."""

    ts_ns: Int64Array
    open: Float64Array
    high: Float64Array
    low: Float64Array
    close: Float64Array
    volume: Float64Array

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def field(self, name: str) -> Float64Array:
        value: Float64Array = getattr(self, name)
        return value

    def take(self, selector: BoolArray | Int64Array) -> "BarColumns":
        if selector.dtype == np.bool_ and len(selector) == len(self) and bool(selector.all()):
            # every row (a batch all new, all kept): a copy, quicker than the mask
            return BarColumns(*(getattr(self, n).copy() for n in ("ts_ns", *VALUE_FIELDS)))
        return BarColumns(
            ts_ns=self.ts_ns[selector],
            open=self.open[selector],
            high=self.high[selector],
            low=self.low[selector],
            close=self.close[selector],
            volume=self.volume[selector],
        )

    @classmethod
    def empty(cls) -> "BarColumns":
        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f)

    @classmethod
    def concat(cls, parts: list["BarColumns"]) -> "BarColumns":
        if not parts:
            return cls.empty()
        return cls(
            *(np.concatenate([getattr(p, n) for p in parts]) for n in ("ts_ns", *VALUE_FIELDS))
        )


class TimestampStatus(IntEnum):
    OK = 0
    UNPARSEABLE = 1
    NO_TIMEZONE = 2
    OUT_OF_RANGE = 3


def in_ts_range(ts_ns: Int64Array) -> BoolArray:
    """Where a column of ns timestamps lies in the valid range (``domain.time``)."""
    inside: BoolArray = (ts_ns >= TS_MIN_NS) & (ts_ns <= TS_MAX_NS)
    return inside


def scale_to_ns(counts: Int64Array, unit_ns: int) -> tuple[Int64Array, BoolArray]:
    """Whole counts of a unit (s, ms, ...) as ns, with where the result lies in range.

    The bounds are divided down instead of the counts multiplied up, so a count that would
    wrap int64 is caught instead of turning into a plausible date; out-of-range rows get 0.
    """
    lowest = -(-TS_MIN_NS // unit_ns)
    highest = TS_MAX_NS // unit_ns
    inside: BoolArray = (counts >= lowest) & (counts <= highest)
    ns: Int64Array = np.where(inside, counts, 0).astype(np.int64) * np.int64(unit_ns)
    return ns, inside


def shift_ns(ts_ns: Int64Array, delta_ns: int) -> tuple[Int64Array, BoolArray]:
    """Timestamps moved by ``delta_ns`` with where both ends lie in range (0 elsewhere)."""
    inside = in_ts_range(ts_ns) & (ts_ns >= TS_MIN_NS - delta_ns) & (ts_ns <= TS_MAX_NS - delta_ns)
    moved: Int64Array = np.where(inside, ts_ns, 0).astype(np.int64) + np.int64(delta_ns)
    return np.where(inside, moved, 0).astype(np.int64), inside


@dataclass(frozen=True, eq=False)
class RawBarColumns:
    """Bars as read from a source, before any rule is applied.

    Values that are not numbers are NaN; ``text_of(field, index)`` gives back the source's
    own text of a cell so a rejection can quote it. ``malformed`` holds the source lines that
    could not even be split into fields; they count as read and rejected.
    """

    source_row: Int64Array
    ts_ns: Int64Array
    ts_status: UInt8Array
    values: BarColumns
    text_of: Callable[[str, int], str]
    malformed: list[Rejection] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.source_row.shape[0])

    @classmethod
    def from_bars(cls, bars: BarColumns, *, first_row: int = 1) -> "RawBarColumns":
        """Wrap already-typed bars (synthetic data, the Python API) for validation."""
        n = len(bars)

        def text_of(field: str, index: int) -> str:
            source = bars.ts_ns if field == "timestamp" else bars.field(field)
            return repr(source[index].item())

        return cls(
            source_row=np.arange(first_row, first_row + n, dtype=np.int64),
            ts_ns=bars.ts_ns,
            ts_status=np.zeros(n, dtype=np.uint8),
            values=bars,
            text_of=text_of,
        )
