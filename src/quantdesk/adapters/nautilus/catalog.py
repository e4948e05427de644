"""The market-data catalog: a NautilusTrader ``ParquetDataCatalog`` that never goes wrong.

Writes go through :mod:`catalog_transaction` (staged, then renamed in), and bars are laid
out by :mod:`catalog_stage` so that no file ever overlaps another: rows landing inside an
existing file's range are merged with it into replacement files, everything else becomes
new files in the gaps. The engine reads the result as its own.
"""

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from nautilus_trader import __version__ as nautilus_version
from nautilus_trader.model import instruments as nautilus_instruments
from nautilus_trader.model.objects import PRICE_MAX, QUANTITY_MAX
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.persistence.funcs import class_to_filename

from quantdesk.adapters.nautilus.bar_parquet import (
    FileRanges,
    SeriesFile,
    bar_folder,
    describe_file,
    fixed_to_float,
    overlapping,
    read_bar_file,
    series_files,
    series_span,
    ts_range,
)
from quantdesk.adapters.nautilus.catalog_stage import PIECE_ROWS, BarStage
from quantdesk.adapters.nautilus.catalog_transaction import LINEAGE_FILE, CatalogJournal
from quantdesk.adapters.nautilus.instruments import from_nautilus, to_nautilus
from quantdesk.adapters.nautilus.memory import map_large_blocks
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import CatalogEntry, CatalogFile, LineageRecord, ValueBounds
from quantdesk.services.columns import BarColumns, Float64Array, Int64Array
from quantdesk.services.ports import StagedCommit

_INSTRUMENT_DIRS = frozenset(
    class_to_filename(cls)
    for name in dir(nautilus_instruments)
    if isinstance(cls := getattr(nautilus_instruments, name), type)
    and issubclass(cls, nautilus_instruments.Instrument)
)


