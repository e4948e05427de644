"""Scratch catalogs on disk: a stress scenario's transformed copy of part of the real catalog.

Each scratch catalog is a ``ParquetCatalog`` of its own under ``scratch_dir`` (a directory
named after the scenario plus a random suffix, marked by ``MARKER``), written through that
catalog's ordinary transactional path (``put_instrument``, ``commit_bars``), so the engine
reads it exactly like the desk's. The real catalog is only ever read: ``read_bars``,
``instrument`` and, for ``checksum``, its files' bytes.
"""

import hashlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import quantdesk
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.catalog_transaction import LOCK_FILE, TXN_DIR
from quantdesk.adapters.nautilus.signal_store import SIGNAL_DIR
from quantdesk.domain.backtest_plan import instrument_of
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.instruments import InstrumentSpec
from quantdesk.domain.market_data import LineageRecord
from quantdesk.services.columns import VALUE_FIELDS, BarColumns
from quantdesk.services.ports import StagedCommit
from quantdesk.services.ports.scratch import BarTransform
from quantdesk.services.validation.stress_transforms import conform_bars

MARKER = ".quantdesk-scratch"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")[:40] or "scratch"


def _bars_sha256(bars: BarColumns) -> str:
    digest = hashlib.sha256()
    for column in (bars.ts_ns, *(bars.field(f) for f in VALUE_FIELDS)):
        digest.update(column.tobytes())
    return digest.hexdigest()


class ParquetScratchCatalogs:
    """``ScratchCatalogs`` on Parquet: copies of ``real`` under ``scratch_dir``."""

    def __init__(self, real: ParquetCatalog, scratch_dir: Path) -> None:
        self._real = real
        self._dir = scratch_dir.resolve()

    def create(
        self,
        name: str,
        bar_types: Sequence[str],
        start_ns: int,
        end_ns: int,
        transform: BarTransform,
        *,
        with_signals: bool = False,
    ) -> str:
        """``with_signals``: the real catalog's AI signals copied too (for a request that
        replays them; they are not transformed)."""
        self._dir.mkdir(parents=True, exist_ok=True)
        root = self._dir / f"{_slug(name)}-{uuid.uuid4().hex[:12]}"
        root.mkdir()
        (root / MARKER).write_text(f"scratch catalog of {self._real.root}\n")
        try:
            self._fill(ParquetCatalog(root), name, bar_types, start_ns, end_ns, transform)
            signals = self._real.root / SIGNAL_DIR
            if with_signals and signals.is_dir():
                shutil.copytree(signals, root / SIGNAL_DIR)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return str(root)

    def _fill(
        self,
        scratch: ParquetCatalog,
        name: str,
        bar_types: Sequence[str],
        start_ns: int,
        end_ns: int,
        transform: BarTransform,
    ) -> None:
        copied: dict[str, InstrumentSpec] = {}
        price_max = self._real.value_bounds.price_max
        for bar_type in bar_types:
            instrument_id = instrument_of(bar_type)
            spec = copied.get(instrument_id) or self._real.instrument(instrument_id)
            if spec is None:
                raise InvalidInputError(
                    f"the catalog has no instrument {instrument_id} for a scratch copy"
                )
            if instrument_id not in copied:
                scratch.put_instrument(spec)
                copied[instrument_id] = spec
            started = time.time_ns()
            bars = self._real.read_bars(bar_type, start_ns, end_ns)
            if len(bars) == 0:
                raise InvalidInputError(f"the catalog holds no {bar_type} bars in the range")
            tick = float(spec.tick_size)
            out = conform_bars(transform(bars), tick, spec.price_precision, price_max)
            if len(out) == 0:
                raise InvalidInputError(f"scenario {name!r} left no {bar_type} bar")
            source = f"scratch:{name};from={self._real.root};bar_type={bar_type}"
            scratch.commit_bars(
                spec, bar_type, out, self._lineage(spec, bar_type, source, len(bars), out, started)
            )

    def _lineage(
        self,
        spec: InstrumentSpec,
        bar_type: str,
        source: str,
        rows_read: int,
        written: BarColumns,
        started: int,
    ) -> Callable[[StagedCommit], LineageRecord]:
        """The lineage record of one scratch commit (``commit_bars`` calls it once staged)."""

        def record(staged: StagedCommit) -> LineageRecord:
            return LineageRecord(
                ingest_id=uuid.uuid4().hex,
                source=source,
                source_sha256=_bars_sha256(written),
                instrument_id=spec.instrument_id,
                bar_type=bar_type,
                rows_read=rows_read,
                rows_written=len(written),
                rows_already_present=0,
                rows_rejected=rows_read - len(written),
                first_ts=int(written.ts_ns[0]),
                last_ts=int(written.ts_ns[-1]),
                files_added=staged.files_added,
                files_replaced=staged.files_replaced,
                quantdesk_version=quantdesk.__version__,
                nautilus_trader_version=self._real.engine_version,
                started_at_ns=started,
                finished_at_ns=time.time_ns(),
            )

        return record

    def remove(self, root: str) -> None:
        path = Path(root).resolve()
        if path.parent != self._dir or not (path / MARKER).is_file():
            raise InvalidInputError(
                f"{root} is not a scratch catalog under {self._dir}: not removed"
            )
        shutil.rmtree(path)

    def checksum(self) -> str:
        """sha256 over (relative path, size, bytes) of every file of the real catalog in path
        order, leaving out its lock files (empty, created by any writer's first lock) and
        in-flight transaction directories (nothing there is data until committed)."""
        root = self._real.root
        digest = hashlib.sha256()
        files: list[Path] = []
        for folder, dirs, names in os.walk(root):
            here = Path(folder)
            if here == root:
                dirs[:] = [d for d in dirs if d != TXN_DIR]
            files.extend(here / n for n in names if n != LOCK_FILE and not n.endswith(".lock"))
        for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
            relative = path.relative_to(root).as_posix().encode()
            digest.update(len(relative).to_bytes(8, "big") + relative)
            digest.update(path.stat().st_size.to_bytes(8, "big"))
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        return digest.hexdigest()
