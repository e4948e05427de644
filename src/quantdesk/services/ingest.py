"""Bringing bars into the catalog: read, validate, de-duplicate, commit with lineage.

The catalog only ever receives rows it does not hold yet, so re-ingesting a file writes
nothing, and an overlapping file adds only its new rows; rejected rows are kept for review.
A file is read, judged, compared and staged a chunk at a time (memory is bounded by the
chunk, not the file), and committed once: all its new rows and one lineage record, or
nothing. The rules carry the latest surviving timestamp across chunk boundaries, so the
outcome does not depend on the chunk size.
"""

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import quantdesk
from quantdesk.domain.errors import (
    InvalidInputError,
    NotFoundError,
    NothingValidError,
    SourceReadError,
)
from quantdesk.domain.instruments import InstrumentSpec, require_instrument_id
from quantdesk.domain.market_data import (
    BarIngestOptions,
    BarSpec,
    IngestSummary,
    LineageRecord,
    TimestampAt,
    bar_type_id,
)
from quantdesk.services.bar_batches import split_against_catalog
from quantdesk.services.bar_validation import validate_bars
from quantdesk.services.columns import RawBarColumns
from quantdesk.services.ingest_tally import IngestTally, nothing_valid_message
from quantdesk.services.ports import (
    BarSource,
    BarStaging,
    MarketDataCatalog,
    ProgressReporter,
    SilentProgress,
    StagedCommit,
)

DEFAULT_CHUNK_ROWS = 50_000
"""Rows read, judged and staged at a time (one catalog file's worth): some 25 MB a chunk."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require_regular_file(path: Path) -> None:
    """A directory or a device (``/dev/zero``) is refused unread."""
    if not path.is_file():
        what = "is not a regular file" if path.exists() else "no such file"
        raise SourceReadError(f"{path}: {what}", hint="check the path; it is read relative to here")


def new_ingest_id() -> str:
    return f"{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class _Run:
    """One ingest's fixed inputs: what is ingested, from where, under which rules."""

    instrument: InstrumentSpec
    bar_type: str
    source: str
    source_sha256: str
    round_to_instrument: bool
    shift_to_close_ns: int


