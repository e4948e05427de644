"""Each ingest rule on its own, on hand-made columns."""

from decimal import Decimal

import numpy as np
import pytest

from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import RejectReason, ValueBounds
from quantdesk.domain.time import TS_MAX_NS, TS_MIN_NS
from quantdesk.services.bar_validation import off_increment, validate_bars
from quantdesk.services.columns import BarColumns, RawBarColumns, TimestampStatus

INSTRUMENT = InstrumentSpec(
    instrument_id="EUR/USD.SIM",
    asset_class=AssetClass.FX,
    currency="USD",
    base_currency="EUR",
    tick_size=Decimal("0.00001"),
    size_increment=Decimal("1"),
)


def raw(rows: list[tuple[int, float, float, float, float, float]], status=None) -> RawBarColumns:
    columns = list(zip(*rows, strict=True))
    bars = BarColumns(
        ts_ns=np.array(columns[0], dtype=np.int64),
        **{
            name: np.array(values, dtype=np.float64)
            for name, values in zip(
                ("open", "high", "low", "close", "volume"), columns[1:], strict=True
            )
        },
    )
    columns_raw = RawBarColumns.from_bars(bars, first_row=2)
    if status is not None:
        return RawBarColumns(
            source_row=columns_raw.source_row,
            ts_ns=columns_raw.ts_ns,
            ts_status=np.array(status, dtype=np.uint8),
            values=bars,
            text_of=columns_raw.text_of,
        )
    return columns_raw


GOOD = (1.10000, 1.10010, 1.09990, 1.10005, 1000.0)


def test_clean_rows_all_pass() -> None:
    result = validate_bars(raw([(1, *GOOD), (2, *GOOD), (3, *GOOD)]), INSTRUMENT)
    assert result.rejections == []
    assert result.bars.ts_ns.tolist() == [1, 2, 3]
    assert result.source_row.tolist() == [2, 3, 4]


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        ((1.1, 1.1001, 1.0999, float("nan"), 5.0), RejectReason.VALUE_NOT_A_NUMBER, "close"),
        ((1.1, float("inf"), 1.0999, 1.1, 5.0), RejectReason.VALUE_NOT_A_NUMBER, "high"),
        ((-1.1, 1.1001, 1.0999, 1.1, 5.0), RejectReason.PRICE_NOT_POSITIVE, "open"),
        ((1.1, 1.1001, 0.0, 1.1, 5.0), RejectReason.PRICE_NOT_POSITIVE, "low"),
        ((1.1, 1.0999, 1.0998, 1.1, 5.0), RejectReason.OHLC_INCONSISTENT, "high"),
        ((1.1, 1.1002, 1.1001, 1.1, 5.0), RejectReason.OHLC_INCONSISTENT, "low"),
        ((1.1, 1.1001, 1.0999, 1.1, -1.0), RejectReason.VOLUME_NEGATIVE, "volume"),
        ((1.100001, 1.1001, 1.0999, 1.1, 5.0), RejectReason.PRICE_PRECISION, "open"),
        ((1.1, 1.1001, 1.0999, 1.1, 5.5), RejectReason.VOLUME_PRECISION, "volume"),
    ],
)
def test_each_rule_names_its_reason_and_field(
    row: tuple[float, ...], reason: RejectReason, field: str
) -> None:
    result = validate_bars(raw([(1, *GOOD), (2, *row), (3, *GOOD)]), INSTRUMENT)
    assert [(r.row, r.reason, r.field) for r in result.rejections] == [(3, reason, field)]
    assert result.bars.ts_ns.tolist() == [1, 3]


def test_timestamp_statuses_become_rejections() -> None:
    rows = [(1, *GOOD), (2, *GOOD), (3, *GOOD)]
    status = [TimestampStatus.OK, TimestampStatus.UNPARSEABLE, TimestampStatus.NO_TIMEZONE]
    result = validate_bars(raw(rows, status), INSTRUMENT)
    assert [r.reason for r in result.rejections] == [
        RejectReason.TIMESTAMP_UNPARSEABLE,
        RejectReason.TIMESTAMP_NO_TIMEZONE,
    ]
    assert "--assume-utc" in result.rejections[1].detail


def test_duplicates_and_out_of_order_against_surviving_rows() -> None:
    rows = [(10, *GOOD), (10, *GOOD), (5, *GOOD), (20, *GOOD), (15, *GOOD), (30, *GOOD)]
    result = validate_bars(raw(rows), INSTRUMENT)
    assert [(r.row, r.reason) for r in result.rejections] == [
        (3, RejectReason.DUPLICATE_TIMESTAMP),
        (4, RejectReason.OUT_OF_ORDER),
        (6, RejectReason.OUT_OF_ORDER),
    ]
    assert result.bars.ts_ns.tolist() == [10, 20, 30]


