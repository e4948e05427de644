"""A chunk of a bars table becomes the bar reader's ``RawBarColumns`` per instrument: driver
cells (datetimes, Decimals, NULLs, text) parsed by the CSV rules, rows numbered in the read,
unmapped instruments rejected with their row, and the shared validation judging the rest."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from quantdesk.adapters.sources.table_bars import raw_bars
from quantdesk.adapters.sources.table_cells import SourceChunk
from quantdesk.domain.instruments import AssetClass, InstrumentSpec
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.bar_validation import validate_bars
from quantdesk.services.columns import TimestampStatus

START = datetime(2024, 1, 2, tzinfo=UTC)
START_NS = int(START.timestamp()) * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000


def mapping(**change: Any) -> SourceMapping:
    return SourceMapping.model_validate(
        {
            "name": "bars",
            "kind": "bars",
            "table": "bars",
            "bar_spec": "1-MINUTE-LAST",
            "timestamp": {"column": "ts"},
            "instrument": {"column": "symbol", "ids": {"A": "A.XNAS", "B": "B.XNAS"}},
            **change,
        }
    )


def chunk(rows: list[tuple[Any, ...]], first_row: int = 11) -> SourceChunk:
    names = ["ts", "open", "high", "low", "close", "volume", "symbol"]
    columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
    return SourceChunk(columns=columns, first_row=first_row)


def bar(minute: int, symbol: Any, close: Any = Decimal("10.5")) -> tuple[Any, ...]:
    ts = START + timedelta(minutes=minute)
    return (ts, Decimal("10"), Decimal("11"), Decimal("9.5"), close, 100, symbol)


def test_rows_are_split_by_instrument_and_numbered_in_the_read() -> None:
    raw, rejected = raw_bars(
        chunk([bar(0, "A"), bar(0, "B"), bar(1, "A"), bar(1, "Z"), bar(2, None)]), mapping()
    )
    assert sorted(raw) == ["A.XNAS", "B.XNAS"]
    a = raw["A.XNAS"]
    assert a.source_row.tolist() == [11, 13]
    assert a.ts_ns.tolist() == [START_NS, START_NS + MINUTE_NS]
    assert a.ts_status.tolist() == [TimestampStatus.OK] * 2
    assert a.values.close.tolist() == [10.5, 10.5] and a.values.volume.tolist() == [100.0, 100.0]
    assert raw["B.XNAS"].source_row.tolist() == [12]
    assert [(r.row, r.value, r.reason) for r in rejected] == [
        (14, "Z", RejectReason.INSTRUMENT_UNMAPPED),
        (15, "NULL", RejectReason.INSTRUMENT_UNMAPPED),
    ]


def test_cells_that_are_not_numbers_are_rejected_quoting_them() -> None:
    raw, _ = raw_bars(chunk([bar(0, "A", "abc"), bar(1, "A", None), bar(2, "A")]), mapping())
    a = raw["A.XNAS"]
    assert np.isnan(a.values.close[:2]).all() and a.text_of("close", 0) == "abc"
    assert a.text_of("close", 1) == "NULL"
    spec = InstrumentSpec(
        instrument_id="A.XNAS", asset_class=AssetClass.EQUITY, currency="USD", tick_size="0.01"
    )
    judged = validate_bars(a, spec)
    assert judged.source_row.tolist() == [13]
    assert [(r.row, r.field, r.value, r.reason) for r in judged.rejections] == [
        (11, "close", "abc", RejectReason.VALUE_NOT_A_NUMBER),
        (12, "close", "NULL", RejectReason.VALUE_NOT_A_NUMBER),
    ]


def test_naive_times_need_a_declared_zone() -> None:
    naive = [(datetime(2024, 1, 2, 10, 0), 1, 1, 1, 1, 1, "A")]
    refused, _ = raw_bars(chunk(naive), mapping())
    assert refused["A.XNAS"].ts_status.tolist() == [TimestampStatus.NO_TIMEZONE]
    berlin, _ = raw_bars(chunk(naive), mapping(timestamp={"column": "ts", "zone": "Europe/Berlin"}))
    assert berlin["A.XNAS"].ts_status.tolist() == [TimestampStatus.OK]
    assert berlin["A.XNAS"].ts_ns.tolist() == [START_NS + 9 * 60 * MINUTE_NS]  # 10:00 CET


def test_integer_epochs_take_the_mapping_unit_and_a_fixed_instrument() -> None:
    rows = [(START_NS // 1_000_000, 1, 1, 1, 1, 1, "ignored"), ("x", 1, 1, 1, 1, 1, "ignored")]
    raw, rejected = raw_bars(
        chunk(rows, first_row=1),
        mapping(timestamp={"column": "ts", "unit": "ms"}, instrument={"instrument_id": "A.XNAS"}),
    )
    assert rejected == [] and list(raw) == ["A.XNAS"]
    assert raw["A.XNAS"].ts_ns.tolist()[0] == START_NS
    assert raw["A.XNAS"].ts_status.tolist()[1] == TimestampStatus.UNPARSEABLE
