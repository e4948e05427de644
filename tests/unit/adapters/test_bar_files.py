"""The file reader: formats, zones, epochs, malformed lines, missing columns."""

import gzip
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from quantdesk.adapters.sources.bar_files import BarFileSource
from quantdesk.domain.errors import SourceReadError
from quantdesk.domain.market_data import BarIngestOptions, RejectReason, TimestampFormat
from quantdesk.services.columns import TimestampStatus

T = 1_704_067_260_000_000_000  # 2024-01-01T00:01:00Z


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def read(path: Path, **options: object):
    return BarFileSource().read_bars(path, BarIngestOptions.model_validate(options))


def test_iso_with_zones_is_normalised_to_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:01:00Z,1,2,0.5,1.5,10\n"
        "2024-01-01 02:02:00+02:00,1,2,0.5,1.5,10\n"
        "2024-01-01T00:03:00.000000001+00:00,1,2,0.5,1.5,10\n",
    )
    result = read(path)
    assert result.ts_ns.tolist() == [T, T + 60 * 10**9, T + 120 * 10**9 + 1]
    assert result.ts_status.tolist() == [TimestampStatus.OK] * 3
    assert result.source_row.tolist() == [2, 3, 4]


def test_naive_timestamps_need_a_declared_zone(tmp_path: Path) -> None:
    path = write(
        tmp_path, "timestamp,open,high,low,close,volume\n2024-01-01 00:01:00,1,2,0.5,1.5,1\n"
    )
    assert read(path).ts_status.tolist() == [TimestampStatus.NO_TIMEZONE]
    declared = read(path, assume_utc=True)
    assert declared.ts_status.tolist() == [TimestampStatus.OK]
    assert declared.ts_ns.tolist() == [T]


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("1704067260", TimestampFormat.AUTO),
        ("1704067260000", TimestampFormat.AUTO),
        ("1704067260000000", TimestampFormat.AUTO),
        ("1704067260000000000", TimestampFormat.AUTO),
        ("1704067260", TimestampFormat.SECONDS),
        ("1704067260000", TimestampFormat.MILLISECONDS),
    ],
)
def test_epochs_in_any_unit(tmp_path: Path, value: str, fmt: TimestampFormat) -> None:
    path = write(tmp_path, f"timestamp,open,high,low,close,volume\n{value},1,2,0.5,1.5,1\n")
    result = read(path, timestamp_format=fmt)
    assert result.ts_ns.tolist() == [T]
    assert result.ts_status.tolist() == [TimestampStatus.OK]


def test_unparseable_cells_are_flagged_not_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:01:00Z,1,2,0.5,1.5,1\n"
        "yesterday,1,2,0.5,1.5,1\n"
        "2024-01-01T00:03:00Z,abc,2,0.5,1.5,1\n",
    )
    result = read(path)
    assert len(result) == 3
    assert result.ts_status.tolist() == [0, TimestampStatus.UNPARSEABLE, 0]
    assert result.values.open[2] != result.values.open[2]  # NaN
    assert result.text_of("timestamp", 1) == "yesterday"
    assert result.text_of("open", 2) == "abc"


def test_malformed_lines_are_rejections_with_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,open,high,low,close,volume\n"
        "2024-01-01T00:01:00Z,1,2,0.5,1.5,1\n"
        "2024-01-01T00:02:00Z,1,2\n"
        "2024-01-01T00:03:00Z,1,2,0.5,1.5,1\n",
    )
    result = read(path)
    assert result.source_row.tolist() == [2, 4]
    assert [(m.row, m.reason) for m in result.malformed] == [(3, RejectReason.MALFORMED_ROW)]


def test_column_mapping_and_default_volume(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,O,H,L,C\n2024-01-01T00:01:00Z,1,2,0.5,1.5\n")
    with pytest.raises(SourceReadError, match="--timestamp-col"):
        read(path)
    mapping = {"timestamp": "Date", "open": "O", "high": "H", "low": "L", "close": "C"}
    with pytest.raises(SourceReadError, match="no volume column 'volume'") as refused:
        read(path, columns=mapping)
    assert refused.value.code == "volume_column_missing"  # the CLI names its flags by code
    assert refused.value.data == {"column": "volume"}
    result = read(path, columns=mapping, default_volume=7)
    assert result.values.volume.tolist() == [7.0]
    assert result.values.close.tolist() == [1.5]


def test_parquet_and_gzip_inputs(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([T, T + 60 * 10**9], unit="ns", utc=True),
            "open": [1.0, 1.5],
            "high": [2.0, 2.0],
            "low": [0.5, 0.5],
            "close": [1.5, 1.0],
            "volume": [1, 2],
        }
    )
    parquet = tmp_path / "bars.parquet"
    frame.to_parquet(parquet)
    result = read(parquet)
    assert result.ts_ns.tolist() == [T, T + 60 * 10**9]
    assert result.source_row.tolist() == [1, 2]
    gz = tmp_path / "bars.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("timestamp,open,high,low,close,volume\n1704067260,1,2,0.5,1.5,1\n")
    assert read(gz).ts_ns.tolist() == [T]