def test_a_bad_row_does_not_shadow_the_order_of_later_rows() -> None:
    # row at ts=50 is rejected for its price, so ts=40 after it is still in order
    rows = [(10, *GOOD), (50, -1.0, 1.1, 1.0, 1.0, 1.0), (40, *GOOD)]
    result = validate_bars(raw(rows), INSTRUMENT)
    assert [r.reason for r in result.rejections] == [RejectReason.PRICE_NOT_POSITIVE]
    assert result.bars.ts_ns.tolist() == [10, 40]


def test_first_rule_broken_wins() -> None:
    # negative AND off-tick AND inconsistent: reported once, as not positive
    rows = [(1, -1.123456, 1.0, 2.0, 1.0, 1.0)]
    result = validate_bars(raw(rows), INSTRUMENT)
    assert [(r.reason, r.field) for r in result.rejections] == [
        (RejectReason.PRICE_NOT_POSITIVE, "open")
    ]


def test_rounding_is_opt_in_and_counted() -> None:
    rows = [(1, 1.100004, 1.100106, 1.099904, 1.100051, 10.4), (2, *GOOD)]
    strict = validate_bars(raw(rows), INSTRUMENT)
    assert [r.reason for r in strict.rejections] == [RejectReason.PRICE_PRECISION]
    rounded = validate_bars(raw(rows), INSTRUMENT, round_to_instrument=True)
    assert rounded.rejections == []
    assert rounded.rows_rounded == 1
    assert rounded.bars.open.tolist() == [1.1, 1.1]
    assert rounded.bars.high.tolist()[0] == 1.10011
    assert rounded.bars.volume.tolist() == [10.0, 1000.0]


def test_rounding_still_rejects_what_rounds_to_nothing() -> None:
    rows = [(1, 0.000001, 0.000002, 0.000001, 0.000001, 1.0)]
    result = validate_bars(raw(rows), INSTRUMENT, round_to_instrument=True)
    assert [r.reason for r in result.rejections] == [RejectReason.PRICE_NOT_POSITIVE]


def test_off_increment_tolerates_float_noise_only() -> None:
    values = np.array([1.57597, 46319.0, 0.3, 1.575971, 46319.05])
    assert off_increment(values, 0.00001).tolist() == [False, False, False, True, False]
    assert off_increment(values, 0.1).tolist() == [True, False, False, True, True]


MINUTE = 60_000_000_000
BOUNDS = ValueBounds(price_max=1e6, quantity_max=1e9)


def test_timestamps_outside_the_valid_range_are_rejected_per_row() -> None:
    lowest = np.iinfo(np.int64).min
    rows = [(lowest, *GOOD), (-1, *GOOD), (0, *GOOD), (TS_MAX_NS, *GOOD), (TS_MAX_NS + 1, *GOOD)]
    result = validate_bars(raw(rows), INSTRUMENT)
    assert [(r.row, r.reason, r.field) for r in result.rejections] == [
        (2, RejectReason.TIMESTAMP_OUT_OF_RANGE, "timestamp"),  # not a "duplicate" of a floor
        (3, RejectReason.TIMESTAMP_OUT_OF_RANGE, "timestamp"),
        (6, RejectReason.TIMESTAMP_OUT_OF_RANGE, "timestamp"),
    ]
    assert result.rejections[0].value == str(lowest)
    assert "2262-04-10" in result.rejections[0].detail
    assert result.bars.ts_ns.tolist() == [TS_MIN_NS, TS_MAX_NS]


def test_a_source_flagged_out_of_range_is_rejected_whatever_its_placeholder() -> None:
    rows = [(1, *GOOD), (0, *GOOD)]
    result = validate_bars(
        raw(rows, [TimestampStatus.OK, TimestampStatus.OUT_OF_RANGE]), INSTRUMENT
    )
    assert [(r.row, r.reason) for r in result.rejections] == [
        (3, RejectReason.TIMESTAMP_OUT_OF_RANGE)
    ]


def test_the_shift_to_the_close_is_range_checked() -> None:
    last_open = TS_MAX_NS - MINUTE
    rows = [(0, *GOOD), (last_open, *GOOD), (last_open + 1, *GOOD)]
    result = validate_bars(raw(rows), INSTRUMENT, shift_to_close_ns=MINUTE)
    assert [(r.row, r.reason) for r in result.rejections] == [
        (4, RejectReason.TIMESTAMP_OUT_OF_RANGE)
    ]
    assert result.bars.ts_ns.tolist() == [MINUTE, TS_MAX_NS]


