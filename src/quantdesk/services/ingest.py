"""Bringing bars into the catalog: read, validate, de-duplicate, commit with lineage.

The catalog only ever receives rows it does not hold yet, so re-ingesting a file writes
nothing, and an overlapping file adds only its new rows; rejected rows are kept for review.
"""

import csv
import hashlib
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

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
    Rejection,
    TimestampAt,
    bar_type_id,
)
from quantdesk.services.bar_batches import commit_new_bars
from quantdesk.services.bar_validation import validate_bars
from quantdesk.services.columns import BarColumns, RawBarColumns
from quantdesk.services.ports import (
    BarSource,
    MarketDataCatalog,
    ProgressReporter,
    SilentProgress,
    StagedCommit,
)

REJECT_COLUMNS = ("row", "field", "value", "reason", "detail")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_ingest_id() -> str:
    return f"{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


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
    ) -> IngestSummary:
        """Ingest one CSV or Parquet file of bars for one instrument and bar specification."""
        options = options or BarIngestOptions()
        progress = progress or SilentProgress()
        path = Path(path)
        spec = _parse_spec(bar_spec)
        instrument = self._instrument(instrument_id)
        if options.timestamp_at is TimestampAt.OPEN and spec.interval_ns is None:
            raise InvalidInputError(
                f"--timestamp-at open needs a time bar; {spec} has no fixed length",
                hint="stamp tick/volume/value bars at their close",
            )
        if not path.is_file():  # a directory or a device (/dev/zero) is refused unread
            what = "is not a regular file" if path.exists() else "no such file"
            raise SourceReadError(
                f"{path}: {what}", hint="check the path; it is read relative to here"
            )
        with progress.task(f"checksum {path.name}"):
            sha = file_sha256(path)
        with progress.task(f"read {path.name}"):
            raw = self._source.read_bars(path, options)
        shift = spec.interval_ns if options.timestamp_at is TimestampAt.OPEN else None
        return self.ingest_columns(
            raw,
            instrument=instrument,
            bar_spec=spec,
            source=str(path.resolve()),
            source_sha256=sha,
            round_to_instrument=options.round_to_instrument,
            shift_to_close_ns=shift or 0,
            progress=progress,
        )

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
        """Validate columns already in memory and commit what is new; the core of every ingest.

        ``shift_to_close_ns`` moves rows stamped at their bar's open to its close. Comparing
        with the catalog and committing happen under the catalog's writer lock, so what was
        found missing is still missing when it is written, whoever else ingests at once.
        """
        progress = progress or SilentProgress()
        started = time.time_ns()
        ingest_id = new_ingest_id()
        bar_type = bar_type_id(instrument.instrument_id, bar_spec)
        with progress.task("validate", total=len(raw)) as advance:
            validated = validate_bars(
                raw,
                instrument,
                bounds=self._catalog.value_bounds,
                shift_to_close_ns=shift_to_close_ns,
                round_to_instrument=round_to_instrument,
            )
            advance(len(raw))
        rows_read = len(raw) + len(raw.malformed)
        rejections = [*raw.malformed, *validated.rejections]
        run_dir = self._ingest_dir / ingest_id
        if len(validated.bars) == 0:
            rejections.sort(key=lambda r: r.row)
            rejects_path = _write_rejects(run_dir, rejections) if rejections else None
            raise NothingValidError(
                _nothing_valid_message(source, rows_read, rejections),
                hint=f"see the rejected rows in {rejects_path}"
                if rejects_path
                else "the file holds no data rows",
            )

        def lineage(
            new_bars: BarColumns, present: int, conflicts: list[Rejection], commit: StagedCommit
        ) -> LineageRecord:
            return LineageRecord(
                ingest_id=ingest_id,
                source=source,
                source_sha256=source_sha256,
                instrument_id=instrument.instrument_id,
                bar_type=bar_type,
                rows_read=rows_read,
                rows_written=len(new_bars),
                rows_already_present=present,
                rows_rejected=len(rejections) + len(conflicts),
                first_ts=int(new_bars.ts_ns[0]),
                last_ts=int(new_bars.ts_ns[-1]),
                files_added=commit.files_added,
                files_replaced=commit.files_replaced,
                quantdesk_version=quantdesk.__version__,
                nautilus_trader_version=self._catalog.engine_version,
                started_at_ns=started,
                finished_at_ns=time.time_ns(),
            )

        with progress.task("compare and write", total=len(validated.bars)) as advance:
            outcome = commit_new_bars(self._catalog, validated, instrument, bar_type, lineage)
            advance(len(validated.bars))
        rejections.extend(outcome.conflicts)
        rejections.sort(key=lambda r: r.row)
        new_bars, present, staged = outcome.written, outcome.present, outcome.staged
        rejects_path = _write_rejects(run_dir, rejections) if rejections else None

        summary = IngestSummary(
            ingest_id=ingest_id,
            source=source,
            instrument_id=instrument.instrument_id,
            bar_type=bar_type,
            rows_read=rows_read,
            rows_written=len(new_bars),
            rows_already_present=present,
            rows_rejected=len(rejections),
            rejected_by_reason=dict(sorted(Counter(r.reason.value for r in rejections).items())),
            rows_rounded=validated.rows_rounded,
            first_ts=int(new_bars.ts_ns[0]) if len(new_bars) else None,
            last_ts=int(new_bars.ts_ns[-1]) if len(new_bars) else None,
            files_added=[f.path for f in staged.files_added],
            files_replaced=staged.files_replaced,
            rejects_path=str(rejects_path) if rejects_path else None,
            lineage_recorded=bool(len(new_bars)),
        )
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2))
        return summary

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


def _write_rejects(run_dir: Path, rejections: list[Rejection]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "rejects.csv"
    partial = path.with_suffix(".csv.partial")
    with partial.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REJECT_COLUMNS)
        for r in rejections:
            writer.writerow((r.row, r.field, r.value, r.reason.value, r.detail))
    partial.replace(path)
    return path


def _nothing_valid_message(source: str, rows: int, rejections: list[Rejection]) -> str:
    if rows == 0:
        return f"{source}: no data rows"
    top = Counter(r.reason.value for r in rejections).most_common(3)
    first = rejections[0]
    reasons = ", ".join(f"{reason} x{count}" for reason, count in top)
    return (
        f"{source}: none of {rows} rows is valid ({reasons}); first at line {first.row}: "
        f"{first.field}={first.value!r}: {first.detail}"
    )
