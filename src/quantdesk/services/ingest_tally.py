"""What an ingest has done so far, chunk by chunk: counts, the rows' span, the rejections.

Rejections go straight to the rejects file (there can be millions); only their count by
reason and the first one are kept, for the summary and the "nothing valid" message. Chunks
come in file order and each chunk's rejections are written sorted by row, so the file is
sorted by row as a whole.
"""

import csv
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import IO, TypedDict

from quantdesk.domain.market_data import Rejection
from quantdesk.domain.text import shown
from quantdesk.services.columns import BarColumns

REJECT_COLUMNS = ("row", "field", "value", "reason", "detail")


class TallyCounts(TypedDict):
    """The counts a summary and a lineage record both carry."""

    rows_read: int
    rows_written: int
    rows_already_present: int
    rows_rejected: int
    first_ts: int | None
    last_ts: int | None


class IngestTally:
    """Counts across chunks, and the rejects file (``rejects.csv`` in ``run_dir``, made only
    when some row is rejected, complete or absent)."""

    def __init__(self, run_dir: Path) -> None:
        self._run_dir = run_dir
        self._handle: IO[str] | None = None
        self.rows_read = 0
        self.rows_valid = 0
        self.rows_written = 0
        self.rows_present = 0
        self.rows_rounded = 0
        self.latest_valid_ts: int | None = None  # where the next chunk's ordering starts
        self.by_reason: Counter[str] = Counter()
        self.first_rejection: Rejection | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None

    @property
    def rows_rejected(self) -> int:
        return sum(self.by_reason.values())

    def counts(self) -> TallyCounts:
        return TallyCounts(
            rows_read=self.rows_read,
            rows_written=self.rows_written,
            rows_already_present=self.rows_present,
            rows_rejected=self.rows_rejected,
            first_ts=self.first_ts,
            last_ts=self.last_ts,
        )

    @property
    def rejects_path(self) -> Path:
        return self._run_dir / "rejects.csv"

    def read(self, rows: int) -> None:
        self.rows_read += rows

    def judged(self, valid: BarColumns) -> None:
        """The rows that passed the rules: their count, and the latest of them."""
        self.rows_valid += len(valid)
        if len(valid):
            self.latest_valid_ts = int(valid.ts_ns[-1])

    def rounded(self, rows: int) -> None:
        self.rows_rounded += rows

    def compared(self, written: BarColumns, present: int) -> None:
        self.rows_written += len(written)
        self.rows_present += present
        if len(written):
            if self.first_ts is None:
                self.first_ts = int(written.ts_ns[0])
            self.last_ts = int(written.ts_ns[-1])

    def reject(self, rejections: list[Rejection]) -> None:
        """One chunk's rejections (any order), appended to the rejects file by row."""
        if not rejections:
            return
        rejections = sorted(rejections, key=lambda r: r.row)
        if self.first_rejection is None:
            self.first_rejection = rejections[0]
        if self._handle is None:
            self._run_dir.mkdir(parents=True, exist_ok=True)
            self._handle = self._partial.open("w", newline="")
            csv.writer(self._handle).writerow(REJECT_COLUMNS)
        csv.writer(self._handle).writerows(
            (r.row, r.field, r.value, r.reason.value, r.detail) for r in rejections
        )
        self.by_reason.update(r.reason.value for r in rejections)

    @property
    def _partial(self) -> Path:
        return self.rejects_path.with_suffix(".csv.partial")

    def finish(self) -> Path | None:
        """Complete the rejects file; its path, or None when no row was rejected."""
        if self._handle is None:
            return self.rejects_path if self.rows_rejected else None
        self._handle.close()
        self._handle = None
        self._partial.replace(self.rejects_path)
        return self.rejects_path

    def __enter__(self) -> "IngestTally":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """An ingest that failed before ``finish`` leaves no half-written rejects file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._partial.unlink(missing_ok=True)


def nothing_valid_message(source: str, rows_read: int, tally: IngestTally) -> str:
    """Why an ingest of ``source`` wrote nothing: no rows, or its top reasons and the first
    rejected row (bar and tick ingest alike)."""
    first = tally.first_rejection
    if rows_read == 0 or first is None:
        return f"{source}: no data rows"
    top = tally.by_reason.most_common(3)
    reasons = ", ".join(f"{reason} x{count}" for reason, count in top)
    return (
        f"{source}: none of {rows_read} rows is valid ({reasons}); first at line "
        f"{first.row}: {first.field}={shown(first.value)}: {first.detail}"
    )