class ParquetCatalog:
    """quantdesk's ``MarketDataCatalog`` on a NautilusTrader Parquet data catalog."""

    piece_rows = PIECE_ROWS  # the most rows a bar file it writes holds

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root.resolve()
        self._journal = CatalogJournal(self._root)
        self._journal.recover()
        self._catalog = ParquetDataCatalog(str(self._root))
        self._ranges = FileRanges()

    @property
    def root(self) -> Path:
        return self._root

    @property
    def engine_version(self) -> str:
        return str(nautilus_version)

    @property
    def value_bounds(self) -> ValueBounds:
        return ValueBounds(price_max=float(PRICE_MAX), quantity_max=float(QUANTITY_MAX))

    def exclusive(self) -> AbstractContextManager[None]:
        """The journal's writer lock: other processes' writes wait until the block ends."""
        return self._journal.locked()

    @property
    def engine_catalog(self) -> ParquetDataCatalog:
        """The engine's own view, for the backtest runner."""
        return self._catalog

    # instruments -------------------------------------------------------------------------

    def put_instrument(self, spec: InstrumentSpec) -> None:
        instrument = to_nautilus(spec)
        stale = [
            str(path.relative_to(self._root)) for path in self._instrument_files(spec.instrument_id)
        ]
        with self._journal.locked(), self._journal.begin() as txn:
            ParquetDataCatalog(str(txn.staged)).write_data([instrument])
            added = [str(p.relative_to(txn.staged)) for p in txn.staged.rglob("*.parquet")]
            self._journal.commit(txn, added, stale, None, None)

    def instrument(self, instrument_id: str) -> InstrumentSpec | None:
        if not self._instrument_files(instrument_id):
            return None
        found = self._catalog.instruments(instrument_ids=[instrument_id])
        return from_nautilus(found[0]) if found else None

    def instruments(self) -> list[InstrumentSpec]:
        specs = (from_nautilus(i) for i in self._catalog.instruments())
        return [s for s in specs if s is not None]

    def _instrument_files(self, instrument_id: str) -> list[Path]:
        folder = instrument_id.replace("/", "")
        data = self._root / "data"
        return [
            path for kind in _INSTRUMENT_DIRS for path in (data / kind / folder).glob("*.parquet")
        ]

    # bars ----------------------------------------------------------------------------------

    def _bar_dir(self, bar_type: str) -> Path:
        return bar_folder(self._root, bar_type)

    def _bar_files(self, bar_type: str) -> list[SeriesFile]:
        """Files of one bar type with their first and last ``ts_init``, in time order."""
        return series_files(self._bar_dir(bar_type), self._ranges.of)

    def bar_files(self, bar_type: str, start_ns: int, end_ns: int) -> list[CatalogFile]:
        return [
            describe_file(path, path.relative_to(self._root))
            for path in overlapping(self._bar_files(bar_type), start_ns, end_ns)
        ]

    def lies_within(self, bar_type: str, start_ns: int, end_ns: int) -> bool:
        """Whether every bar of ``bar_type`` lies in the range: then reading it needs no filter."""
        files = self._bar_files(bar_type)
        return all(start_ns <= first and last <= end_ns for _, first, last in files)

    def has_data_for(self, instrument_id: str) -> bool:
        return any(entry.instrument_id == instrument_id for entry in self.entries())

    def bar_span(self, bar_type: str, start_ns: int, end_ns: int) -> tuple[int, int, int]:
        """(count, first ts, last ts) of the bars in the range, from footers where possible."""
        return series_span(self._bar_files(bar_type), start_ns, end_ns, self._ranges.of)

    def read_closes(
        self, bar_type: str, start_ns: int, end_ns: int
    ) -> tuple[Int64Array, Float64Array]:
        """Close times and prices only: what marking to market needs, at a fifth of the memory.

        Filled in place into arrays sized from the file footers, a row group at a time: at a
        million bars, collecting parts and concatenating them would double the peak.
        """
        files = [
            (path, pq.ParquetFile(path))
            for path in overlapping(self._bar_files(bar_type), start_ns, end_ns)
        ]
        capacity = sum(parquet.metadata.num_rows for _, parquet in files)
        stamps = np.empty(capacity, dtype=np.int64)
        closes = np.empty(capacity, dtype=np.float64)
        filled = 0
        for _, parquet in files:
            metadata = parquet.schema_arrow.metadata or {}
            precision = int(metadata.get(b"price_precision", b"9"))
            for group in range(parquet.num_row_groups):
                table = parquet.read_row_group(
                    group, columns=["close", "ts_init"], use_threads=False
                )
                ts = table.column("ts_init").to_numpy().astype(np.int64, copy=False)
                keep = (ts >= start_ns) & (ts <= end_ns)
                count = int(np.count_nonzero(keep))
                if count:
                    stamps[filled : filled + count] = ts[keep]
                    closes[filled : filled + count] = fixed_to_float(
                        table.column("close"), precision
                    )[keep]
                    filled += count
        if filled < capacity:  # part of a file lies outside the range: keep only what is in
            return stamps[:filled].copy(), closes[:filled].copy()
        return stamps, closes

    def read_bars(self, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        parts = [
            read_bar_file(path, start_ns, end_ns)
            for path in overlapping(self._bar_files(bar_type), start_ns, end_ns)
        ]
        return BarColumns.concat(parts)

    @contextlib.contextmanager
    def stage_bars(self, instrument: InstrumentSpec, bar_type: str) -> Iterator[BarStage]:
        """One transaction for bars added a batch at a time: committed by ``commit``, else
        discarded when the block ends (an error, or nothing to commit)."""
        map_large_blocks()  # batches come and go: keep the heap from growing with them
        with self._journal.locked(), self._journal.begin() as txn:
            yield BarStage(
                self._journal,
                txn,
                self._root,
                instrument,
                bar_type,
                self._bar_files(bar_type),
                self.piece_rows,
            )

    def commit_bars(
        self,
        instrument: InstrumentSpec,
        bar_type: str,
        bars: BarColumns,
        lineage: Callable[[StagedCommit], LineageRecord],
    ) -> StagedCommit:
        with self.stage_bars(instrument, bar_type) as stage:
            stage.add(bars)
            return stage.commit(lineage)

    # what is there ------------------------------------------------------------------------------

    def entries(self) -> list[CatalogEntry]:
        data = self._root / "data"
        entries: list[CatalogEntry] = []
        if not data.is_dir():
            return entries
        for kind in sorted(p for p in data.iterdir() if p.is_dir()):
            if kind.name in _INSTRUMENT_DIRS:
                continue
            for series in sorted(p for p in kind.iterdir() if p.is_dir()):
                entry = _entry(kind.name, series)
                if entry is not None:
                    entries.append(entry)
        return entries

    def lineage(self) -> Iterator[LineageRecord]:
        path = self._root / LINEAGE_FILE
        if not path.exists():
            return
        with path.open() as handle:
            for line in handle:
                if line.strip():
                    yield LineageRecord.model_validate_json(line)


def _entry(kind: str, series: Path) -> CatalogEntry | None:
    files = sorted(series.glob("*.parquet"))
    if not files:
        return None
    ranges = [ts_range(path) for path in files]
    metadata = pq.read_schema(files[0]).metadata or {}
    identifier = metadata.get(b"bar_type", metadata.get(b"instrument_id", series.name.encode()))
    instrument = metadata.get(b"instrument_id", identifier.split(b"-")[0])
    return CatalogEntry(
        data_type=kind,
        identifier=identifier.decode(),
        instrument_id=instrument.decode(),
        first_ts=min(r[0] for r in ranges),
        last_ts=max(r[1] for r in ranges),
        count=sum(r[2] for r in ranges),
        files=len(files),
    )