def test_unreadable_input_says_which_file(tmp_path: Path) -> None:
    empty = write(tmp_path, "", "empty.csv")
    with pytest.raises(SourceReadError, match=r"empty\.csv"):
        read(empty)
    broken = write(tmp_path, "not parquet", "broken.parquet")
    with pytest.raises(SourceReadError, match=r"broken\.parquet"):
        read(broken)


HEADER = "timestamp,open,high,low,close,volume\n"


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("9223372036854", TimestampFormat.SECONDS),  # wraps int64 once scaled to ns
        ("-9223372036854775808", TimestampFormat.SECONDS),
        ("9223372036854775807", TimestampFormat.MILLISECONDS),
        ("99999999999999999999", TimestampFormat.NANOSECONDS),  # beyond int64 itself
        ("1e30", TimestampFormat.SECONDS),
        ("-1", TimestampFormat.SECONDS),  # before 1970
        ("9223372036854775807", TimestampFormat.NANOSECONDS),  # past 2262-04-10
    ],
)
def test_epochs_outside_the_valid_range_are_flagged_not_wrapped(
    tmp_path: Path, value: str, fmt: TimestampFormat
) -> None:
    path = write(tmp_path, HEADER + f"1704067260,1,2,0.5,1.5,1\n{value},1,2,0.5,1.5,1\n")
    result = read(path, timestamp_format=fmt)
    assert result.ts_status.tolist()[1] == TimestampStatus.OUT_OF_RANGE
    assert result.text_of("timestamp", 1) == value


def test_iso_dates_outside_the_valid_range_are_flagged(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "1677-09-22T00:00:00Z,1,2,0.5,1.5,1\n"
        "2024-01-01T00:01:00Z,1,2,0.5,1.5,1\n"
        "2262-04-11T00:00:00Z,1,2,0.5,1.5,1\n"
        "2300-01-01T00:00:00Z,1,2,0.5,1.5,1\n",
    )
    result = read(path)
    assert result.ts_status.tolist() == [
        TimestampStatus.OUT_OF_RANGE,
        TimestampStatus.OK,
        TimestampStatus.OUT_OF_RANGE,
        TimestampStatus.OUT_OF_RANGE,
    ]
    assert result.ts_ns.tolist()[1] == T


def test_parquet_timestamps_beyond_nanoseconds_are_flagged_not_fatal(tmp_path: Path) -> None:
    stamps = pa.array([T // 1_000_000, 32_503_680_000_000], pa.timestamp("ms", "UTC"))  # 3000
    table = pa.table({"timestamp": stamps, **{n: [1.0, 1.0] for n in ("open", "high", "low")}})
    table = table.append_column("close", pa.array([1.0, 1.0])).append_column(
        "volume", pa.array([1.0, 1.0])
    )
    path = tmp_path / "bars.parquet"
    pq.write_table(table, path)
    result = read(path)
    assert result.ts_status.tolist() == [TimestampStatus.OK, TimestampStatus.OUT_OF_RANGE]
    assert result.ts_ns.tolist()[0] == T


def test_a_date_alone_has_no_timezone(tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER + "2024-03-01,1,2,0.5,1.5,1\n2024-03-01T00:00:00-01,1,2,0.5,1.5,1\n"
    )
    assert read(path).ts_status.tolist() == [TimestampStatus.NO_TIMEZONE, TimestampStatus.OK]
    assert read(path, assume_utc=True).ts_status.tolist() == [TimestampStatus.OK] * 2


def test_rows_are_numbered_by_the_line_where_their_record_starts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "\n"  # line 2: blank
        "2024-01-01T00:01:00Z,1,2,0.5,1.5,1\n"  # line 3
        '"2024-01-01T00:02:00Z\n",1,2,0.5,1.5,1\n'  # lines 4-5: a line break in quotes
        "\n"  # line 6
        "2024-01-01T00:03:00Z,1,2\n"  # line 7: malformed
        "2024-01-01T00:04:00Z,x,2,0.5,1.5,1\n",  # line 8
    )
    result = read(path)
    assert result.source_row.tolist() == [3, 4, 8]
    assert [(m.row, m.reason) for m in result.malformed] == [(7, RejectReason.MALFORMED_ROW)]
    assert result.text_of("open", 2) == "x"


def test_rows_are_numbered_by_line_in_gzip_files_too(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "\n\n2024-01-01T00:01:00Z,1,2,0.5,1.5,1\n")
    assert read(path).source_row.tolist() == [4]


def test_a_named_volume_column_must_exist_even_with_a_default(tmp_path: Path) -> None:
    path = write(
        tmp_path, "timestamp,open,high,low,close,vol\n2024-01-01T00:01:00Z,1,2,0.5,1.5,9\n"
    )
    with pytest.raises(SourceReadError, match=r"no volume column 'qty'.*'vol'"):
        read(path, columns={"volume": "qty"}, default_volume=7)
    assert read(path, columns={"volume": "vol"}, default_volume=7).values.volume.tolist() == [9.0]
