"""The market-data catalog: a NautilusTrader ``ParquetDataCatalog`` that never goes wrong.

Writes go through :mod:`catalog_transaction` (staged, then renamed in), and a batch of bars
is laid out so that no file ever overlaps another: rows landing inside an existing file's
range are merged with it into a replacement file, everything else becomes new files in the
gaps. The engine reads the result as its own.
"""

import hashlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from nautilus_trader import __version__ as nautilus_version
from nautilus_trader.model import instruments as nautilus_instruments
from nautilus_trader.model.data import BarType
from nautilus_trader.model.objects import FIXED_SCALAR, PRICE_MAX, QUANTITY_MAX
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog
from nautilus_trader.persistence.funcs import class_to_filename
from nautilus_trader.persistence.wranglers import BarDataWrangler

from quantdesk.adapters.nautilus.catalog_transaction import LINEAGE_FILE, CatalogJournal
from quantdesk.adapters.nautilus.instruments import from_nautilus, to_nautilus
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import CatalogEntry, CatalogFile, LineageRecord, ValueBounds
from quantdesk.services.columns import VALUE_FIELDS, BarColumns, Float64Array, Int64Array
from quantdesk.services.ports import StagedCommit

_INSTRUMENT_DIRS = frozenset(
    class_to_filename(cls)
    for name in dir(nautilus_instruments)
    if isinstance(cls := getattr(nautilus_instruments, name), type)
    and issubclass(cls, nautilus_instruments.Instrument)
)


