"""Bars staged into one catalog transaction a batch at a time, committed once, or not at all.

The engine wants every file sorted and no two files overlapping. Batches arrive in time
order (each strictly later than the one before), so the layout is decided as they come: rows
that fall inside an existing file's range are merged with that file's rows (read a batch at a
time, never the whole file) into replacement files; the rest fill the gaps. A run of rows is
cut into files of at most ``piece_rows`` rows, and only where an untouched existing file lies
between two rows is a file ended early -- so the files do not depend on how the rows were
batched. Memory holds at most one batch plus one piece, whatever the total.
"""

from collections.abc import Callable
from pathlib import Path

import numpy as np
from nautilus_trader.persistence.catalog.parquet import _timestamps_to_filename

from quantdesk.adapters.nautilus.bar_parquet import (
    bar_folder,
    iter_bar_file,
    ts_range,
)
from quantdesk.adapters.nautilus.catalog_transaction import (
    CatalogJournal,
    Transaction,
    commit_staged,
)
from quantdesk.adapters.nautilus.engine_arrow import bar_table, write_catalog_file
from quantdesk.adapters.nautilus.memory import return_free_pages
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import LineageRecord
from quantdesk.services.columns import BarColumns
from quantdesk.services.ports import StagedCommit

PIECE_ROWS = 50_000
"""The most rows one staged file holds (the engine reads a file at a time)."""

ExistingFile = tuple[Path, int, int]  # path, first and last ts_init


class _OldRows:
    """An existing file's bars, handed out in time order as the merge needs them."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        self.path = path
        self._batches = iter_bar_file(path, batch_rows)
        self._held = BarColumns.empty()
        self._done = False

    def until(self, ts_ns: int | None) -> BarColumns:
        """Rows up to ``ts_ns`` inclusive (all the rest when None), removed from the file."""
        while not self._done and (
            ts_ns is None or len(self._held) == 0 or self._held.ts_ns[-1] <= ts_ns
        ):
            batch = next(self._batches, None)
            if batch is None:
                self._done = True
            else:
                self._held = BarColumns.concat([self._held, batch])
        cut = (
            len(self._held)
            if ts_ns is None
            else int(np.searchsorted(self._held.ts_ns, ts_ns, "right"))
        )
        taken = self._held.take(np.arange(cut))
        self._held = self._held.take(np.arange(cut, len(self._held)))
        return taken


class BarStage:
    """One bar type's staged bars in one transaction: ``add`` batches, then ``commit``."""

    def __init__(
        self,
        journal: CatalogJournal,
        txn: Transaction,
        root: Path,
        instrument: InstrumentSpec,
        bar_type: str,
        files: list[ExistingFile],
        piece_rows: int = PIECE_ROWS,
    ) -> None:
        self._journal, self._txn, self._root = journal, txn, root
        self._bar_type = bar_type
        self._files = files
        self._starts = np.array([f[1] for f in files], dtype=np.int64)
        self._ends = np.array([f[2] for f in files], dtype=np.int64)
        self._piece_rows = piece_rows
        self._directory = bar_folder(txn.staged, bar_type)  # its final place, staged
        self._instrument = instrument
        self._pending: list[BarColumns] = []
        self._pending_rows = 0
        self._position = (-1, False)  # (slot of the last row, whether inside that file)
        self._open: _OldRows | None = None
        self._replaced: list[tuple[Path, int]] = []
        self._last_ts: int | None = None
        self._added = 0
        self._committed = False

    def add(self, bars: BarColumns) -> None:
        """Stage rows the catalog does not hold, later than every row staged before."""
        if len(bars) == 0:
            return
        ts = bars.ts_ns
        if (len(bars) > 1 and not bool(np.all(np.diff(ts) > 0))) or (
            self._last_ts is not None and int(ts[0]) <= self._last_ts
        ):
            raise CatalogError("bars to commit are not strictly increasing in time")
        self._last_ts = int(ts[-1])
        self._added += len(bars)
        slot = np.searchsorted(self._starts, ts, side="right") - 1
        inside = (slot >= 0) & (ts <= self._ends[np.maximum(slot, 0)]) if self._files else slot >= 0
        cuts = np.flatnonzero((np.diff(slot) != 0) | (np.diff(inside) != 0)) + 1
        for run in np.split(np.arange(len(bars)), cuts):
            self._feed(bars.take(run), int(slot[run[0]]), bool(inside[run[0]]))
        return_free_pages()  # the encoded pieces and merged rows: back to the system, so the
        # peak stays one batch's, not a creep of heap pages freed but kept

    def _feed(self, run: BarColumns, slot: int, inside: bool) -> None:
        """One run of rows in the same gap or inside the same existing file."""
        last_slot, _ = self._position
        if self._open is not None and not (inside and slot == last_slot):
            self._append(self._open.until(None))  # the rest of the file it was inside
            self._open = None
        if slot - last_slot > int(inside):  # an untouched existing file lies in between
            self._flush(everything=True)
        if inside:
            if self._open is None:
                path = self._files[slot][0]
                self._open = _OldRows(path, self._piece_rows)
                self._replaced.append((path, ts_range(path)[2]))
            old = self._open.until(int(run.ts_ns[-1]))
            if bool(np.isin(run.ts_ns, old.ts_ns).any()):
                raise CatalogError(
                    f"bars to commit repeat timestamps already in {self._open.path.name}"
                )
            merged = BarColumns.concat([old, run])
            run = merged.take(np.argsort(merged.ts_ns, kind="stable"))
        self._append(run)
        self._position = (slot, inside)

    def _append(self, bars: BarColumns) -> None:
        if len(bars):
            self._pending.append(bars)
            self._pending_rows += len(bars)
        self._flush(everything=False)

    def _flush(self, *, everything: bool) -> None:
        """Write whole pieces of what is pending; the remainder too when ``everything``."""
        if self._pending_rows == 0 or (not everything and self._pending_rows < self._piece_rows):
            return
        rows = BarColumns.concat(self._pending)
        whole = len(rows) if everything else len(rows) - len(rows) % self._piece_rows
        for start in range(0, whole, self._piece_rows):
            piece = rows.take(np.arange(start, min(start + self._piece_rows, whole)))
            self._write(piece)
        rest = rows.take(np.arange(whole, len(rows)))
        self._pending = [rest] if len(rest) else []
        self._pending_rows = len(rest)

    def _write(self, piece: BarColumns) -> None:
        """One file, named for its first and last ``ts_init`` as the engine names its own."""
        table = bar_table(
            piece,
            bar_type=self._bar_type,
            instrument_id=self._instrument.instrument_id,
            price_precision=self._instrument.price_precision,
            size_precision=self._instrument.size_precision,
        )
        name = _timestamps_to_filename(int(piece.ts_ns[0]), int(piece.ts_ns[-1]))
        write_catalog_file(table, self._directory / name)

    def commit(self, lineage: Callable[[StagedCommit], LineageRecord]) -> StagedCommit:
        """Make every staged file, the files they replace and the lineage record one change."""
        if self._committed:
            raise CatalogError("a staged commit can only be committed once")
        if self._open is not None:
            self._append(self._open.until(None))
            self._open = None
        self._flush(everything=True)
        commit = commit_staged(
            self._journal,
            self._txn,
            self._bar_type,
            self._added + sum(n for _, n in self._replaced),
            [str(p.relative_to(self._root)) for p, _ in self._replaced],
            lineage,
        )
        self._committed = True
        return commit
