"""The catalog's tick and book-delta files as they are read: spans, checksums and columns.

The engine writes each instrument's ticks to ``data/<data type>/<instrument>/``, one file
per write, named by its first and last ``ts_init``; the footers give each file's range, so
only a file cut by a range is read (its ``ts_init`` column alone, for a span). The column
layout here is the engine's; ``tick_store`` writes it.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.persistence.funcs import urisafe_identifier

from quantdesk.adapters.nautilus.bar_parquet import (
    SeriesFile,
    describe_file,
    fixed_to_float,
    overlapping,
    series_files,
    series_span,
)
from quantdesk.domain.market_data import CatalogFile
from quantdesk.domain.ticks import TickKind
from quantdesk.services.tick_columns import AnyArray, TickColumns

STORED = {  # our field -> the engine's column
    TickKind.TRADE: {"price": "price", "size": "size"},
    TickKind.QUOTE: {
        "bid": "bid_price",
        "ask": "ask_price",
        "bid_size": "bid_size",
        "ask_size": "ask_size",
    },
    TickKind.DELTA: {"price": "price", "size": "size"},
}
CODES = {  # our integer field -> the engine's column type
    TickKind.TRADE: {"aggressor_side": pa.uint8()},
    TickKind.QUOTE: {},
    TickKind.DELTA: {
        "action": pa.uint8(),
        "side": pa.uint8(),
        "order_id": pa.uint64(),
        "flags": pa.uint8(),
        "sequence": pa.uint64(),
    },
}
SIZES = frozenset({"size", "bid_size", "ask_size"})


def series_folder(root: Path, kind: TickKind, instrument_id: str) -> Path:
    """Where the engine keeps (and reads) an instrument's ticks of ``kind`` under ``root``."""
    return root / "data" / TickKind(kind).value / urisafe_identifier(instrument_id)


class ParquetTickCatalog:
    """quantdesk's ``TickCatalog`` over the engine's Parquet catalog at ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _files(self, kind: TickKind, instrument_id: str) -> list[SeriesFile]:
        return series_files(series_folder(self._root, kind, instrument_id))

    def tick_span(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> tuple[int, int, int]:
        return series_span(self._files(kind, instrument_id), start_ns, end_ns)

    def tick_files(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> list[CatalogFile]:
        return [
            describe_file(path, path.relative_to(self._root))
            for path in overlapping(self._files(kind, instrument_id), start_ns, end_ns)
        ]

    def read_ticks(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> TickColumns:
        return read_series(kind, self._files(kind, instrument_id), start_ns, end_ns)

    def tick_batches(
        self, kind: TickKind, instrument_id: str, start_ns: int, end_ns: int
    ) -> Iterator[TickColumns]:
        return series_batches(kind, self._files(kind, instrument_id), start_ns, end_ns)


def read_series(kind: TickKind, files: list[SeriesFile], start_ns: int, end_ns: int) -> TickColumns:
    """The rows of ``files`` with ``start_ns <= ts <= end_ns``, decoded, in stored order."""
    return TickColumns.concat(kind, list(series_batches(kind, files, start_ns, end_ns)))


def series_batches(
    kind: TickKind, files: list[SeriesFile], start_ns: int, end_ns: int
) -> Iterator[TickColumns]:
    """As ``read_series``, a row group at a time (the catalog writes groups of at most
    50,000 rows); a group whose footer range misses the range is not read."""
    for path in overlapping(files, start_ns, end_ns):
        parquet = pq.ParquetFile(path)
        metadata = parquet.schema_arrow.metadata or {}
        precisions = (
            int(metadata.get(b"price_precision", b"9")),
            int(metadata.get(b"size_precision", b"9")),
        )
        column = parquet.schema_arrow.get_field_index("ts_init")
        for group in range(parquet.num_row_groups):
            stats = parquet.metadata.row_group(group).column(column).statistics
            if (
                stats is not None
                and stats.has_min_max
                and (stats.min > end_ns or stats.max < start_ns)
            ):
                continue
            yield _decode(kind, parquet.read_row_group(group), precisions, start_ns, end_ns)


def _decode(
    kind: TickKind, table: pa.Table, precisions: tuple[int, int], start_ns: int, end_ns: int
) -> TickColumns:
    price_precision, size_precision = precisions
    ts = np.asarray(table.column("ts_event").to_numpy(), dtype=np.uint64).astype(np.int64)
    keep = (ts >= start_ns) & (ts <= end_ns)
    if not bool(keep.all()):
        table = table.filter(pa.array(keep))
        ts = ts[keep]
    values: dict[str, AnyArray] = {}
    for ours, theirs in STORED[kind].items():
        precision = size_precision if ours in SIZES else price_precision
        values[ours] = fixed_to_float(table.column(theirs), precision)
    for name in CODES[kind]:
        dtype = np.uint64 if name in ("order_id", "sequence") else np.uint8
        raw = np.asarray(table.column(name).to_numpy(), dtype=dtype)
        values[name] = raw.astype(np.int8) if name in ("action", "side", "aggressor_side") else raw
    if kind is TickKind.TRADE:
        values["trade_id"] = np.asarray(
            table.column("trade_id").to_numpy(zero_copy_only=False), dtype=object
        )
    return TickColumns(kind, ts, values)
