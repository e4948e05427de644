"""The catalog a trial worker reads: each answer kept until the files behind it change.

Before and after the engine, a run reads the catalog several times: its instruments (the
plan check, twice), the span and files of each bar type (pinning the range, fingerprinting
the data by file checksum), and the closes for marking to market. For a sweep these are the
same answers every trial, ~45 ms of Parquet footers, globs and sha256 per trial at two days of
minute bars. :class:`WarmCatalog` answers them from memory, keyed by the identity (name,
size, mtime, inode) of the files each answer came from, so a write between two trials (an
ingest, a new instrument) is read afresh. Arrays handed out are read-only: a caller that
wrote into one would change the next trial's input.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import CatalogEntry, CatalogFile
from quantdesk.services.columns import BarColumns, Float64Array, Int64Array

T = TypeVar("T")
ANSWERS_MAX = 256
"""Answers kept (least recently used go first); each is one bar type's range or smaller."""


def _identity(paths: Iterable[Path]) -> tuple[tuple[str, int, int, int], ...]:
    found = []
    for path in sorted(paths):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed by a concurrent commit: a new identity anyway
            continue
        found.append((str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return tuple(found)


def _frozen(array: np.ndarray) -> Any:
    array.flags.writeable = False
    return array


class WarmCatalog(ParquetCatalog):
    """A ``ParquetCatalog`` whose reads are kept per file identity (writes go through)."""

    def __init__(self, root: Path, *, answers_max: int = ANSWERS_MAX) -> None:
        super().__init__(root)
        self._answers: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._answers_max = answers_max

    def _kept(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        if key in self._answers:
            self._answers.move_to_end(key)
            found: T = self._answers[key]
            return found
        value = compute()
        self._answers[key] = value
        while len(self._answers) > self._answers_max:
            self._answers.popitem(last=False)
        return value

    def _bar_identity(self, bar_type: str) -> tuple[Any, ...]:
        return _identity(self._bar_dir(bar_type).glob("*.parquet"))

    def _all_identity(self) -> tuple[Any, ...]:
        return _identity((self.root / "data").rglob("*.parquet"))

    # instruments --------------------------------------------------------------------------

    def instrument(self, instrument_id: str) -> InstrumentSpec | None:
        key = ("instrument", instrument_id, _identity(self._instrument_files(instrument_id)))
        return self._kept(key, lambda: super(WarmCatalog, self).instrument(instrument_id))

    def instruments(self) -> list[InstrumentSpec]:
        key = ("instruments", self._all_identity())
        return list(self._kept(key, lambda: super(WarmCatalog, self).instruments()))

    def entries(self) -> list[CatalogEntry]:
        key = ("entries", self._all_identity())
        return list(self._kept(key, lambda: super(WarmCatalog, self).entries()))

    # bars -----------------------------------------------------------------------------------

    def bar_files(self, bar_type: str, start_ns: int, end_ns: int) -> list[CatalogFile]:
        key = ("bar_files", bar_type, start_ns, end_ns, self._bar_identity(bar_type))
        return list(
            self._kept(key, lambda: super(WarmCatalog, self).bar_files(bar_type, start_ns, end_ns))
        )

    def lies_within(self, bar_type: str, start_ns: int, end_ns: int) -> bool:
        key = ("lies_within", bar_type, start_ns, end_ns, self._bar_identity(bar_type))
        return self._kept(
            key, lambda: super(WarmCatalog, self).lies_within(bar_type, start_ns, end_ns)
        )

    def bar_span(self, bar_type: str, start_ns: int, end_ns: int) -> tuple[int, int, int]:
        key = ("bar_span", bar_type, start_ns, end_ns, self._bar_identity(bar_type))
        return self._kept(
            key, lambda: super(WarmCatalog, self).bar_span(bar_type, start_ns, end_ns)
        )

    def read_closes(
        self, bar_type: str, start_ns: int, end_ns: int
    ) -> tuple[Int64Array, Float64Array]:
        def read() -> tuple[Int64Array, Float64Array]:
            stamps, closes = super(WarmCatalog, self).read_closes(bar_type, start_ns, end_ns)
            return _frozen(stamps), _frozen(closes)

        key = ("read_closes", bar_type, start_ns, end_ns, self._bar_identity(bar_type))
        return self._kept(key, read)

    def read_bars(self, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        def read() -> BarColumns:
            bars = super(WarmCatalog, self).read_bars(bar_type, start_ns, end_ns)
            return BarColumns(
                ts_ns=_frozen(bars.ts_ns),
                open=_frozen(bars.open),
                high=_frozen(bars.high),
                low=_frozen(bars.low),
                close=_frozen(bars.close),
                volume=_frozen(bars.volume),
            )

        key = ("read_bars", bar_type, start_ns, end_ns, self._bar_identity(bar_type))
        return self._kept(key, read)
