"""Bar columns into numbers: timestamps to nanoseconds with a status per cell, values to float.

No cell is dropped: one that does not parse is marked (timestamps) or NaN (values), for the
validation rules to reject with its reason.
"""

from collections.abc import Callable, Mapping
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from quantdesk.domain.market_data import BarIngestOptions, TimestampFormat
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS
from quantdesk.services.columns import (
    BoolArray,
    Float64Array,
    Int64Array,
    TimestampStatus,
    UInt8Array,
    in_ts_range,
    scale_to_ns,
)

_UNIT_NS = {
    TimestampFormat.SECONDS: 1_000_000_000,
    TimestampFormat.MILLISECONDS: 1_000_000,
    TimestampFormat.MICROSECONDS: 1_000,
    TimestampFormat.NANOSECONDS: 1,
}
_ARROW_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# A zone only counts after a time of day: "2024-03-01" ends in "-01", which is no offset.
_HAS_ZONE = r"[T ]\d{2}(?::?\d{2})*(?:[.,]\d+)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_EPOCH_TEXT = r"^\s*-?\d+(?:\.\d+)?\s*$"


def to_float(column: pa.ChunkedArray) -> Float64Array:
    """Numbers as float64; a cell that is not a number becomes NaN (rejected by the rules).

    Text is converted cell by cell, never by what its neighbours hold: plain decimals by
    Arrow (correctly rounded), anything else by pandas, so a chunk of a file reads exactly
    as the same rows of the whole file.
    """
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        values: Float64Array = column.to_numpy().astype(np.float64)  # nulls -> NaN
        return values
    text = column.cast(pa.string())
    try:
        return _as_floats(pc.cast(text, pa.float64()))
    except pa.ArrowInvalid:  # some cell is no plain decimal: sort them out
        pass
    trimmed = pc.utf8_trim_whitespace(text)
    plain = pc.fill_null(pc.match_substring_regex(trimmed, _PLAIN_DECIMAL), True)
    out = _as_floats(
        pc.cast(pc.if_else(plain, trimmed, pa.scalar(None, pa.string())), pa.float64())
    )
    other = np.flatnonzero(~np.asarray(plain.to_numpy(zero_copy_only=False), dtype=np.bool_))
    cells = pd.Series(pc.take(text, pa.array(other)).to_numpy(zero_copy_only=False), dtype=object)
    out[other] = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


_PLAIN_DECIMAL = r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$"


