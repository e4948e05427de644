"""Property 29: stored data conforms to the engine's schemas.

Bars encoded from columns (``engine_arrow``) must be the very table the engine's own
serializer makes of ``Bar`` objects, value for value, schema and metadata included; and a
catalog file written with the catalog's compression reads back through the engine's catalog
as the same bars.
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import (
    FIXED_PRECISION,
    PRICE_MAX,
    QUANTITY_MAX,
    Price,
    Quantity,
)
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.catalog.parquet import _timestamps_to_filename
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from quantdesk.adapters.nautilus.engine_arrow import (
    RAW_BYTES,
    _raw_words,
    _times_scale,
    bar_table,
    fixed_point,
    write_catalog_file,
)
from quantdesk.services.columns import BarColumns

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-LAST-EXTERNAL"

prices = st.floats(
    min_value=-float(PRICE_MAX), max_value=float(PRICE_MAX), allow_nan=False, allow_subnormal=False
)
# values a row of text really holds: a whole number of the last decimal, sometimes half way
on_grid = st.tuples(st.integers(-(10**12), 10**12), st.sampled_from([0.0, 0.5, 0.25]))


def _raw(values: pa.FixedSizeBinaryArray) -> list[int]:
    data = values.buffers()[1].to_pybytes()
    return [
        int.from_bytes(data[i : i + RAW_BYTES], "little", signed=True)
        for i in range(0, len(data), RAW_BYTES)
    ]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.one_of(prices, on_grid), min_size=1, max_size=40),
    precision=st.integers(0, 9),
)
def test_fixed_point_equals_the_engines_price_raw(
    values: list[float | tuple[int, float]], precision: int
) -> None:
    # Property 29: stored data conforms to the engine's schemas
    floats = [v if isinstance(v, float) else (v[0] + v[1]) / 10**precision for v in values]
    floats = [v for v in floats if abs(v) <= float(PRICE_MAX)]
    if not floats:
        return
    encoded = _raw(fixed_point(np.array(floats), precision))
    assert encoded == [Price(v, precision).raw for v in floats]


@settings(max_examples=200, deadline=None)
@given(
    units=st.lists(st.integers(-(2**62) + 1, 2**62 - 1), min_size=1, max_size=20),
    scale=st.integers(1, 2**54 - 1),
)
@example(units=[-(2**50), 2**50], scale=2**14)  # the carry out of the low word: -(2^64)
def test_128_bit_product_equals_integer_arithmetic(units: list[int], scale: int) -> None:
    low, high = _times_scale(np.array(units, dtype=np.int64), scale)
    got = [int(lo) | (int(hi) << 64) for lo, hi in zip(low, high, strict=True)]
    assert got == [(u * scale) % 2**128 for u in units]


@settings(max_examples=200, deadline=None)
@given(
    bound=st.sampled_from([10**3, 10**9, 2**62 - 1]),
    data=st.data(),
    decimals=st.integers(0, FIXED_PRECISION),
)
@example(bound=10**3, data=None, decimals=FIXED_PRECISION)  # 999 x 10^16 > 2^63: the decimal
def test_raw_words_equal_integer_arithmetic(
    bound: int, data: st.DataObject | None, decimals: int
) -> None:
    # Property 29: stored data conforms to the engine's schemas (each way of encoding a
    # column, one int64 product or the 128-bit decimal, is the exact raw integer)
    units = (
        [-bound, 0, bound]
        if data is None
        else data.draw(st.lists(st.integers(-bound, bound), min_size=1, max_size=20))
    )
    scale = 10**decimals
    encoded = _raw_words(np.array(units, dtype=np.int64), scale).to_pybytes()
    got = [
        int.from_bytes(encoded[i : i + RAW_BYTES], "little", signed=True)
        for i in range(0, len(encoded), RAW_BYTES)
    ]
    assert got == [u * scale for u in units]


@st.composite
def bar_rows(draw: st.DrawFn) -> tuple[BarColumns, int, int]:
    price_precision = draw(st.integers(0, 9))
    size_precision = draw(st.integers(0, 8))
    n = draw(st.integers(1, 30))
    tick = 10.0**-price_precision
    limit = min(float(PRICE_MAX), 1e12)
    units = st.integers(1, int(limit / tick) if price_precision < 9 else 10**12)
    rows = []
    for _ in range(n):
        four = sorted(draw(st.lists(units, min_size=4, max_size=4)))
        low, o, c, high = four[0], four[1], four[2], four[3]
        if draw(st.booleans()):
            o, c = c, o
        rows.append((o, high, low, c))
    volume_units = st.integers(0, int(min(float(QUANTITY_MAX), 1e12) * 10**size_precision))
    volumes = [draw(volume_units) / 10**size_precision for _ in range(n)]
    start = draw(st.integers(0, 4_000_000_000_000_000_000))
    ts = start + np.cumsum(np.array(draw(st.lists(st.integers(1, 10**12), min_size=n, max_size=n))))
    scale = 10.0**price_precision
    columns = BarColumns(
        ts_ns=ts.astype(np.int64),
        open=np.array([float(r[0]) for r in rows]) / scale,
        high=np.array([float(r[1]) for r in rows]) / scale,
        low=np.array([float(r[2]) for r in rows]) / scale,
        close=np.array([float(r[3]) for r in rows]) / scale,
        volume=np.array(volumes, dtype=np.float64),
    )
    return columns, price_precision, size_precision


def _engine_bars(bars: BarColumns, price_precision: int, size_precision: int) -> list[Bar]:
    bar_type = BarType.from_str(BAR_TYPE)
    return [
        Bar(
            bar_type,
            Price(float(bars.open[i]), price_precision),
            Price(float(bars.high[i]), price_precision),
            Price(float(bars.low[i]), price_precision),
            Price(float(bars.close[i]), price_precision),
            Quantity(float(bars.volume[i]), size_precision),
            int(bars.ts_ns[i]),
            int(bars.ts_ns[i]),
        )
        for i in range(len(bars))
    ]


@settings(max_examples=150, deadline=None)
@given(case=bar_rows())
def test_bar_table_is_the_engines_own_serialisation(case: tuple[BarColumns, int, int]) -> None:
    # Property 29: stored data conforms to the engine's schemas
    bars, price_precision, size_precision = case
    ours = bar_table(
        bars,
        bar_type=BAR_TYPE,
        instrument_id="EUR/USD.SIM",
        price_precision=price_precision,
        size_precision=size_precision,
    )
    batch = ArrowSerializer.serialize_batch(
        _engine_bars(bars, price_precision, size_precision), data_cls=Bar
    )
    theirs = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    assert ours.schema.equals(theirs.schema, check_metadata=True)
    assert ours.equals(theirs)


def test_a_catalog_file_reads_back_through_the_engine(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    close = np.round(1.1 + np.cumsum(rng.normal(0, 1e-4, n)), 5)
    bars = BarColumns(
        ts_ns=(1_704_067_200_000_000_000 + 60_000_000_000 * np.arange(1, n + 1)).astype(np.int64),
        open=close,
        high=np.round(close + 0.0002, 5),
        low=np.round(close - 0.0002, 5),
        close=close,
        volume=np.round(rng.uniform(1, 1000, n)),
    )
    table = bar_table(
        bars, bar_type=BAR_TYPE, instrument_id="EUR/USD.SIM", price_precision=5, size_precision=0
    )
    catalog = ParquetDataCatalog(str(tmp_path))
    directory = Path(catalog._make_path(data_cls=Bar, identifier=BAR_TYPE))
    name = _timestamps_to_filename(int(bars.ts_ns[0]), int(bars.ts_ns[-1]))
    write_catalog_file(table, directory / name)
    back = catalog.bars([BAR_TYPE])
    assert back == _engine_bars(bars, 5, 0)
    assert [b.ts_init for b in back] == bars.ts_ns.tolist()