class BarIngestService:
    """Ingests bar files and in-memory bar columns into the market-data catalog."""

    def __init__(self, catalog: MarketDataCatalog, source: BarSource, ingest_dir: Path) -> None:
        self._catalog = catalog
        self._source = source
        self._ingest_dir = ingest_dir

    def ingest_bars(
        self,
        path: Path | str,
        instrument_id: str,
        bar_spec: BarSpec | str,
        options: BarIngestOptions | None = None,
        progress: ProgressReporter | None = None,
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> IngestSummary:
        """Ingest one CSV or Parquet file of bars for one instrument and bar specification.

        ``chunk_rows`` bounds the rows held at once; any value gives the same outcome.
        """
        options = options or BarIngestOptions()
        progress = progress or SilentProgress()
        path = Path(path)
        spec = _parse_spec(bar_spec)
        instrument = self._instrument(instrument_id)
        if chunk_rows < 1:
            raise InvalidInputError(f"chunk_rows must be at least 1, got {chunk_rows}")
        if options.timestamp_at is TimestampAt.OPEN and spec.interval_ns is None:
            raise InvalidInputError(
                f"--timestamp-at open needs a time bar; {spec} has no fixed length",
                hint="stamp tick/volume/value bars at their close",
            )
        require_regular_file(path)
        with progress.task(f"checksum {path.name}"):
            sha = file_sha256(path)
        with progress.task(f"survey {path.name}"):
            stream = self._source.open_bars(path, options, chunk_rows)
        shift = spec.interval_ns if options.timestamp_at is TimestampAt.OPEN else None
        run = _Run(
            instrument=instrument,
            bar_type=bar_type_id(instrument.instrument_id, spec),
            source=str(path.resolve()),
            source_sha256=sha,
            round_to_instrument=options.round_to_instrument,
            shift_to_close_ns=shift or 0,
        )
        return self._ingest(run, stream.chunks, stream.rows, progress)

    def ingest_columns(
        self,
        raw: RawBarColumns,
        *,
        instrument: InstrumentSpec,
        bar_spec: BarSpec,
        source: str,
        source_sha256: str,
        round_to_instrument: bool = False,
        shift_to_close_ns: int = 0,
        progress: ProgressReporter | None = None,
    ) -> IngestSummary:
        """Validate columns already in memory and commit what is new, as one chunk.

        ``shift_to_close_ns`` moves rows stamped at their bar's open to its close.
        """
        run = _Run(
            instrument=instrument,
            bar_type=bar_type_id(instrument.instrument_id, bar_spec),
            source=source,
            source_sha256=source_sha256,
            round_to_instrument=round_to_instrument,
            shift_to_close_ns=shift_to_close_ns,
        )
        rows = len(raw) + len(raw.malformed)
        return self._ingest(run, iter([raw]), rows, progress or SilentProgress())

    def _ingest(
        self, run: _Run, chunks: Iterator[RawBarColumns], rows: int, progress: ProgressReporter
    ) -> IngestSummary:
        """The core of every ingest: each chunk judged, compared and staged, then one commit.

        Comparing with the catalog and committing happen under the catalog's writer lock, so
        what was found missing is still missing when it is written, whoever else ingests at
        once. Staged files stay invisible until the commit; an error (or a crash) before it
        leaves the catalog as it was.
        """
        started = time.time_ns()
        ingest_id = new_ingest_id()
        run_dir = self._ingest_dir / ingest_id
        staged = StagedCommit(files_added=[], files_replaced=[])
        with IngestTally(run_dir) as tally:
            with (
                self._catalog.exclusive(),
                self._catalog.stage_bars(run.instrument, run.bar_type) as stage,
                progress.task("validate, compare and write", total=rows) as advance,
            ):
                for raw in chunks:
                    self._chunk(run, raw, stage, tally)
                    advance(len(raw) + len(raw.malformed))
                    del raw  # freed before the next chunk is read, not after
                if tally.rows_valid == 0:
                    rejects = tally.finish()
                    raise NothingValidError(
                        nothing_valid_message(run.source, tally.rows_read, tally),
                        hint=f"see the rejected rows in {rejects}"
                        if rejects
                        else "the file holds no data rows",
                    )

                def lineage(commit: StagedCommit) -> LineageRecord:
                    return LineageRecord(
                        ingest_id=ingest_id,
                        source=run.source,
                        source_sha256=run.source_sha256,
                        instrument_id=run.instrument.instrument_id,
                        bar_type=run.bar_type,
                        **tally.counts(),
                        files_added=commit.files_added,
                        files_replaced=commit.files_replaced,
                        quantdesk_version=quantdesk.__version__,
                        nautilus_trader_version=self._catalog.engine_version,
                        started_at_ns=started,
                        finished_at_ns=time.time_ns(),
                    )

                if tally.rows_written:
                    staged = stage.commit(lineage)
            rejects_path = tally.finish()
        summary = IngestSummary(
            ingest_id=ingest_id,
            source=run.source,
            instrument_id=run.instrument.instrument_id,
            bar_type=run.bar_type,
            **tally.counts(),
            rejected_by_reason=dict(sorted(tally.by_reason.items())),
            rows_rounded=tally.rows_rounded,
            files_added=[f.path for f in staged.files_added],
            files_replaced=staged.files_replaced,
            rejects_path=str(rejects_path) if rejects_path else None,
            lineage_recorded=bool(tally.rows_written),
        )
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2))
        return summary

    def _chunk(self, run: _Run, raw: RawBarColumns, stage: BarStaging, tally: IngestTally) -> None:
        """One chunk: judged (ordering carried from the chunks before), compared, staged."""
        validated = validate_bars(
            raw,
            run.instrument,
            bounds=self._catalog.value_bounds,
            shift_to_close_ns=run.shift_to_close_ns,
            round_to_instrument=run.round_to_instrument,
            previous_ts=tally.latest_valid_ts,
        )
        new_rows, agrees, conflicts = split_against_catalog(
            self._catalog, validated, run.instrument, run.bar_type
        )
        written = validated.bars.take(new_rows)
        stage.add(written)
        tally.read(len(raw) + len(raw.malformed))
        tally.judged(validated.bars)
        tally.compared(written, int(np.count_nonzero(agrees & ~new_rows)))
        tally.rounded(validated.rows_rounded)
        tally.reject([*raw.malformed, *validated.rejections, *conflicts])

    def _instrument(self, instrument_id: str) -> InstrumentSpec:
        instrument = self._catalog.instrument(require_instrument_id(instrument_id))
        if instrument is None:
            known = ", ".join(i.instrument_id for i in self._catalog.instruments()) or "none"
            raise NotFoundError(
                f"unknown instrument {instrument_id!r} (catalog holds: {known})",
                hint="define it first: quantdesk instruments add",
            )
        return instrument


def _parse_spec(bar_spec: BarSpec | str) -> BarSpec:
    if isinstance(bar_spec, BarSpec):
        return bar_spec
    try:
        return BarSpec.parse(bar_spec)
    except ValueError as error:
        raise InvalidInputError(
            str(error), hint="a bar spec looks like 1-MINUTE-LAST", code="invalid_bar_spec"
        ) from error