def _as_floats(column: pa.ChunkedArray | pa.Array) -> Float64Array:
    values: Float64Array = np.array(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    return values


def parse_timestamps(
    column: pa.ChunkedArray, options: BarIngestOptions
) -> tuple[Int64Array, UInt8Array]:
    """Nanoseconds since 1970 and, per cell, whether and why it is not a usable timestamp."""
    n = len(column)
    status = np.zeros(n, dtype=np.uint8)
    if pa.types.is_timestamp(column.type):
        counts = pc.fill_null(column.cast(pa.int64()), 0)  # in the column's own unit
        missing = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
        ts, inside = scale_to_ns(
            np.asarray(counts.to_numpy(), dtype=np.int64), _ARROW_UNIT_NS[column.type.unit]
        )
        if column.type.tz is None and not options.assume_utc:
            status[:] = TimestampStatus.NO_TIMEZONE
        status[~inside] = TimestampStatus.OUT_OF_RANGE
        status[missing] = TimestampStatus.UNPARSEABLE
        return ts, status
    fmt = options.timestamp_format
    numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
    if fmt is TimestampFormat.AUTO:
        if numeric or _all_epoch_text(column):
            return _epoch(column, None)  # unit from magnitude
        fmt = TimestampFormat.ISO
    if fmt is TimestampFormat.ISO:
        return _iso(column, options.assume_utc)
    return _epoch(column, _UNIT_NS[fmt])


def _all_epoch_text(column: pa.ChunkedArray) -> bool:
    text = column.cast(pa.string())
    valid = pc.drop_null(text)
    return len(valid) > 0 and bool(pc.all(pc.match_substring_regex(valid, _EPOCH_TEXT)).as_py())


def _epoch(column: pa.ChunkedArray, unit_ns: int | None) -> tuple[Int64Array, UInt8Array]:
    """Epoch counts as ns: whole counts exactly, fractional ones through float; range-checked."""
    integers, floats, valid, exact = _epoch_numbers(column)
    if unit_ns is None:
        unit_ns = _unit_from_magnitude(floats[valid])
    ts, inside = scale_to_ns(integers, unit_ns)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.where(valid & ~exact, floats, 0.0) * unit_ns
        in_float = (scaled >= TS_MIN_NS) & (scaled <= TS_MAX_NS)
        from_float = np.round(np.where(in_float, scaled, 0.0)).astype(np.int64)
    in_float &= in_ts_range(from_float)
    ts = np.where(exact, ts, np.where(in_float, from_float, 0)).astype(np.int64)
    inside = np.where(exact, inside, in_float)
    status = np.full(len(column), TimestampStatus.OK, dtype=np.uint8)
    status[valid & ~inside] = TimestampStatus.OUT_OF_RANGE
    status[~valid] = TimestampStatus.UNPARSEABLE
    return ts, status


def _epoch_numbers(
    column: pa.ChunkedArray,
) -> tuple[Int64Array, Float64Array, BoolArray, BoolArray]:
    """Epoch cells as (exact integers, floats, valid, exact): whole counts kept exactly."""
    if pa.types.is_integer(column.type):
        filled = pc.fill_null(column, 0)
        integers = np.asarray(filled.to_numpy(), dtype=np.int64)
        valid = ~np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
        floats = integers.astype(np.float64)
        exact = valid
    else:
        # Integer text is taken exactly: a float64 cannot hold every nanosecond epoch.
        whole, fits = _whole_numbers(column)
        if bool(fits.all()):  # the usual file: no float parse needed (the costly part)
            floats, valid = whole.astype(np.float64), fits
        else:
            floats = to_float(column)
            valid = np.isfinite(floats)
        exact = valid & (fits | ((floats == np.round(floats)) & (np.abs(floats) < 2.0**62)))
        integers = np.where(exact & ~fits, floats, 0).astype(np.int64)
        integers[fits] = whole[fits]  # int64 throughout: np.where would pass through float
        floats = np.where(fits, whole.astype(np.float64), floats)
    return integers, floats, valid, exact


def _whole_numbers(column: pa.ChunkedArray) -> tuple[Int64Array, BoolArray]:
    """Integer text parsed exactly where it fits int64, and where that is."""
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    short = pc.match_substring_regex(text, r"^-?\d{1,18}$")
    long = pc.and_(pc.match_substring_regex(text, r"^\d{19}$"), pc.less_equal(text, str(2**63 - 1)))
    fits = pc.fill_null(pc.or_(short, long), False)
    digits = pc.if_else(fits, text, "0").cast(pa.int64())
    mask: BoolArray = np.asarray(fits.to_numpy(zero_copy_only=False), dtype=np.bool_)
    return np.asarray(digits.to_numpy(), dtype=np.int64), mask


def _unit_from_magnitude(values: Float64Array) -> int:
    """Seconds, milliseconds, microseconds or nanoseconds since 1970, by size."""
    if values.size == 0:
        return 1
    magnitude = float(np.median(np.abs(values)))
    if magnitude < 1e11:
        return 1_000_000_000
    if magnitude < 1e14:
        return 1_000_000
    if magnitude < 1e17:
        return 1_000
    return 1


def _iso(column: pa.ChunkedArray, assume_utc: bool) -> tuple[Int64Array, UInt8Array]:
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    has_zone = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, _HAS_ZONE), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.bool_,
    )
    status = np.zeros(len(column), dtype=np.uint8)
    if not assume_utc:
        status[~has_zone] = TimestampStatus.NO_TIMEZONE
    ts = _iso_fast(text, has_zone)
    if ts is None:  # some cell does not parse: pandas marks exactly which ones
        strings = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_datetime(strings, format="ISO8601", utc=True, errors="coerce")
        failed = np.asarray(parsed.isna().to_numpy(), dtype=np.bool_)
        status[failed] = TimestampStatus.UNPARSEABLE
        for index in np.flatnonzero(failed).tolist():  # a real date, only not in ns?
            if _is_iso_date(strings.iloc[index]):
                status[index] = TimestampStatus.OUT_OF_RANGE
        ts = parsed.to_numpy(dtype="datetime64[ns]", na_value=np.datetime64(0, "ns")).view(np.int64)
    ts = ts.astype(np.int64)
    outside = ~in_ts_range(ts) & (status != TimestampStatus.UNPARSEABLE)
    status[outside] = TimestampStatus.OUT_OF_RANGE
    return np.where(outside, 0, ts).astype(np.int64), status


