"""Trade ticks, quote ticks and order-book deltas in the engine's Parquet catalog.

Columns become the engine's own objects through its Rust wranglers (one Arrow batch in,
PyO3 objects out, about 1 us a row: the engine checks every tick as it builds it), and the
engine's own serializer turns those into the Arrow table its ``write_data`` would write, in
the folder and under the file name it would use. ``write_data`` itself is skipped: it sorts
and groups the objects in Python, 10 s of a 16 s ingest of 1M trades. Files are written with
the catalog's compression (``engine_arrow.CATALOG_PARQUET_OPTIONS``, as bars are) and are
what the engine reads (``ParquetDataCatalog.trade_ticks``, ``quote_ticks``,
``order_book_deltas``).

Additions are all-or-nothing: files are staged in a journal transaction (see
``catalog_transaction``) and appear together with their lineage record on commit. They
append, except for one range replaced in place (a migration re-reading a day whose table
grew): the files cut by the range are rewritten whole, with the range's new rows between
their rows before and after it, and the old files go in the same commit.
Reading back (``tick_reads``) decodes the stored columns directly, for de-duplication
against the catalog.
"""

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader.core import nautilus_pyo3
from nautilus_trader.persistence.catalog.parquet import (
    _timestamps_to_filename as engine_file_name,  # the engine's naming: its reads parse it
)
from nautilus_trader.serialization.arrow.serializer import ArrowSerializer

from quantdesk.adapters.nautilus.bar_parquet import overlapping, series_files
from quantdesk.adapters.nautilus.catalog_transaction import (
    CatalogJournal,
    Transaction,
    commit_staged,
)
from quantdesk.adapters.nautilus.engine_arrow import fixed_point, write_catalog_file
from quantdesk.adapters.nautilus.memory import return_free_pages
from quantdesk.adapters.nautilus.tick_reads import CODES, SIZES, STORED, read_series, series_folder
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import LineageRecord
from quantdesk.domain.ticks import TickKind
from quantdesk.services.ports.catalog import StagedCommit
from quantdesk.services.tick_columns import TickColumns

_WRANGLERS: dict[TickKind, Any] = {  # the engine's Rust decoders (untyped PyO3 classes)
    TickKind.TRADE: nautilus_pyo3.TradeTickDataWrangler,
    TickKind.QUOTE: nautilus_pyo3.QuoteTickDataWrangler,
    TickKind.DELTA: nautilus_pyo3.OrderBookDeltaDataWrangler,
}
_NS_MAX = 2**63 - 1
_CLASSES: dict[TickKind, Any] = {
    TickKind.TRADE: nautilus_pyo3.TradeTick,
    TickKind.QUOTE: nautilus_pyo3.QuoteTick,
    TickKind.DELTA: nautilus_pyo3.OrderBookDelta,
}


