"""One batch of validated bars into the catalog: only rows it lacks, never a changed one.

Shared by file ingest and table migration. Comparing with the catalog and committing happen
under the catalog's writer lock, so what was found missing is still missing when it is
written, whoever else writes at once. A row the catalog already holds with the same values
is counted as present (re-running an ingest or a migration chunk writes nothing); one it
holds with other values is rejected as ``conflicts_with_catalog``: existing data is never
overwritten.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import LineageRecord, Rejection, RejectReason
from quantdesk.domain.time import ns_to_iso
from quantdesk.services.bar_validation import ValidatedBars
from quantdesk.services.columns import VALUE_FIELDS, BarColumns, BoolArray
from quantdesk.services.ports import MarketDataCatalog, StagedCommit


@dataclass(frozen=True)
class BatchOutcome:
    """``kept``: the valid rows that agree with the catalog (written now or present before),
    in time order; ``written``: the part of them written now."""

    kept: BarColumns
    written: BarColumns
    present: int
    conflicts: list[Rejection]
    staged: StagedCommit


LineageOf = Callable[[BarColumns, int, list[Rejection], StagedCommit], LineageRecord]
"""The lineage record of a commit, from the rows written, the rows present, the conflicts
and the files staged."""


def commit_new_bars(
    catalog: MarketDataCatalog,
    validated: ValidatedBars,
    instrument: InstrumentSpec,
    bar_type: str,
    lineage: LineageOf,
) -> BatchOutcome:
    """Write the batch's rows the catalog lacks, with their lineage, all or nothing."""
    staged = StagedCommit(files_added=[], files_replaced=[])
    with catalog.exclusive():
        new_rows, agrees, conflicts = split_against_catalog(
            catalog, validated, instrument, bar_type
        )
        written = validated.bars.take(new_rows)
        present = int(np.count_nonzero(agrees & ~new_rows))
        if len(written):
            staged = catalog.commit_bars(
                instrument,
                bar_type,
                written,
                lambda commit: lineage(written, present, conflicts, commit),
            )
    return BatchOutcome(
        kept=validated.bars.take(agrees),
        written=written,
        present=present,
        conflicts=conflicts,
        staged=staged,
    )


def split_against_catalog(
    catalog: MarketDataCatalog, validated: ValidatedBars, instrument: InstrumentSpec, bar_type: str
) -> tuple[BoolArray, BoolArray, list[Rejection]]:
    """Which valid rows are new, which agree with the catalog (new ones included), and the
    rejections of those that contradict it."""
    bars = validated.bars
    new_rows: BoolArray = np.ones(len(bars), dtype=np.bool_)
    if len(bars) == 0:
        return new_rows, new_rows.copy(), []
    existing = catalog.read_bars(bar_type, int(bars.ts_ns[0]), int(bars.ts_ns[-1]))
    if len(existing) == 0:
        return new_rows, new_rows.copy(), []
    position = np.searchsorted(existing.ts_ns, bars.ts_ns)
    inside = position < len(existing)
    clipped = np.minimum(position, len(existing) - 1)
    present = inside & (existing.ts_ns[clipped] == bars.ts_ns)
    differs = np.zeros(len(bars), dtype=np.int8) - 1
    for k, name in reversed(list(enumerate(VALUE_FIELDS))):
        tolerance = (
            float(instrument.tick_size) * 1e-3
            if name != "volume"
            else 10.0**-instrument.size_precision * 1e-3
        )
        mismatch = np.abs(existing.field(name)[clipped] - bars.field(name)) > tolerance
        differs[present & mismatch] = k
    conflicts: list[Rejection] = []
    for index in np.flatnonzero(differs >= 0).tolist():
        name = VALUE_FIELDS[differs[index]]
        held = existing.field(name)[clipped[index]]
        conflicts.append(
            Rejection(
                row=int(validated.source_row[index]),
                field=name,
                value=repr(float(bars.field(name)[index])),
                reason=RejectReason.CONFLICTS_WITH_CATALOG,
                detail=(
                    f"the catalog already holds {name}={held!r} for "
                    f"{ns_to_iso(int(bars.ts_ns[index]))}; existing data is never overwritten"
                ),
            )
        )
    return ~present, differs < 0, conflicts


def bars_digest(instrument_id: str, bars: BarColumns) -> str:
    """sha256 of an instrument's bars: its id, then each row's nanosecond timestamp and five
    values as little-endian int64 / float64. Equal digests: equal rows, field by field."""
    digest = hashlib.sha256(instrument_id.encode())
    update_digest(digest, bars)
    return digest.hexdigest()


class Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...


def update_digest(digest: Digest, bars: BarColumns) -> None:
    """Feed rows in time order into a running digest (a day's, or a chunk's)."""
    if len(bars) == 0:
        return
    table = np.empty((len(bars), 6), dtype="<f8")
    table.view("<i8")[:, 0] = bars.ts_ns
    for k, name in enumerate(VALUE_FIELDS, start=1):
        table[:, k] = bars.field(name)
    digest.update(table.data.cast("B"))  # its bytes, not copied (tobytes was 2/3 of it)
