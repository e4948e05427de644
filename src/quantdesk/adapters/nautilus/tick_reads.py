"""The catalog's tick and book-delta files as a run reads them: spans and checksums.

The engine writes each instrument's ticks to ``data/<data type>/<instrument>/``, one file
per write, named by its first and last ``ts_init``; the footers give each file's range, so
only a file cut by the run's range is read (its ``ts_init`` column alone).
"""

from pathlib import Path

import pyarrow.parquet as pq

from quantdesk.adapters.nautilus.bar_parquet import describe_file, ts_range
from quantdesk.domain.market_data import CatalogFile
from quantdesk.domain.market_feeds import TICK_DATA_TYPES

_DATA_TYPES = frozenset(TICK_DATA_TYPES.values())


class ParquetTickCatalog:
    """quantdesk's ``TickCatalog`` over the engine's Parquet catalog at ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def _files(self, data_type: str, instrument_id: str) -> list[tuple[Path, int, int]]:
        if data_type not in _DATA_TYPES:
            raise ValueError(f"{data_type!r} is not a tick data type ({sorted(_DATA_TYPES)})")
        folder = self._root / "data" / data_type / instrument_id.replace("/", "")
        files = []
        for path in folder.glob("*.parquet"):
            first, last, _ = ts_range(path)
            files.append((path, first, last))
        return sorted(files, key=lambda f: f[1])

    def tick_span(
        self, data_type: str, instrument_id: str, start_ns: int, end_ns: int
    ) -> tuple[int, int, int]:
        count, first, last = 0, None, None
        for path, lo, hi in self._files(data_type, instrument_id):
            if lo > end_ns or hi < start_ns:
                continue
            if start_ns <= lo and hi <= end_ns:
                rows, a, b = ts_range(path)[2], lo, hi
            else:
                ts = pq.read_table(path, columns=["ts_init"]).column("ts_init").to_numpy()
                ts = ts[(ts >= start_ns) & (ts <= end_ns)]
                if ts.size == 0:
                    continue
                rows, a, b = int(ts.size), int(ts.min()), int(ts.max())
            count += rows
            first = a if first is None else min(first, a)
            last = b if last is None else max(last, b)
        return count, first if first is not None else 0, last if last is not None else -1

    def tick_files(
        self, data_type: str, instrument_id: str, start_ns: int, end_ns: int
    ) -> list[CatalogFile]:
        return [
            describe_file(path, path.relative_to(self._root))
            for path, first, last in self._files(data_type, instrument_id)
            if first <= end_ns and last >= start_ns
        ]
