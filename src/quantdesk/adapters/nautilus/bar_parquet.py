"""The engine's bar files read back as columns: footers, fixed-point decoding, row groups.

Shared by the catalog's reads and by its staged writes (which merge new bars into existing
files a batch at a time). Reads use the row-group statistics in the footer, so a range read
touches only the row groups (5,000 rows each, as the engine writes them) that it needs.
"""

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.model.objects import FIXED_SCALAR
from nautilus_trader.persistence.funcs import urisafe_identifier

from quantdesk.domain.market_data import CatalogFile
from quantdesk.services.columns import BarColumns, Float64Array


def bar_folder(root: Path, bar_type: str) -> Path:
    """Where the engine keeps (and reads) the bars of ``bar_type`` under a catalog ``root``."""
    return root / "data" / "bar" / urisafe_identifier(bar_type)


def ts_range(path: Path) -> tuple[int, int, int]:
    """First and last ``ts_init`` and the row count, from the Parquet footer alone."""
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("ts_init")
    first, last = None, None
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if stats is None or not stats.has_min_max:
            table = pq.read_table(path, columns=["ts_init"])
            values = table.column("ts_init").to_numpy()
            return int(values.min()), int(values.max()), meta.num_rows
        first = stats.min if first is None else min(first, stats.min)
        last = stats.max if last is None else max(last, stats.max)
    if first is None or last is None:
        return 0, -1, 0
    return int(first), int(last), meta.num_rows


class FileRanges:
    """:func:`ts_range` of catalog files, each read from its footer once per version.

    Every commit and range query asks for the range of every file of a series; reading each
    footer again cost seconds a run once a series holds hundreds of files. A file is known by
    its path and its (inode, size, mtime): the journal moves a new file into place, so a
    replaced file is a new inode and is read again.
    """

    def __init__(self) -> None:
        self._known: dict[Path, tuple[tuple[int, int, int], tuple[int, int, int]]] = {}

    def of(self, path: Path) -> tuple[int, int, int]:
        stat = path.stat()
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        known = self._known.get(path)
        if known is not None and known[0] == version:
            return known[1]
        found = ts_range(path)
        self._known[path] = (version, found)
        return found


SeriesFile = tuple[Path, int, int]
"""A catalog file with the first and last ``ts_init`` its footer gives."""
Ranges = Callable[[Path], tuple[int, int, int]]
"""A file's first and last ``ts_init`` and row count (:func:`ts_range`)."""


def series_files(folder: Path, ranges: Ranges = ts_range) -> list[SeriesFile]:
    """A series' files (bars or ticks) with their first and last ``ts_init``, in time order
    (``ranges``: :func:`ts_range`, or a :class:`FileRanges`' ``of`` that remembers them)."""
    files = []
    for path in folder.glob("*.parquet"):
        first, last, _ = ranges(path)
        files.append((path, first, last))
    return sorted(files, key=lambda f: (f[1], f[2]))


def overlapping(files: list[SeriesFile], start_ns: int, end_ns: int) -> list[Path]:
    """The files holding ``ts_init`` in ``[start_ns, end_ns]`` by their footers, in order."""
    return [path for path, first, last in files if first <= end_ns and last >= start_ns]


def series_span(
    files: list[SeriesFile], start_ns: int, end_ns: int, ranges: Ranges = ts_range
) -> tuple[int, int, int]:
    """(count, first ts, last ts) of the rows in the range (``0, 0, -1``: none): a file the
    range covers is counted from its footer, only a file it cuts reads its ``ts_init``."""
    count, first, last = 0, None, None
    for path, lo, hi in files:
        if lo > end_ns or hi < start_ns:
            continue
        if start_ns <= lo and hi <= end_ns:
            rows, a, b = ranges(path)[2], lo, hi
        else:
            ts = pq.read_table(path, columns=["ts_init"]).column("ts_init").to_numpy()
            ts = ts[(ts >= start_ns) & (ts <= end_ns)]
            if ts.size == 0:
                continue
            rows, a, b = int(ts.size), int(ts.min()), int(ts.max())
        count += rows
        first = a if first is None else min(first, a)
        last = b if last is None else max(last, b)
    return count, first if first is not None else 0, last if last is not None else -1


def fixed_to_float(column: pa.ChunkedArray | pa.Array, precision: int) -> Float64Array:
    """Decode the engine's 128-bit fixed-point values (raw = value x FIXED_SCALAR)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.empty(0, dtype=np.float64)
    raw = np.frombuffer(array.buffers()[1], dtype=np.uint64)
    raw = raw[2 * array.offset : 2 * (array.offset + len(array))]
    # In place, one float array: a million bars should not cost five temporaries.
    decoded: Float64Array = raw[1::2].view(np.int64).astype(np.float64)
    decoded *= 18446744073709551616.0
    decoded += raw[0::2]
    # Whole units of the last decimal, then one correctly rounded division: the same double
    # as parsing the decimal text, so values read back equal values written.
    decoded /= float(FIXED_SCALAR) / 10.0**precision
    np.round(decoded, out=decoded)
    decoded /= 10.0**precision
    return decoded


def precisions(parquet: pq.ParquetFile) -> tuple[int, int]:
    """(price, size) precision the engine wrote into the file's schema metadata."""
    metadata = parquet.schema_arrow.metadata or {}
    return int(metadata.get(b"price_precision", b"9")), int(metadata.get(b"size_precision", b"9"))


def decode_bars(table: pa.Table | pa.RecordBatch, price: int, size: int) -> BarColumns:
    return BarColumns(
        ts_ns=np.asarray(table.column("ts_init").to_numpy(), dtype=np.int64),
        open=fixed_to_float(table.column("open"), price),
        high=fixed_to_float(table.column("high"), price),
        low=fixed_to_float(table.column("low"), price),
        close=fixed_to_float(table.column("close"), price),
        volume=fixed_to_float(table.column("volume"), size),
    )


def read_bar_file(path: Path, start_ns: int, end_ns: int) -> BarColumns:
    """The file's bars with ``start_ns <= ts <= end_ns``, reading only row groups that can
    hold some."""
    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    column = meta.schema.names.index("ts_init")
    groups = []
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(column).statistics
        if (
            stats is None
            or not stats.has_min_max
            or (stats.min <= end_ns and stats.max >= start_ns)
        ):
            groups.append(group)
    if not groups:
        return BarColumns.empty()
    price, size = precisions(parquet)
    bars = decode_bars(parquet.read_row_groups(groups, use_threads=False), price, size)
    keep = (bars.ts_ns >= start_ns) & (bars.ts_ns <= end_ns)
    return bars if bool(keep.all()) else bars.take(keep)


def iter_bar_file(path: Path, batch_rows: int) -> Iterator[BarColumns]:
    """Every bar of the file, in batches of at most ``batch_rows``."""
    parquet = pq.ParquetFile(path)
    price, size = precisions(parquet)
    for batch in parquet.iter_batches(batch_size=batch_rows, use_threads=False):
        yield decode_bars(batch, price, size)


def describe_file(path: Path, relative: Path) -> CatalogFile:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    first, last, rows = ts_range(path)
    return CatalogFile(
        path=str(relative), sha256=digest.hexdigest(), rows=rows, first_ts=first, last_ts=last
    )
