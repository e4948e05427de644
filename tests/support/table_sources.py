"""A ``TableSource`` over rows held in memory: the migration service's tests without a
PostgreSQL server (the real reader has its own tests against the server).

Rows are ``{column: cell}`` dicts with a zone-aware ``datetime`` (or ``None``) in the
mapping's timestamp column; they are read in (timestamp, key) order, rows without a
timestamp last, ``chunk_rows`` at a time, each chunk ending at the end of an instant, and
converted by the same ``raw_bars`` / ``raw_ticks`` the PostgreSQL reader uses.
"""

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from quantdesk.adapters.sources.table_bars import raw_bars
from quantdesk.adapters.sources.table_cells import Cell, SourceChunk
from quantdesk.adapters.sources.table_ticks import raw_ticks
from quantdesk.domain.migration import Watermark
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import BarColumns
from quantdesk.services.ports.table_sources import BarChunk, DayWindow, TickChunk

Row = dict[str, Cell]
_EPOCH = date(1970, 1, 1)


def bars_mapping(**change: Any) -> SourceMapping:
    """A bars mapping of table ``bars`` (columns named as the fields, ``ts``, key ``id``,
    every row about A.XNAS), with ``change`` applied: the tests' one starting point."""
    document: dict[str, Any] = {
        "name": "a-bars",
        "kind": "bars",
        "table": "bars",
        "bar_spec": "1-MINUTE-LAST",
        "timestamp": {"column": "ts"},
        "instrument": {"instrument_id": "A.XNAS"},
        "key": "id",
    }
    return SourceMapping.model_validate({**document, **change})


def source_day(stamp: datetime) -> int:
    return (stamp.astimezone(UTC).date() - _EPOCH).days


class ListTableSource:
    """The port over ``rows`` (the list itself: a test appends to it between runs)."""

    def __init__(self, rows: list[Row], name: str = "memory://table") -> None:
        self.rows = rows
        self.name = name
        self.snapshots = 0

    def describe(self) -> str:
        return self.name

    def problems(self, mapping: SourceMapping) -> Sequence[str]:
        if not self.rows:
            return []
        missing = sorted(set(mapping.selected()) - set(self.rows[0]))
        return [f"{mapping.table} has no column {c}" for c in missing]

    @contextmanager
    def snapshot(self, mapping: SourceMapping) -> Iterator["ListSnapshot"]:
        self.snapshots += 1
        yield ListSnapshot(list(self.rows), mapping)


class ListSnapshot:
    def __init__(self, rows: list[Row], mapping: SourceMapping) -> None:
        ts, key = mapping.timestamp.column, mapping.key

        def order(row: Row) -> tuple[bool, datetime, object]:
            stamp = row[ts]
            when = stamp if isinstance(stamp, datetime) else datetime.min.replace(tzinfo=UTC)
            return (stamp is None, when, 0 if key is None else row[key])

        self._rows = sorted(rows, key=order)
        self._mapping = mapping
        self._ts = ts

    def _select(
        self, after: Watermark | None, days: DayWindow | None, through: Watermark | None
    ) -> list[Row]:
        out = []
        for row in self._rows:
            stamp = row[self._ts]
            if not isinstance(stamp, datetime):
                if days is None and through is None:
                    out.append(row)
                continue
            if after is not None and not stamp > after.timestamp:  # type: ignore[operator]
                continue
            if through is not None and not stamp <= through.timestamp:  # type: ignore[operator]
                continue
            if days is not None and not days.first <= source_day(stamp) <= days.last:
                continue
            out.append(row)
        return out

    def count(self, after: Watermark | None = None, through: Watermark | None = None) -> int:
        return len(self._select(after, None, through))

    def day_counts(self, through: Watermark) -> dict[int, int]:
        counts: dict[int, int] = {}
        for row in self._select(None, None, through):
            day = source_day(row[self._ts])  # type: ignore[arg-type]
            counts[day] = counts.get(day, 0) + 1
        return counts

    def bar_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[BarChunk]:
        for chunk in self._chunks(after, days, through):
            bars, rejections = raw_bars(SourceChunk(chunk.columns, chunk.first_row), self._mapping)
            yield BarChunk(**chunk.frame(), rejections=rejections, bars=bars)

    def tick_chunks(
        self,
        after: Watermark | None = None,
        days: DayWindow | None = None,
        through: Watermark | None = None,
    ) -> Iterator[TickChunk]:
        for chunk in self._chunks(after, days, through):
            ticks, rejections = raw_ticks(
                SourceChunk(chunk.columns, chunk.first_row), self._mapping
            )
            yield TickChunk(**chunk.frame(), rejections=rejections, ticks=ticks)

    def _chunks(
        self, after: Watermark | None, days: DayWindow | None, through: Watermark | None
    ) -> Iterator["_Rows"]:
        rows = self._select(after, days, through)
        size, start = self._mapping.chunk_rows, 0
        while start < len(rows):
            end = min(start + size, len(rows))
            last = rows[end - 1][self._ts]
            while last is not None and end < len(rows) and rows[end][self._ts] == last:
                end += 1
            yield _Rows(rows[start:end], start + 1, self._mapping)
            start = end

    def query_text(self, after: Watermark | None = None) -> str:
        return f"rows of {self._mapping.table} after {after}"


@dataclasses.dataclass(frozen=True)
class _Rows:
    rows: list[Row]
    first_row: int
    mapping: SourceMapping

    @property
    def columns(self) -> dict[str, list[Cell]]:
        return {c: [row[c] for row in self.rows] for c in self.mapping.selected()}

    def frame(self) -> dict[str, Any]:
        ts = self.mapping.timestamp.column
        stamps = [r[ts] for r in self.rows if isinstance(r[ts], datetime)]
        days: dict[int, int] = {}
        for stamp in stamps:
            day = source_day(stamp)  # type: ignore[arg-type]
            days[day] = days.get(day, 0) + 1
        return {
            "rows": len(self.rows),
            "first_row": self.first_row,
            "last": Watermark(timestamp=stamps[-1]) if stamps else None,  # type: ignore[arg-type]
            "days": days,
        }


class CorruptingCatalog:
    """The real catalog, except that reads return one close changed (a disk that lies)."""

    def __init__(self, catalog: Any) -> None:
        self._catalog = catalog
        self.corrupt = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)

    def read_bars(self, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        held = self._catalog.read_bars(bar_type, start_ns, end_ns)
        if not self.corrupt or len(held) == 0:
            return held
        close = held.close.copy()
        close[-1] += 0.01
        return dataclasses.replace(held, close=close)
