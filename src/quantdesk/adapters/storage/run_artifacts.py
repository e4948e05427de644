"""A stored run's tables (fills, positions, equity) read a page at a time or streamed out.

Runs can hold millions of rows: a page reads only the row groups it overlaps, and a download
streams the Parquet file as stored or a CSV written a row group at a time, never the whole
table in memory.
"""

import io
from collections.abc import Iterator
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from quantdesk.domain.errors import JsonScalar

CHUNK_BYTES = 1 << 20


def page_of(path: Path, *, offset: int, limit: int) -> tuple[list[dict[str, JsonScalar]], int]:
    """Rows ``offset .. offset + limit`` of a Parquet file, as plain dicts, and its row count."""
    with pq.ParquetFile(path) as table:
        total = table.metadata.num_rows
        rows: list[dict[str, JsonScalar]] = []
        first = 0  # of the row group
        for group in range(table.num_row_groups):
            size = table.metadata.row_group(group).num_rows
            start, stop = max(offset - first, 0), min(offset + limit - first, size)
            if start < stop:
                part = table.read_row_group(group).slice(start, stop - start)
                rows.extend(part.to_pylist())
            first += size
            if first >= offset + limit:
                break
        return rows, total


def parquet_bytes(path: Path) -> Iterator[bytes]:
    """The file as stored, in chunks."""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def csv_bytes(path: Path) -> Iterator[bytes]:
    """The table as CSV (header first), one row group at a time."""
    with pq.ParquetFile(path) as table:
        for group in range(max(table.num_row_groups, 1)):
            out = io.BytesIO()
            part = table.read_row_group(group) if table.num_row_groups else table.read()
            options = pacsv.WriteOptions(include_header=group == 0)
            pacsv.write_csv(part, out, write_options=options)
            yield out.getvalue()