@pytest.mark.parametrize("field", ["open", "high", "low", "close", "volume"])
def test_values_beyond_the_engine_limits_are_rejected_per_row(field: str) -> None:
    values = dict(zip(("open", "high", "low", "close", "volume"), GOOD, strict=True))
    values[field] = 2e9 if field == "volume" else 2e6  # checked before OHLC consistency
    result = validate_bars(
        raw([(1, *GOOD), (2, *values.values()), (3, *GOOD)]), INSTRUMENT, bounds=BOUNDS
    )
    assert [(r.row, r.reason, r.field) for r in result.rejections] == [
        (3, RejectReason.VALUE_TOO_LARGE, field)
    ]
    limit = "1000000000.0" if field == "volume" else "1000000.0"
    assert limit in result.rejections[0].detail
    assert result.bars.ts_ns.tolist() == [1, 3]


def test_values_at_the_engine_limits_pass() -> None:
    at_limit = (1e6, 1e6, 1e6, 1e6, 1e9)
    result = validate_bars(raw([(1, *at_limit)]), INSTRUMENT, bounds=BOUNDS)
    assert result.rejections == []


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        ((1e-10, 1.1001, 1e-10, 1.1, 5.0), RejectReason.PRICE_PRECISION, "open"),
        ((1.1, 1.1001, 1.0999, 1.1, 1e-10), RejectReason.VOLUME_PRECISION, "volume"),
    ],
)
def test_values_below_one_increment_are_not_stored_as_zero(
    row: tuple[float, ...], reason: RejectReason, field: str
) -> None:
    result = validate_bars(raw([(1, *row)]), INSTRUMENT)
    assert [(r.reason, r.field) for r in result.rejections] == [(reason, field)]
    assert "stored as 0" in result.rejections[0].detail


def test_rounding_a_price_below_one_tick_leaves_it_not_positive() -> None:
    result = validate_bars(
        raw([(1, 1e-10, 1.1001, 1e-10, 1.1, 5.0)]), INSTRUMENT, round_to_instrument=True
    )
    assert [(r.reason, r.field) for r in result.rejections] == [
        (RejectReason.PRICE_NOT_POSITIVE, "open")
    ]


def test_off_increment_counts_a_non_zero_value_below_one_increment() -> None:
    values = np.array([1e-10, -1e-10, 0.0, 0.004, 0.006, 0.01])
    assert off_increment(values, 0.01).tolist() == [True, True, False, True, True, False]


def test_every_reason_explains_itself_in_its_own_words() -> None:
    # What a user reads in rejects.csv, one row per rule, each quoting the numbers it used.
    statuses = [TimestampStatus.OK, TimestampStatus.UNPARSEABLE, TimestampStatus.NO_TIMEZONE]
    rows = [
        (10, *GOOD),
        (20, *GOOD),
        (30, *GOOD),
        (40, *GOOD),
        (50, 1.1, 1.1001, 1.0999, float("nan"), 5.0),
        (60, -1.1, 1.1001, 1.0999, 1.1, 5.0),
        (70, 2e6, 2e6, 1.0, 1.1, 5.0),
        (80, 1.1, 1.1, 1.1, 1.1, 2e9),
        (90, 1.1, 1.0999, 1.0998, 1.1, 5.0),
        (100, 1.1, 1.1001, 1.0999, 1.1, -1.0),
        (110, 1.100001, 1.1001, 1.0999, 1.1, 5.0),
        (120, 1.1, 1.1001, 1.0999, 1.1, 5.5),
        (130, 1.1, 1.1001, 1e-10, 1.1, 5.0),
        (140, 1.1, 1.1001, 1.0999, 1.1, 1e-10),
        (150, *GOOD),
        (150, *GOOD),
        (145, *GOOD),
    ]
    status = [*statuses, TimestampStatus.OUT_OF_RANGE, *[TimestampStatus.OK] * 13]
    result = validate_bars(raw(rows, status), INSTRUMENT, bounds=BOUNDS)
    assert [(r.row, r.field, r.detail) for r in result.rejections] == [
        (3, "timestamp", "not a timestamp in the declared format (ISO-8601 or epoch s/ms/us/ns)"),
        (4, "timestamp", "timestamp has no timezone; pass --assume-utc if the file is in UTC"),
        (
            5,
            "timestamp",
            "outside the valid range 1970-01-01 00:00:00 .. 2262-04-10 00:00:00 UTC "
            "(at the bar's close)",
        ),
        (6, "close", "close must be a finite number"),
        (7, "open", "open must be > 0"),
        (8, "open", "open is above the engine's largest price 1000000.0"),
        (9, "volume", "volume is above the engine's largest quantity 1000000000.0"),
        (
            10,
            "high",
            "need low <= min(open, close) <= max(open, close) <= high; "
            "got o=1.1 h=1.0999 l=1.0998 c=1.1",
        ),
        (11, "volume", "volume must be >= 0"),
        (
            12,
            "open",
            "not a multiple of the tick size 0.00001 of EUR/USD.SIM; pass --round to round it",
        ),
        (
            13,
            "volume",
            "more than 0 decimals (size precision of EUR/USD.SIM); pass --round to round it",
        ),
        (
            14,
            "low",
            "low is non-zero but below half the increment 1e-05 of EUR/USD.SIM: "
            "it would be stored as 0",
        ),
        (
            15,
            "volume",
            "volume is non-zero but below half the increment 1.0 of EUR/USD.SIM: "
            "it would be stored as 0",
        ),
        (17, "timestamp", "same timestamp as an earlier row"),
        (
            18,
            "timestamp",
            "earlier than a previous row at 1970-01-01T00:00:00.000000150Z; "
            "rows must be in time order",
        ),
    ]