def _is_iso_date(text: object) -> bool:
    try:
        datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _iso_fast(text: pa.ChunkedArray, has_zone: npt.NDArray[np.bool_]) -> Int64Array | None:
    """Arrow's own parser, 50x quicker than pandas, when every cell is well formed."""
    if pc.any(pc.is_null(text)).as_py():
        return None
    zoned = bool(has_zone.all())
    if not zoned and bool(has_zone.any()):
        return None
    try:
        parsed = pc.cast(text, pa.timestamp("ns", tz="UTC" if zoned else None))
    except pa.ArrowInvalid:
        return None
    return np.asarray(parsed.cast(pa.int64()).to_numpy(), dtype=np.int64)


_MAGNITUDE_EDGES = np.array([1e11, 1e14, 1e17])  # the bounds of _unit_from_magnitude
_UNIT_FORMAT = {unit: fmt for fmt, unit in _UNIT_NS.items()}


class TimestampSurvey:
    """What ``auto`` decides from a whole timestamp column, gathered a chunk at a time.

    ``auto`` looks at every cell: epoch or ISO text, and the epoch unit from the median
    magnitude. The median is found exactly without keeping the values: only which side of
    the unit bounds it lies on matters, so counts, minimum and maximum per band suffice.
    """

    def __init__(self, options: BarIngestOptions) -> None:
        self._auto = options.timestamp_format is TimestampFormat.AUTO
        self._typed = False
        self._numeric = False
        self._epoch_text = True
        self._any_text = False
        self._counts = np.zeros(4, dtype=np.int64)
        self._low = np.full(4, np.inf)
        self._high = np.full(4, -np.inf)

    @property
    def needed(self) -> bool:
        return self._auto

    @property
    def settled(self) -> bool:
        """Whether the rest of the column can no longer change the outcome (one cell of
        text that is no epoch makes the whole column ISO)."""
        return not self._auto or self._typed or (not self._numeric and not self._epoch_text)

    def add(self, column: pa.ChunkedArray) -> None:
        if not self._auto:
            return
        self._typed = pa.types.is_timestamp(column.type)
        self._numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if self._typed:
            return
        if not self._numeric:
            valid = pc.drop_null(column.cast(pa.string()))
            if len(valid):
                self._any_text = True
                matches = pc.all(pc.match_substring_regex(valid, _EPOCH_TEXT)).as_py()
                self._epoch_text = self._epoch_text and bool(matches)
            if not self._epoch_text:
                return
        _, floats, valid_cells, _ = _epoch_numbers(column)
        magnitude = np.abs(floats[valid_cells])
        band = np.searchsorted(_MAGNITUDE_EDGES, magnitude, side="right")
        self._counts += np.bincount(band, minlength=4)
        for k in np.unique(band).tolist():
            values = magnitude[band == k]
            self._low[k] = min(self._low[k], float(values.min()))
            self._high[k] = max(self._high[k], float(values.max()))

    def resolve(self, options: BarIngestOptions) -> BarIngestOptions:
        """``options`` with ``auto`` replaced by what the whole column calls for."""
        if not self._auto or self._typed:
            return options
        if not (self._numeric or (self._epoch_text and self._any_text)):
            return options.model_copy(update={"timestamp_format": TimestampFormat.ISO})
        median = self._median()
        unit = 1 if median is None else _unit_from_magnitude(np.array([median]))
        return options.model_copy(update={"timestamp_format": _UNIT_FORMAT[unit]})

    def _median(self) -> float | None:
        n = int(self._counts.sum())
        if n == 0:
            return None  # no valid cell: nanoseconds, as for an empty column
        ends = np.cumsum(self._counts)
        lower = int(np.searchsorted(ends, (n - 1) // 2, side="right"))  # band of rank (n-1)//2
        upper = int(np.searchsorted(ends, n // 2, side="right"))
        if lower == upper:  # both middle values in one band: the median is in it too
            return float(self._low[lower])
        return float((self._high[lower] + self._low[upper]) / 2)


def text_lookup(cells: Mapping[str, pa.ChunkedArray]) -> Callable[[str, int], str]:
    """A field's cell as the file wrote it (``""`` for none), for a rejection's ``value``."""

    def text_of(field: str, index: int) -> str:
        column = cells.get(field)
        if column is None:
            return ""
        value = column[index].as_py()
        return "" if value is None else str(value)

    return text_of
