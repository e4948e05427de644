"""Bringing tick files into the catalog: read, validate, de-duplicate, commit with lineage.

Streamed in chunks (``TickIngestOptions.chunk_rows``): one chunk of rows is in memory at a
time, plus what the catalog holds in its range when the file overlaps stored ticks. The
commit is per file and all-or-nothing: every chunk is staged in one catalog transaction
that becomes visible, with its lineage record, only after the last chunk; a failure or a
kill before that leaves the catalog as it was. Rejected rows stream to ``rejects.csv``
(row, field, value, reason, detail) and warnings to ``warnings.csv`` in the ingest's folder.
"""

import csv
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

import quantdesk
from quantdesk.domain.errors import NothingValidError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import CatalogFile, LineageRecord, Rejection
from quantdesk.domain.ticks import TickIngestOptions, TickIngestSummary, TickKind, TickWarning
from quantdesk.services.ingest import file_sha256, new_ingest_id, require_regular_file
from quantdesk.services.ingest_tally import IngestTally, nothing_valid_message
from quantdesk.services.instruments import InstrumentService
from quantdesk.services.ports import MarketDataCatalog, ProgressReporter, SilentProgress
from quantdesk.services.ports.ticks import TickAppend, TickSource, TickStore
from quantdesk.services.tick_batches import (
    judge_against_catalog,
    mark_event_ends,
    split_last_event,
)
from quantdesk.services.tick_columns import RawTicks, TickColumns
from quantdesk.services.tick_validation import TickCursor, validate_ticks

WARNING_COLUMNS = ("row", "ts", "kind", "detail")
FIRST_WARNINGS = 20


