"""The bar reader on arbitrary files: it reads them or refuses them by name, nothing else.

Random bytes (as CSV, gzip'd CSV and Parquet), CSV text built from hostile cells, and real
Parquet files of random column names and types (lists, structs, maps, dates, binary, ...).
"""

import datetime
import decimal
import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMES = ["timestamp", "open", "high", "low", "close", "volume", "note"]
CELLS = st.sampled_from(
    ["2024-01-03T00:01:00Z", "1704240060", "100", "-1", "1e999", "nan", "", '"', '""', "\x00",
     "\xff", "é", ",", "\n", "\r", "2024-13-45", "9" * 30, "true"]
)  # fmt: skip
KINDS: dict[str, tuple[pa.DataType, object]] = {
    "int": (pa.int64(), 1_704_240_060),
    "float": (pa.float64(), 100.5),
    "text": (pa.string(), "2024-01-03T00:01:00Z"),
    "bool": (pa.bool_(), True),
    "timestamp": (pa.timestamp("ns", tz="UTC"), 1_704_240_060_000_000_000),
    "naive": (pa.timestamp("s"), 1_704_240_060),
    "date": (pa.date32(), datetime.date(2024, 1, 3)),
    "decimal": (pa.decimal128(10, 2), decimal.Decimal("100.25")),
    "binary": (pa.binary(), b"\xff\x00"),
    "null": (pa.null(), None),
    "list": (pa.list_(pa.int64()), [1, 2]),
    "struct": (pa.struct([("a", pa.int64())]), {"a": 1}),
    "map": (pa.map_(pa.string(), pa.int64()), [("k", 1)]),
    "uint64": (pa.uint64(), 2**64 - 1),
    "float16": (pa.float16(), None),
    "large_text": (pa.large_string(), "1704240060"),
    "duration": (pa.duration("s"), 60),
    "time": (pa.time64("us"), datetime.time(0, 1)),
}


def outcome(path: Path, options: BarIngestOptions) -> None:
    """Either read or a SourceReadError that names the file: any other exception fails."""
    try:
        BarFileSource().read_bars(path, options)
    except SourceReadError as error:
        assert error.message.startswith(str(path)) or str(path) in error.message, error.message


@FUZZ
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".csv.gz", ".parquet"]))
def test_random_bytes_are_read_or_refused(tmp_path: Path, content: bytes, suffix: str) -> None:
    # Property: no byte string makes the reader raise anything but a named SourceReadError.
    path = tmp_path / f"bars{suffix}"
    path.write_bytes(content)
    outcome(path, BarIngestOptions())


@FUZZ
@given(
    header=st.lists(st.sampled_from(NAMES), min_size=1, max_size=8),
    rows=st.lists(st.lists(CELLS, max_size=9), max_size=6),
    zipped=st.booleans(),
)
def test_hostile_csv_is_read_or_refused(
    tmp_path: Path, header: list[str], rows: list[list[str]], zipped: bool
) -> None:
    # Property: duplicate or missing columns, ragged rows, NULs, quotes, bad UTF-8 and
    # huge numbers end in rows (accepted or rejected) or a named SourceReadError.
    text = "\n".join([",".join(header), *(",".join(row) for row in rows)]) + "\n"
    data = text.encode("utf-8", errors="surrogateescape")
    path = tmp_path / ("bars.csv.gz" if zipped else "bars.csv")
    path.write_bytes(gzip.compress(data) if zipped else data)
    outcome(path, BarIngestOptions(default_volume=1.0))


@FUZZ
@given(
    columns=st.lists(
        st.tuples(st.sampled_from(NAMES), st.sampled_from(list(KINDS))), min_size=1, max_size=8
    ),
    rows=st.integers(min_value=0, max_value=3),
    nulls=st.booleans(),
)
def test_parquet_of_any_column_types_is_read_or_refused(
    tmp_path: Path, columns: list[tuple[str, str]], rows: int, nulls: bool
) -> None:
    # Property: any schema (duplicate names, nested or odd types, nulls, no rows) is read
    # or refused with a named SourceReadError.
    arrays = []
    for _, kind in columns:
        kind_type, value = KINDS[kind]
        values = [None if nulls and i % 2 else value for i in range(rows)]
        arrays.append(pa.array(values, type=kind_type))
    path = tmp_path / "bars.parquet"
    pq.write_table(pa.Table.from_arrays(arrays, names=[n for n, _ in columns]), path)
    outcome(path, BarIngestOptions(default_volume=1.0))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_fuzz_can_fail(tmp_path: Path, suffix: str) -> None:
    """A file the reader accepts reads to rows: the properties are not vacuous."""
    path = tmp_path / f"bars{suffix}"
    if suffix == ".csv":
        path.write_text("timestamp,open,high,low,close,volume\n2024-01-03T00:01:00Z,1,2,0.5,1,1\n")
    else:
        pq.write_table(pa.table({n: [1.0] for n in NAMES[1:6]} | {"timestamp": [1]}), path)
    assert len(BarFileSource().read_bars(path, BarIngestOptions()).ts_ns) == 1
