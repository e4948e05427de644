"""The columnar record log behind a run's fills and positions: lossless, ordered, compact."""

import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain import record_log
from quantdesk.domain.backtest import FillRecord, PositionRecord
from quantdesk.domain.record_log import RecordLog, as_log

texts = st.one_of(st.sampled_from(["A", "B", "C.X", ""]), st.text(max_size=12))
fills = st.builds(
    FillRecord,
    ts_ns=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    strategy_id=texts,
    instrument_id=texts,
    order_id=texts,
    trade_id=texts,
    position_id=texts,
    side=st.sampled_from([1, -1]),
    quantity=st.floats(allow_nan=False),
    price=st.floats(allow_nan=False),
    commission=st.floats(allow_nan=False),
    commission_currency=texts,
    signal_id=st.one_of(st.none(), texts),
)


def fill(row: int, *, signal: bool = False) -> FillRecord:
    return FillRecord(
        ts_ns=1_600_000_000_000_000_000 + row,
        strategy_id=f"EmaCross-{row % 3}",
        instrument_id="AAPL.XNAS",
        order_id=f"O-20200101-{row:06d}",
        trade_id=f"T-{row}",
        position_id="AAPL.XNAS-EmaCross",
        side=1 if row % 2 else -1,
        quantity=100.0 + row,
        price=0.1 * row,
        commission=0.0,
        commission_currency="USD",
        signal_id=f"sig-{row}" if signal and row % 4 else None,
    )


# Property 7: nanosecond timestamps, deterministic event order -- the run's record keeps
# every fill, in order, with its integer-ns timestamp and every field exactly as recorded.
@settings(max_examples=200)
@given(st.lists(fills, max_size=40), st.integers(min_value=0, max_value=8))
def test_property_7_the_log_keeps_every_record_exactly_and_in_order(
    records: list[FillRecord], pack_after: int
) -> None:
    original = record_log._PACK_AFTER
    record_log._PACK_AFTER = pack_after  # small: the packed text form is exercised too
    try:
        log = RecordLog(FillRecord, records)
    finally:
        record_log._PACK_AFTER = original
    assert len(log) == len(records)
    assert list(log) == records
    assert [log[i] for i in range(-len(records), len(records))] == records + records
    assert log == records and log == RecordLog(FillRecord, records)
    assert list(log[1::2]) == records[1::2]
    for name in ("ts_ns", "order_id", "signal_id", "price"):
        assert log.column(name) == [getattr(r, name) for r in records]
    codes, values = log.encoded("instrument_id")
    assert [values[c] for c in codes] == [r.instrument_id for r in records]
    for value in {r.strategy_id for r in records} | {"absent"}:
        assert list(log.where("strategy_id", value)) == [
            r for r in records if r.strategy_id == value
        ]


def test_unique_ids_switch_to_packed_text_and_keep_nones() -> None:
    records = [fill(row, signal=True) for row in range(5_000)]
    log = RecordLog(FillRecord, records)
    assert list(log) == records
    assert log[4_999] == records[4_999] and log[0] == records[0]
    assert log.column("signal_id") == [r.signal_id for r in records]
    assert len(set(log.column("order_id"))) == 5_000


def test_columns_cost_a_fraction_of_the_records() -> None:
    def held(build: Callable[[], object]) -> int:
        """Bytes still allocated once ``build`` has returned (what a run would hold)."""
        gc.collect()
        tracemalloc.start()
        try:
            kept = build()
            size = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        del kept
        return size

    as_records = held(lambda: [fill(row) for row in range(20_000)])
    as_columns = held(lambda: RecordLog(FillRecord, (fill(row) for row in range(20_000))))
    assert as_columns < as_records / 3


def test_as_log_passes_a_log_through_and_copies_a_list() -> None:
    log = RecordLog(FillRecord, [fill(1)])
    assert as_log(FillRecord, log) is log
    copied = as_log(FillRecord, [fill(1), fill(2)])
    assert isinstance(copied, RecordLog) and list(copied) == [fill(1), fill(2)]
    assert as_log(PositionRecord, []) == []


def test_unsupported_fields_and_names_are_refused() -> None:
    @dataclass(frozen=True)
    class Odd:
        when: bytes

    with pytest.raises(TypeError, match="only int, float, str"):
        RecordLog(Odd)
    with pytest.raises(KeyError, match="no field 'nope'"):
        RecordLog(FillRecord).column("nope")
    with pytest.raises(TypeError, match="text field"):
        RecordLog(FillRecord).numbers("order_id")
    with pytest.raises(IndexError):
        RecordLog(FillRecord, [fill(1)])[1]


def test_append_values_takes_a_row_in_field_order() -> None:
    log = RecordLog(FillRecord)
    record = fill(3, signal=True)
    log.append_values(*(getattr(record, name) for name in FillRecord.__slots__))
    assert list(log) == [record]
    with pytest.raises(TypeError, match="has 14 fields"):
        log.append_values(1, "too few")
    assert len(log) == 1  # a refused row leaves no partial columns