class ParquetCatalog:
    """quantdesk's ``MarketDataCatalog`` on a NautilusTrader Parquet data catalog."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root.resolve()
        self._journal = CatalogJournal(self._root)
        self._journal.recover()
        self._catalog = ParquetDataCatalog(str(self._root))

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
        return self._root / "data" / "bar" / bar_type.replace("/", "")

    def _bar_files(self, bar_type: str) -> list[tuple[Path, int, int]]:
        """Files of one bar type with their first and last ``ts_init``, in time order."""
        files = []
        for path in self._bar_dir(bar_type).glob("*.parquet"):
            first, last, _ = _ts_range(path)
            files.append((path, first, last))
        return sorted(files, key=lambda f: f[1])

    def bar_files(self, bar_type: str, start_ns: int, end_ns: int) -> list[CatalogFile]:
        return [
            _describe_file(path, path.relative_to(self._root))
            for path, first, last in self._bar_files(bar_type)
            if first <= end_ns and last >= start_ns
        ]

    def lies_within(self, bar_type: str, start_ns: int, end_ns: int) -> bool:
        """Whether every bar of ``bar_type`` lies in the range: then reading it needs no filter."""
        files = self._bar_files(bar_type)
        return all(start_ns <= first and last <= end_ns for _, first, last in files)

    def has_data_for(self, instrument_id: str) -> bool:
        return any(entry.instrument_id == instrument_id for entry in self.entries())

    def bar_span(self, bar_type: str, start_ns: int, end_ns: int) -> tuple[int, int, int]:
        """(count, first ts, last ts) of the bars in the range, from footers where possible."""
        count, first, last = 0, None, None
        for path, lo, hi in self._bar_files(bar_type):
            if lo > end_ns or hi < start_ns:
                continue
            if start_ns <= lo and hi <= end_ns:
                rows, a, b = _ts_range(path)[2], lo, hi
            else:
                ts = pq.read_table(path, columns=["ts_init"]).column("ts_init").to_numpy()
                ts = ts[(ts >= start_ns) & (ts <= end_ns)]
                if ts.size == 0:
                    continue
                rows, a, b = int(ts.size), int(ts[0]), int(ts[-1])
            count += rows
            first = a if first is None else min(first, a)
            last = b if last is None else max(last, b)
        return count, first if first is not None else 0, last if last is not None else -1

    def read_closes(
        self, bar_type: str, start_ns: int, end_ns: int
    ) -> tuple[Int64Array, Float64Array]:
        """Close times and prices only: what marking to market needs, at a fifth of the memory.

        Filled in place into arrays sized from the file footers, a row group at a time: at a
        million bars, collecting parts and concatenating them would double the peak.
        """
        files = [
            (path, pq.ParquetFile(path))
            for path, first, last in self._bar_files(bar_type)
            if first <= end_ns and last >= start_ns
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
                    closes[filled : filled + count] = _fixed_to_float(
                        table.column("close"), precision
                    )[keep]
                    filled += count
        if filled < capacity:  # part of a file lies outside the range: keep only what is in
            return stamps[:filled].copy(), closes[:filled].copy()
        return stamps, closes

    def read_bars(self, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        parts = [
            _read_bar_file(path, start_ns, end_ns)
            for path, first, last in self._bar_files(bar_type)
            if first <= end_ns and last >= start_ns
        ]
        return BarColumns.concat(parts)

    def commit_bars(
        self,
        instrument: InstrumentSpec,
        bar_type: str,
        bars: BarColumns,
        lineage: Callable[[StagedCommit], LineageRecord],
    ) -> StagedCommit:
        nautilus_instrument = to_nautilus(instrument)
        engine_bar_type = BarType.from_str(bar_type)
        with self._journal.locked(), self._journal.begin() as txn:
            files = self._bar_files(bar_type)
            segments, replaced = _layout(bars, files)
            staging = ParquetDataCatalog(str(txn.staged))
            wrangler = BarDataWrangler(engine_bar_type, nautilus_instrument)
            for segment in segments:
                staging.write_data(wrangler.process(_frame(segment)))
            added = [
                _describe_file(path, path.relative_to(txn.staged))
                for path in sorted(txn.staged.rglob("*.parquet"))
            ]
            if sum(f.rows for f in added) != len(bars) + sum(n for _, n in replaced):
                raise CatalogError(
                    f"staged {sum(f.rows for f in added)} rows for {bar_type}, expected "
                    f"{len(bars) + sum(n for _, n in replaced)}; nothing was written"
                )
            staged = StagedCommit(
                files_added=added,
                files_replaced=[str(p.relative_to(self._root)) for p, _ in replaced],
            )
            record = lineage(staged)
            self._journal.commit(
                txn,
                [f.path for f in added],
                staged.files_replaced,
                record.model_dump_json(),
                record.ingest_id,
            )
        return staged

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


def _layout(
    bars: BarColumns, files: list[tuple[Path, int, int]]
) -> tuple[list[BarColumns], list[tuple[Path, int]]]:
    """Cut new bars into disjoint files: merge into files they fall inside, fill the gaps.

    Returns the segments to write and the files they replace (with their row counts).
    """
    if len(bars) > 1 and not bool(np.all(np.diff(bars.ts_ns) > 0)):
        raise CatalogError("bars to commit are not strictly increasing in time")
    starts = np.array([f[1] for f in files], dtype=np.int64)
    ends = np.array([f[2] for f in files], dtype=np.int64)
    slot = np.searchsorted(starts, bars.ts_ns, side="right") - 1
    inside = (slot >= 0) & (bars.ts_ns <= ends[np.maximum(slot, 0)]) if files else slot >= 0
    touched = sorted(set(slot[inside].tolist()))
    replaced = []
    parts = [bars]
    for index in touched:
        path, first, last = files[index]
        old = _read_bar_file(path, first, last)
        if bool(np.isin(old.ts_ns, bars.ts_ns).any()):
            raise CatalogError(f"bars to commit repeat timestamps already in {path.name}")
        parts.append(old)
        replaced.append((path, len(old)))
    combined = BarColumns.concat(parts)
    combined = combined.take(np.argsort(combined.ts_ns, kind="stable"))
    kept_starts = np.delete(starts, touched) if files else starts
    group = np.searchsorted(kept_starts, combined.ts_ns, side="right")
    cuts = np.flatnonzero(np.diff(group)) + 1
    segments = [combined.take(idx) for idx in np.split(np.arange(len(combined)), cuts)]
    return [s for s in segments if len(s)], replaced


def _frame(bars: BarColumns) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.to_datetime(bars.ts_ns, unit="ns", utc=True), name="timestamp")
    return pd.DataFrame({name: bars.field(name) for name in VALUE_FIELDS}, index=index)


def _ts_range(path: Path) -> tuple[int, int, int]:
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


def _fixed_to_float(column: pa.ChunkedArray, precision: int) -> Float64Array:
    """Decode the engine's 128-bit fixed-point values (raw = value x FIXED_SCALAR)."""
    array = column.combine_chunks()
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


def _read_bar_file(path: Path, start_ns: int, end_ns: int) -> BarColumns:
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    price_precision = int(metadata.get(b"price_precision", b"9"))
    size_precision = int(metadata.get(b"size_precision", b"9"))
    ts = table.column("ts_init").to_numpy().astype(np.int64)
    keep = (ts >= start_ns) & (ts <= end_ns)
    if not bool(keep.all()):
        table = table.filter(pa.array(keep))
        ts = ts[keep]
    return BarColumns(
        ts_ns=ts,
        open=_fixed_to_float(table.column("open"), price_precision),
        high=_fixed_to_float(table.column("high"), price_precision),
        low=_fixed_to_float(table.column("low"), price_precision),
        close=_fixed_to_float(table.column("close"), price_precision),
        volume=_fixed_to_float(table.column("volume"), size_precision),
    )


def _describe_file(path: Path, relative: Path) -> CatalogFile:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    first, last, rows = _ts_range(path)
    return CatalogFile(
        path=str(relative), sha256=digest.hexdigest(), rows=rows, first_ts=first, last_ts=last
    )


def _entry(kind: str, series: Path) -> CatalogEntry | None:
    files = sorted(series.glob("*.parquet"))
    if not files:
        return None
    ranges = [_ts_range(path) for path in files]
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
