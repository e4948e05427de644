"""Footer ranges are read once per file version, and a replaced file is read again."""

from pathlib import Path

import numpy as np
import pytest

from quantdesk.adapters.nautilus import bar_parquet
from quantdesk.adapters.nautilus.bar_parquet import FileRanges
from quantdesk.adapters.nautilus.engine_arrow import bar_table, write_catalog_file
from quantdesk.services.columns import BarColumns


def write(path: Path, first: int, n: int) -> None:
    ts = np.arange(first, first + n, dtype=np.int64)
    ones = np.ones(n)
    bars = BarColumns(ts_ns=ts, open=ones, high=ones, low=ones, close=ones, volume=ones)
    table = bar_table(
        bars,
        bar_type="A.XNAS-1-MINUTE-LAST-EXTERNAL",
        instrument_id="A.XNAS",
        price_precision=2,
        size_precision=0,
    )
    partial = path.with_suffix(".tmp")
    write_catalog_file(table, partial)
    partial.replace(path)  # as the journal moves a staged file into place


def test_a_file_is_read_once_and_again_when_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[Path] = []
    real = bar_parquet.ts_range
    monkeypatch.setattr(bar_parquet, "ts_range", lambda p: reads.append(p) or real(p))
    path = tmp_path / "bars.parquet"
    write(path, 100, 5)
    ranges = FileRanges()
    assert ranges.of(path) == (100, 104, 5)
    assert ranges.of(path) == (100, 104, 5)
    assert reads == [path]
    write(path, 200, 3)  # same name, other rows
    assert ranges.of(path) == (200, 202, 3)
    assert reads == [path, path]