class _Log:
    """A CSV file in the ingest's folder, created on its first row."""

    def __init__(self, path: Path, header: tuple[str, ...]) -> None:
        self.path, self._header = path, header
        self._handle: IO[str] | None = None
        self.rows = 0

    def write(self, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("w", newline="")
            csv.writer(self._handle).writerow(self._header)
        csv.writer(self._handle).writerows(rows)
        self.rows += len(rows)

    def close(self) -> str | None:
        if self._handle is not None:
            self._handle.close()
        return str(self.path) if self.rows else None


class _Tally:
    """Counts and logs of one ingest as its chunks go by."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.rejects = IngestTally(run_dir)  # the rejects file, as bar ingest writes it
        self.warnings = _Log(run_dir / "warnings.csv", WARNING_COLUMNS)
        self.read = self.written = self.present = self.valid = self.chunks = 0
        self.by_warning: Counter[str] = Counter()
        self.first_warnings: list[TickWarning] = []
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self._pending: list[Rejection] = []

    def reject(self, rejections: list[Rejection], before_row: int | None) -> None:
        """Log rejections in row order: those after ``before_row`` wait for the next chunk."""
        pending = sorted([*self._pending, *rejections], key=lambda r: r.row)
        cut = len(pending) if before_row is None else sum(r.row < before_row for r in pending)
        ready, self._pending = pending[:cut], pending[cut:]
        self.rejects.reject(ready)

    def warn(self, warnings: list[TickWarning]) -> None:
        self.by_warning.update(w.kind.value for w in warnings)
        room = FIRST_WARNINGS - len(self.first_warnings)
        self.first_warnings.extend(warnings[: max(room, 0)])
        self.warnings.write([(w.row, w.ts, w.kind.value, w.detail) for w in warnings])

    def wrote(self, ticks: TickColumns) -> None:
        if len(ticks):
            self.written += len(ticks)
            self.first_ts = int(ticks.ts_ns[0]) if self.first_ts is None else self.first_ts
            self.last_ts = int(ticks.ts_ns[-1])

    @property
    def rejected(self) -> int:
        return self.rejects.rows_rejected

    @property
    def by_reason(self) -> Counter[str]:
        return self.rejects.by_reason


class TickIngestService:
    """Ingests trade-tick, quote-tick and order-book-delta files into the catalog."""

    def __init__(
        self,
        catalog: MarketDataCatalog,
        ticks: TickStore,
        source: TickSource,
        ingest_dir: Path,
    ) -> None:
        self._catalog, self._ticks, self._source = catalog, ticks, source
        self._ingest_dir = ingest_dir

    def ingest(
        self,
        path: Path | str,
        kind: TickKind,
        instrument_id: str,
        options: TickIngestOptions | None = None,
        progress: ProgressReporter | None = None,
    ) -> TickIngestSummary:
        """Ingest one CSV or Parquet file of ``kind`` ticks for one instrument."""
        options = options or TickIngestOptions()
        progress = progress or SilentProgress()
        path = Path(path)
        instrument = InstrumentService(self._catalog).get(instrument_id)
        require_regular_file(path)
        started = time.time_ns()
        ingest_id = new_ingest_id()
        with progress.task(f"checksum {path.name}"):
            sha = file_sha256(path)
        tally = _Tally(self._ingest_dir / ingest_id)
        source = str(path.resolve())
        with tally.rejects:  # a failure leaves no half-written rejects file
            try:
                files = self._stream(path, kind, instrument, options, tally, progress, started, sha)
            finally:
                warnings_path = tally.warnings.close()
            finished = tally.rejects.finish()
        rejects_path = None if finished is None else str(finished)
        if tally.valid == 0:
            raise NothingValidError(
                nothing_valid_message(source, tally.read, tally.rejects),
                hint=f"see the rejected rows in {rejects_path}"
                if rejects_path
                else "the file holds no data rows",
            )
        summary = TickIngestSummary(
            ingest_id=ingest_id,
            source=source,
            instrument_id=instrument.instrument_id,
            data_type=kind,
            rows_read=tally.read,
            rows_written=tally.written,
            rows_already_present=tally.present,
            rows_rejected=tally.rejected,
            rejected_by_reason=dict(sorted(tally.by_reason.items())),
            warnings_by_kind=dict(sorted(tally.by_warning.items())),
            first_warnings=tally.first_warnings,
            chunks=tally.chunks,
            first_ts=tally.first_ts,
            last_ts=tally.last_ts,
            files_added=[f.path for f in files],
            rejects_path=rejects_path,
            warnings_path=warnings_path,
            lineage_recorded=bool(files),
        )
        run_dir = self._ingest_dir / ingest_id
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2))
        return summary

    def _stream(
        self,
        path: Path,
        kind: TickKind,
        instrument: InstrumentSpec,
        options: TickIngestOptions,
        tally: _Tally,
        progress: ProgressReporter,
        started: int,
        sha: str,
    ) -> list[CatalogFile]:
        cursor = TickCursor()
        bounds = self._catalog.value_bounds
        held = TickColumns.empty(kind)
        held_rows = np.empty(0, dtype=np.int64)
        with (
            progress.task(f"ingest {path.name}") as advance,
            self._ticks.appending(kind, instrument) as append,
        ):
            last_sequence = append.last_sequence
            for raw, last in _with_last(self._source.read_ticks(path, kind, options)):
                tally.chunks += 1
                tally.read += len(raw) + len(raw.malformed)
                validated = validate_ticks(raw, instrument, cursor, bounds=bounds)
                tally.valid += len(validated.ticks)
                tally.warn(validated.warnings)
                ticks = TickColumns.concat(kind, [held, validated.ticks])
                rows = np.concatenate([held_rows, validated.source_row])
                if last:  # the file's end closes its last event
                    held, held_rows = TickColumns.empty(kind), np.empty(0, dtype=np.int64)
                else:
                    ticks, rows, held, held_rows = split_last_event(ticks, rows)
                found = _stage(ticks, rows, append, last_sequence, tally)
                tally.reject(
                    [*raw.malformed, *validated.rejections, *found],
                    int(held_rows[0]) if len(held_rows) else None,
                )
                advance(len(raw))
            tally.reject(_stage(held, held_rows, append, last_sequence, tally), None)
            tally.warn(cursor.book.finish() if kind is TickKind.DELTA else [])
            if not tally.written:
                return []
            return append.commit(
                lambda commit: self._lineage(
                    path, sha, kind, instrument, tally, commit.files_added, started, append
                )
            ).files_added

    def _lineage(
        self,
        path: Path,
        sha: str,
        kind: TickKind,
        instrument: InstrumentSpec,
        tally: _Tally,
        files: list[CatalogFile],
        started: int,
        append: TickAppend,
    ) -> LineageRecord:
        assert tally.first_ts is not None
        return LineageRecord(
            ingest_id=tally.run_dir.name,
            source=str(path.resolve()),
            source_sha256=sha,
            instrument_id=instrument.instrument_id,
            bar_type=instrument.instrument_id,  # the series: a tick series is its instrument's
            data_type=kind.value,
            rows_read=tally.read,
            rows_written=tally.written,
            rows_already_present=tally.present,
            rows_rejected=tally.rejected,
            first_ts=tally.first_ts,
            last_ts=tally.last_ts,
            files_added=files,
            files_replaced=[],
            quantdesk_version=quantdesk.__version__,
            nautilus_trader_version=self._catalog.engine_version,
            started_at_ns=started,
            finished_at_ns=time.time_ns(),
        )


def _stage(
    ticks: TickColumns,
    rows: np.ndarray,
    append: TickAppend,
    last_sequence: int | None,
    tally: _Tally,
) -> list[Rejection]:
    """Judge a batch of whole events against the catalog and stage what is new."""
    if not len(ticks):
        return []
    judged = judge_against_catalog(ticks, rows, append, last_sequence)
    tally.present += judged.present
    new = mark_event_ends(ticks.take(judged.new))
    append.stage(new)
    tally.wrote(new)
    return judged.rejections


def _with_last(chunks: Iterator[RawTicks]) -> Iterator[tuple[RawTicks, bool]]:
    """Each chunk and whether it is the file's last (one chunk of look-ahead)."""
    previous = next(chunks, None)
    while previous is not None:
        following = next(chunks, None)
        yield previous, following is None
        previous = following