class NautilusTickStore:
    """quantdesk's ``TickStore`` on the engine's catalog directory (shared with bars)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root.resolve()
        self._journal = CatalogJournal(self._root)

    @property
    def root(self) -> Path:
        return self._root

    @contextlib.contextmanager
    def appending(self, kind: TickKind, instrument: InstrumentSpec) -> Iterator["TickAppend"]:
        with self._journal.locked(), self._journal.begin() as txn:
            yield TickAppend(self._journal, txn, kind, instrument, self._series(kind, instrument))

    def _series(self, kind: TickKind, instrument: InstrumentSpec) -> Path:
        return series_folder(self._root, kind, instrument.instrument_id)


class TickAppend:
    """One staged addition to a series; see ``services.ports.ticks.TickAppend``."""

    def __init__(
        self,
        journal: CatalogJournal,
        txn: Transaction,
        kind: TickKind,
        instrument: InstrumentSpec,
        series: Path,
    ) -> None:
        self._journal, self._txn, self._kind = journal, txn, kind
        self._instrument = instrument
        self._files = series_files(series)
        self._folder = series_folder(txn.staged, kind, instrument.instrument_id)
        self._wrangler = _WRANGLERS[kind](
            instrument.instrument_id, instrument.price_precision, instrument.size_precision
        )
        span = self.span
        self._last_staged: int | None = None if span is None else span[1]
        self._staged_rows = 0
        self._replaced: list[str] = []
        self._has_replaced = False

    @property
    def span(self) -> tuple[int, int] | None:
        if not self._files:
            return None
        return self._files[0][1], max(last for _, _, last in self._files)

    @property
    def last_sequence(self) -> int | None:
        if self._kind is not TickKind.DELTA or not self._files:
            return None
        path = max(self._files, key=lambda f: f[2])[0]
        sequence = pq.read_table(path, columns=["sequence"]).column("sequence")
        return int(sequence[len(sequence) - 1].as_py()) if len(sequence) else None

    def held(self, start_ns: int, end_ns: int) -> TickColumns:
        return read_series(self._kind, self._files, start_ns, end_ns)

    def stage(self, ticks: TickColumns) -> None:
        if not len(ticks):
            return
        first = int(ticks.ts_ns[0])
        if self._last_staged is not None and first <= self._last_staged:
            raise CatalogError(
                f"ticks staged at {first} do not follow the series' last at {self._last_staged}"
            )
        self._write(ticks)
        self._last_staged = int(ticks.ts_ns[-1])

    def replace(self, start_ns: int, end_ns: int, ticks: TickColumns) -> None:
        if self._has_replaced or self._staged_rows:
            raise CatalogError("a range is replaced once per addition, before any staging")
        if len(ticks) and not (start_ns <= int(ticks.ts_ns[0]) and ticks.ts_ns[-1] <= end_ns):
            raise CatalogError("ticks replacing a range must lie inside it")
        self._has_replaced = True
        cut = overlapping(self._files, start_ns, end_ns)
        if not cut:
            self._write(ticks)
            return
        whole = read_series(self._kind, [f for f in self._files if f[0] in cut], 0, _NS_MAX)
        before, after = whole.take(whole.ts_ns < start_ns), whole.take(whole.ts_ns > end_ns)
        self._write(TickColumns.concat(self._kind, [before, ticks, after]))
        self._replaced = [str(path.relative_to(self._txn.root)) for path in cut]

    def _write(self, ticks: TickColumns) -> None:
        """One staged file of ``ticks`` in the engine's layout, named as the engine names it."""
        if not len(ticks):
            return
        if len(ticks) > 1 and not bool(np.all(np.diff(ticks.ts_ns) >= 0)):
            raise CatalogError("ticks to stage are not in time order")
        first = int(ticks.ts_ns[0])
        table = _engine_table(ticks, self._instrument)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        objects = self._wrangler.process_record_batch_bytes(sink.getvalue().to_pybytes())
        batch = ArrowSerializer.serialize_batch(objects, data_cls=_CLASSES[self._kind])
        del objects
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        name = engine_file_name(first, int(ticks.ts_ns[-1]))
        write_catalog_file(table, self._folder / name)
        del table, batch
        return_free_pages()  # the chunk's buffers (freed by refcount) back: the heap stays flat
        self._staged_rows += len(ticks)

    def commit(self, lineage: Callable[[StagedCommit], LineageRecord]) -> StagedCommit:
        if not self._staged_rows and not self._replaced:
            return StagedCommit(files_added=[], files_replaced=[])
        series = f"{self._kind.value} {self._instrument.instrument_id}"
        return commit_staged(
            self._journal, self._txn, series, self._staged_rows, self._replaced, lineage
        )


def _engine_table(ticks: TickColumns, instrument: InstrumentSpec) -> pa.Table:
    """Columns in the layout the engine's wranglers decode (its own Arrow schema)."""
    kind = ticks.kind
    arrays: dict[str, pa.Array] = {}
    if kind is TickKind.DELTA:
        arrays.update(_codes(ticks, ("action", "side")))
    for ours, theirs in STORED[kind].items():
        precision = instrument.size_precision if ours in SIZES else instrument.price_precision
        arrays[theirs] = fixed_point(ticks.field(ours), precision)
    if kind is TickKind.TRADE:
        arrays.update(_codes(ticks, ("aggressor_side",)))
        arrays["trade_id"] = pa.array(ticks.field("trade_id").tolist(), type=pa.string())
    if kind is TickKind.DELTA:
        arrays.update(_codes(ticks, ("order_id", "flags", "sequence")))
    stamps = pa.array(ticks.ts_ns.astype(np.uint64), type=pa.uint64())
    arrays["ts_event"] = stamps
    arrays["ts_init"] = stamps
    fields = [pa.field(name, array.type, nullable=False) for name, array in arrays.items()]
    return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))


def _codes(ticks: TickColumns, names: tuple[str, ...]) -> dict[str, pa.Array]:
    kinds = CODES[ticks.kind]
    return {name: pa.array(ticks.field(name), type=kinds[name]) for name in names}