HUNDREDTHS = INSTRUMENT.model_copy(update={"size_increment": Decimal("0.01")})


def test_passing_rows_keep_every_value_and_zero_volume_is_allowed() -> None:
    rows = [(1, 1.1, 1.1002, 1.0998, 1.1001, 0.0), (2, 1.1001, 1.1003, 1.0999, 1.1002, 7.0)]
    result = validate_bars(raw(rows), INSTRUMENT)
    assert result.rejections == []
    assert result.bars.open.tolist() == [1.1, 1.1001]
    assert result.bars.high.tolist() == [1.1002, 1.1003]
    assert result.bars.low.tolist() == [1.0998, 1.0999]
    assert result.bars.close.tolist() == [1.1001, 1.1002]
    assert result.bars.volume.tolist() == [0.0, 7.0]


def test_timestamps_one_nanosecond_apart_are_distinct() -> None:
    t = 1_700_000_000_000_000_000  # beyond float64's whole-ns precision
    result = validate_bars(raw([(t, *GOOD), (t + 1, *GOOD), (t + 2, *GOOD)]), INSTRUMENT)
    assert result.rejections == []
    assert result.bars.ts_ns.tolist() == [t, t + 1, t + 2]


def test_rounding_counts_each_row_whichever_field_was_rounded() -> None:
    rows = [
        (1, 1.000004, 1.1, 1.0, 1.05, 10.0),  # open only, by 0.4 of a tick
        (2, 1.0, 1.1, 1.0, 1.05, 10.4),  # volume only
        (3, 1.0, 1.1, 1.0, 1.050004, 10.0),  # close only
        (4, 1.0, 1.1, 1.0, 1.05, 10.0),  # nothing
    ]
    result = validate_bars(raw(rows), INSTRUMENT, round_to_instrument=True)
    assert result.rejections == []
    assert result.rows_rounded == 3


def test_size_precision_above_zero_sets_the_volume_increment() -> None:
    rows = [(1, *GOOD[:4], 0.25), (2, *GOOD[:4], 0.255), (3, *GOOD[:4], 1e-10)]
    result = validate_bars(raw(rows), HUNDREDTHS)
    assert [(r.row, r.reason) for r in result.rejections] == [
        (3, RejectReason.VOLUME_PRECISION),
        (4, RejectReason.VOLUME_PRECISION),
    ]
    assert "increment 0.01 of" in result.rejections[1].detail


@pytest.mark.parametrize(
    ("volume", "below_half"), [(0.4, True), (0.5, False), (1.5, False), (0.3, True)]
)
def test_below_half_an_increment_is_told_apart_from_off_the_increment(
    volume: float, below_half: bool
) -> None:
    result = validate_bars(raw([(1, *GOOD[:4], volume)]), INSTRUMENT)
    [rejection] = result.rejections
    assert rejection.reason is RejectReason.VOLUME_PRECISION
    assert ("stored as 0" in rejection.detail) is below_half


def test_float_noise_on_the_grid_is_stored_as_the_decimal_the_engine_keeps() -> None:
    # 1.1000500000000001 and 1000.0000000000001: a driver's or a file's rendering of
    # 1.10005 and 1000 (within float noise of the grid: valid); the engine stores the
    # decimal, so the validated bar must hold its nearest double, or a digest of what was
    # validated differs from a digest of what the catalog returns
    noisy = (1.1, 1.1001, 1.0999, 1.1000500000000001, 1000.0000000000001)
    assert noisy[3] != 1.10005 and noisy[4] != 1000.0
    result = validate_bars(raw([(1, *noisy)]), INSTRUMENT)
    assert result.rejections == []
    assert result.bars.close.tolist() == [1.10005]
    assert result.bars.volume.tolist() == [1000.0]
