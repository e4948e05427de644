"""The ingest rules for bars, applied to whole columns at once.

Each row is judged by the first rule it breaks, in the order of ``RejectReason``, so every
rejected row carries exactly one reason and the counts by reason add up to the rows rejected.
"""

from dataclasses import dataclass

import numpy as np

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import Rejection, RejectReason, ValueBounds
from quantdesk.domain.time import ns_to_iso, ts_range_text
from quantdesk.services.columns import (
    PRICE_FIELDS,
    VALUE_FIELDS,
    BarColumns,
    BoolArray,
    Float64Array,
    Int64Array,
    RawBarColumns,
    TimestampStatus,
    shift_ns,
)
from quantdesk.services.verdicts import Verdicts

_FIELDS = ("timestamp", *VALUE_FIELDS)


@dataclass(frozen=True, eq=False)
class ValidatedBars:
    """The rows that passed (``bars``, with their ``source_row``) and why the others failed."""

    bars: BarColumns
    source_row: Int64Array
    rejections: list[Rejection]
    rows_rounded: int


def off_increment(values: Float64Array, increment: float) -> BoolArray:
    """True where a value is not a whole multiple of ``increment`` (beyond float noise).

    A non-zero value nearer to zero than to one increment counts as off too: it would be
    stored as zero, which is not what the file says.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 / 0.01: too large, judged
        steps = values / increment  # by the range check, not here (and no warning to print)
        whole = np.round(steps)
        error = np.abs(steps - whole)
    result: BoolArray = (error > np.maximum(1e-7, np.abs(steps) * 1e-13)) | (
        (whole == 0) & (values != 0)
    )
    return result


def round_to_increment(values: Float64Array, increment: float, precision: int) -> Float64Array:
    return on_grid(np.round(values / increment) * increment, precision)


def on_grid(values: Float64Array, places: int) -> Float64Array:
    """Valid values as the nearest double to their decimal at ``places`` (the value the
    engine stores and the catalog reads back): ``380591.00179999997`` at four places, float
    noise a file or a driver may carry, becomes ``380591.0018``. A whole number of the last
    place, divided once by a power of ten, is the correctly rounded double of the decimal."""
    scale = 10.0**places
    snapped: Float64Array = np.round(values * scale) / scale
    return snapped


def validate_bars(
    raw: RawBarColumns,
    instrument: InstrumentSpec,
    *,
    bounds: ValueBounds | None = None,
    shift_to_close_ns: int = 0,
    round_to_instrument: bool = False,
    previous_ts: int | None = None,
) -> ValidatedBars:
    """Judge every row; ``shift_to_close_ns`` moves open-stamped rows to their bar's close.

    The shift happens here, range-checked, so that a row it would carry past the valid range
    is rejected like any other and the returned bars are stamped at the close.
    ``previous_ts`` is the latest surviving timestamp of the rows before these (a file read
    in chunks): ordering and duplicates are judged across the boundary as within a chunk.
    """
    n = len(raw)
    verdicts = Verdicts(n, _FIELDS)
    verdicts.reject(raw.ts_status == TimestampStatus.UNPARSEABLE, _UNPARSEABLE, "timestamp")
    verdicts.reject(raw.ts_status == TimestampStatus.NO_TIMEZONE, _NO_TZ, "timestamp")
    ts_ns, in_range = shift_ns(raw.ts_ns, shift_to_close_ns)
    out_of_range = ~in_range | (raw.ts_status == TimestampStatus.OUT_OF_RANGE)
    verdicts.reject(out_of_range, RejectReason.TIMESTAMP_OUT_OF_RANGE, "timestamp")

    values = {name: raw.values.field(name) for name in VALUE_FIELDS}
    for name in VALUE_FIELDS:
        verdicts.reject(~np.isfinite(values[name]), RejectReason.VALUE_NOT_A_NUMBER, name)

    tick = float(instrument.tick_size)
    size_step = 10.0**-instrument.size_precision
    rounded_rows = np.zeros(n, dtype=np.bool_)
    if round_to_instrument:
        with np.errstate(invalid="ignore"):
            for name in PRICE_FIELDS:
                rounded = round_to_increment(values[name], tick, instrument.price_precision)
                rounded_rows |= np.abs(rounded - values[name]) > tick * 1e-6
                values[name] = rounded
            rounded_volume = round_to_increment(
                values["volume"], size_step, instrument.size_precision
            )
            rounded_rows |= np.abs(rounded_volume - values["volume"]) > size_step * 1e-6
            values["volume"] = rounded_volume

    with np.errstate(invalid="ignore"):
        for name in PRICE_FIELDS:
            verdicts.reject(values[name] <= 0, RejectReason.PRICE_NOT_POSITIVE, name)
        if bounds is not None:
            for name in VALUE_FIELDS:
                limit = bounds.quantity_max if name == "volume" else bounds.price_max
                verdicts.reject(values[name] > limit, RejectReason.VALUE_TOO_LARGE, name)
        body_top = np.maximum(values["open"], values["close"])
        body_bottom = np.minimum(values["open"], values["close"])
        verdicts.reject(body_top > values["high"], RejectReason.OHLC_INCONSISTENT, "high")
        verdicts.reject(values["low"] > body_bottom, RejectReason.OHLC_INCONSISTENT, "low")
        verdicts.reject(values["volume"] < 0, RejectReason.VOLUME_NEGATIVE, "volume")
        if not round_to_instrument:
            for name in PRICE_FIELDS:
                verdicts.reject(off_increment(values[name], tick), _PRICE_PRECISION, name)
            verdicts.reject(
                off_increment(values["volume"], size_step), RejectReason.VOLUME_PRECISION, "volume"
            )

    floor = _FLOOR if previous_ts is None else previous_ts
    _reject_out_of_order(ts_ns, verdicts, floor)

    alive = verdicts.alive
    price_places, size_places = instrument.price_precision, instrument.size_precision
    bars = BarColumns(
        ts_ns=ts_ns[alive],
        open=on_grid(values["open"][alive], price_places),
        high=on_grid(values["high"][alive], price_places),
        low=on_grid(values["low"][alive], price_places),
        close=on_grid(values["close"][alive], price_places),
        volume=on_grid(values["volume"][alive], size_places),
    )
    return ValidatedBars(
        bars=bars,
        source_row=raw.source_row[alive],
        rejections=_describe(raw, ts_ns, verdicts, values, _Context(instrument, bounds, floor)),
        rows_rounded=int(np.count_nonzero(rounded_rows & alive)),
    )


_LIMIT_NAME = ("price", "quantity")
_PRECISION = (RejectReason.PRICE_PRECISION, RejectReason.VOLUME_PRECISION)


def _increment(field: str, instrument: InstrumentSpec) -> float:
    return 10.0**-instrument.size_precision if field == "volume" else float(instrument.tick_size)


_UNPARSEABLE = RejectReason.TIMESTAMP_UNPARSEABLE
_NO_TZ = RejectReason.TIMESTAMP_NO_TIMEZONE
_PRICE_PRECISION = RejectReason.PRICE_PRECISION


_FLOOR = int(np.iinfo(np.int64).min)


def previous_max(ts_ns: Int64Array, alive: BoolArray, floor: int) -> Int64Array:
    """For each row, the latest timestamp of the surviving rows before it (``floor`` first)."""
    previous: Int64Array = np.full(len(ts_ns), floor, dtype=np.int64)
    if len(ts_ns) > 1:
        np.maximum(
            np.maximum.accumulate(np.where(alive, ts_ns, floor))[:-1], floor, out=previous[1:]
        )
    return previous


def _reject_out_of_order(ts_ns: Int64Array, verdicts: Verdicts, floor: int) -> None:
    """A row must be later than every earlier surviving row (strictly increasing)."""
    alive = verdicts.alive
    previous = previous_max(ts_ns, alive, floor)
    verdicts.reject(alive & (ts_ns == previous), RejectReason.DUPLICATE_TIMESTAMP, "timestamp")
    verdicts.reject(alive & (ts_ns < previous), RejectReason.OUT_OF_ORDER, "timestamp")


@dataclass(frozen=True)
class _Context:
    instrument: InstrumentSpec
    bounds: ValueBounds | None
    floor: int


def _describe(
    raw: RawBarColumns,
    ts_ns: Int64Array,
    verdicts: Verdicts,
    values: dict[str, Float64Array],
    context: _Context,
) -> list[Rejection]:
    rejected = np.flatnonzero(~verdicts.alive)
    if rejected.size == 0:
        return []
    latest = previous_max(ts_ns, verdicts.alive, context.floor)
    return verdicts.rejections(
        raw.source_row,
        raw.text_of,
        lambda index, reason, field: _detail(
            reason, field, index, values, context, int(latest[index])
        ),
    )


def _detail(
    reason: RejectReason,
    field: str,
    index: int,
    values: dict[str, Float64Array],
    context: _Context,
    previous_ts: int,
) -> str:
    instrument = context.instrument
    if reason is RejectReason.TIMESTAMP_UNPARSEABLE:
        return "not a timestamp in the declared format (ISO-8601 or epoch s/ms/us/ns)"
    if reason is RejectReason.TIMESTAMP_NO_TIMEZONE:
        return "timestamp has no timezone; pass --assume-utc if the file is in UTC"
    if reason is RejectReason.TIMESTAMP_OUT_OF_RANGE:
        return f"outside the valid range {ts_range_text()} (at the bar's close)"
    if reason is RejectReason.VALUE_NOT_A_NUMBER:
        return f"{field} must be a finite number"
    if reason is RejectReason.PRICE_NOT_POSITIVE:
        return f"{field} must be > 0"
    if reason is RejectReason.VALUE_TOO_LARGE:
        bounds = context.bounds
        assert bounds is not None
        limit = bounds.quantity_max if field == "volume" else bounds.price_max
        return f"{field} is above the engine's largest {_LIMIT_NAME[field == 'volume']} {limit!r}"
    if reason is RejectReason.OHLC_INCONSISTENT:
        o, h, lo, c = (float(values[f][index]) for f in PRICE_FIELDS)
        return (
            "need low <= min(open, close) <= max(open, close) <= high; "
            f"got o={o} h={h} l={lo} c={c}"
        )
    if reason is RejectReason.VOLUME_NEGATIVE:
        return "volume must be >= 0"
    if (
        reason in _PRECISION
        and abs(float(values[field][index])) < _increment(field, instrument) / 2
    ):
        return (
            f"{field} is non-zero but below half the increment {_increment(field, instrument)!r}"
            f" of {instrument.instrument_id}: it would be stored as 0"
        )
    if reason is RejectReason.PRICE_PRECISION:
        return (
            f"not a multiple of the tick size {instrument.tick_size} of "
            f"{instrument.instrument_id}; pass --round to round it"
        )
    if reason is RejectReason.VOLUME_PRECISION:
        return (
            f"more than {instrument.size_precision} decimals (size precision of "
            f"{instrument.instrument_id}); pass --round to round it"
        )
    if reason is RejectReason.DUPLICATE_TIMESTAMP:
        return "same timestamp as an earlier row"
    return f"earlier than a previous row at {ns_to_iso(previous_ts)}; rows must be in time order"
