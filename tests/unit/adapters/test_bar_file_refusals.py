"""Files the bar reader cannot use are refused by name (file, column, type), never a crash.

Each case is a file a careless or hostile author can hand over; before the guard each one
ended in a pyarrow or csv traceback.
"""

import datetime
import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions

HEADER = "timestamp,open,high,low,close,volume\n"
ROW = "2024-01-03T00:01:00Z,100,101,99,100,10\n"
VALUES = {"open": [100.0], "high": [101.0], "low": [99.0], "close": [100.0], "volume": [10.0]}


def parquet(**columns: pa.Array | list[object]) -> bytes:
    table = pa.table({"timestamp": ["2024-01-03T00:01:00Z"], **VALUES, **columns})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def parquet_with_two(name: str) -> bytes:
    table = pa.table({"timestamp": ["2024-01-03T00:01:00Z"], **VALUES})
    doubled = pa.Table.from_arrays(
        [*table.columns, table.column(name)], names=[*table.column_names, name]
    )
    buffer = io.BytesIO()
    pq.write_table(doubled, buffer)
    return buffer.getvalue()


def gzipped(text: bytes) -> bytes:
    return gzip.compress(text)


CASES: dict[str, tuple[str, Callable[[], bytes], tuple[str, ...]]] = {
    # name: (file name, content, what the message must name)
    "csv duplicate header column": (
        "bars.csv",
        lambda: b"timestamp,open,open,high,low,close,volume\n2024-01-03T00:01:00Z,1,1,2,0.5,1,1\n",
        ("'open'", "2 times", "columns 2, 3"),
    ),
    "csv duplicate timestamp column": (
        "bars.csv",
        lambda: (HEADER.rstrip() + ",timestamp\n" + ROW.rstrip() + ",x\n").encode(),
        ("'timestamp'", "2 times"),
    ),
    "parquet duplicate column": ("bars.parquet", lambda: parquet_with_two("close"), ("'close'",)),
    "parquet list timestamp": (
        "bars.parquet",
        lambda: parquet(timestamp=[[1_704_240_060_000_000_000]]),
        ("'timestamp'", "list<element: int64>"),
    ),
    "parquet struct timestamp": (
        "bars.parquet",
        lambda: parquet(timestamp=[{"ns": 1}]),
        ("'timestamp'", "struct<ns: int64>"),
    ),
    "parquet map timestamp": (
        "bars.parquet",
        lambda: parquet(timestamp=pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64()))),
        ("'timestamp'", "map<string, int64"),
    ),
    "parquet date timestamp": (
        "bars.parquet",
        lambda: parquet(timestamp=[datetime.date(2024, 1, 3)]),
        ("'timestamp'", "date32[day]"),
    ),
    "parquet binary timestamp": (
        "bars.parquet",
        lambda: parquet(timestamp=[b"\xff\xfe"]),
        ("'timestamp'", "binary"),
    ),
    "parquet list value": (
        "bars.parquet",
        lambda: parquet(open=[[100.0]]),
        ("'open'", "list<element: double>"),
    ),
    "parquet struct value": (
        "bars.parquet",
        lambda: parquet(volume=[{"v": 1.0}]),
        ("'volume'", "struct<v: double>"),
    ),
    "not parquet": ("bars.parquet", lambda: b"timestamp,open\n1,2\n", ("Parquet",)),
    "empty parquet": ("bars.parquet", lambda: b"", ("0 bytes",)),
    "truncated parquet": ("bars.parquet", lambda: parquet()[:-30], ("cannot be read",)),
    "empty csv": ("bars.csv", lambda: b"", ("empty file",)),
    "csv not utf-8": ("bars.csv", lambda: HEADER.encode() + b"\xff\xfe,1,2,0.5,1\n", ("utf-8",)),
    "csv header not utf-8": ("bars.csv", lambda: b"time\xffstamp,open\n", ("utf-8",)),
    "csv field over the csv module's limit": (
        "bars.csv",
        lambda: (HEADER + ROW + "2024-01-03T00:02:00Z,1," + "9" * 200_000 + "\n").encode(),
        ("field limit",),
    ),
    "not gzip": ("bars.csv.gz", lambda: b"plain text", ("gzip",)),
    "truncated gzip": ("bars.csv.gz", lambda: gzipped((HEADER + ROW).encode())[:20], ("ended",)),
    "a directory named .parquet": ("bars.parquet", lambda: b"", ("directory",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_unusable_bar_file_is_refused_by_name(tmp_path: Path, case: str) -> None:
    name, content, needles = CASES[case]
    path = tmp_path / name
    if case.startswith("a directory"):
        path.mkdir()
    else:
        path.write_bytes(content())
    with pytest.raises(SourceReadError) as raised:
        BarFileSource().read_bars(path, BarIngestOptions())
    message = raised.value.message
    assert message.startswith(f"{path}:"), message
    assert "\n" not in message
    for needle in needles:
        assert needle.lower() in message.lower(), (needle, message)
    assert raised.value.hint


def test_dictionary_encoded_parquet_columns_are_read(tmp_path: Path) -> None:
    """Categorical text, as pandas writes it, is a scalar column: read, not refused."""
    path = tmp_path / "bars.parquet"
    path.write_bytes(parquet(timestamp=pa.array(["2024-01-03T00:01:00Z"]).dictionary_encode()))
    result = BarFileSource().read_bars(path, BarIngestOptions())
    assert result.ts_ns.tolist() == [1_704_240_060_000_000_000]


def test_a_duplicate_column_the_ingest_does_not_read_is_no_obstacle(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text(HEADER.rstrip() + ",note,note\n" + ROW.rstrip() + ",a,b\n")
    assert BarFileSource().read_bars(path, BarIngestOptions()).values.close.tolist() == [100.0]


def test_a_nul_byte_is_a_rejected_row_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_bytes((HEADER + ROW).encode() + b"2024-01-03T00:02:00Z,1,2\x00,0\n")
    result = BarFileSource().read_bars(path, BarIngestOptions())
    assert result.source_row.tolist() == [2]
    assert [(r.row, r.detail) for r in result.malformed] == [(3, "expected 6 fields, found 4")]
