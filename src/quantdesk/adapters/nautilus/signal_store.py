"""The signal buffer: a journal that takes every accepted signal fast, and the catalog it fills.

Where signals live (``root`` is the catalog root, ``QUANTDESK_HOME/catalog``):

- ``.signals/journal/<day>-<pid>-<n>.open.jsonl``: the segment this process appends to, one
  canonical JSON signal per line, one ``write`` per batch (``fsync`` on ``sync()``, on flush,
  on close, or on every append with ``sync_every_append``). The writer holds an ``flock`` on
  it; a segment nobody holds belongs to a dead process and is sealed by the next flush.
- ``data/custom_ai_signal_data/<instrument>/<first>_<last>.parquet``: ``AISignalData`` rows,
  the engine's own layout, read by ``BacktestDataConfig`` for replay. Signal type is a
  column, not a directory: the engine files custom data by instrument only, and a deeper
  directory would hide files from its identifier filter.

A flush seals the segments, lays their signals out so that no Parquet file overlaps another
(signals falling inside or between existing files' ranges are merged with those files into
one replacement; a small last file is merged with the next batch so live flushes do not
leave a trail of tiny files) and commits the new files, the replaced files and the removal
of the sealed segments as one catalog transaction. A crash at any point leaves either the
old state or the new one, and nothing accepted is lost or written twice.

A journal line that cannot become a catalog row (written by an older version that let a
``ts_init`` past 2^63 through, or damaged on disk) never blocks the lines after it: the
flush moves it, with the reason, to ``.signals/quarantine/<segment>.jsonl`` in the same
transaction, and ``quarantined()`` lists it as a rejected record.

``exclusive()`` serialises ingests across processes (``flock`` on ``.signals/ingest.lock``),
so two ingests of one file cannot both judge its signals new.
"""

import fcntl
import hashlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq
from nautilus_trader.core.datetime import unix_nanos_to_iso8601
from nautilus_trader.persistence.funcs import class_to_filename, urisafe_identifier

from quantdesk.adapters.nautilus.catalog_transaction import CatalogJournal, fsync_dir
from quantdesk.adapters.nautilus.signal_data import AISignalData
from quantdesk.adapters.nautilus.signal_journal import (
    BadLine,
    read_lines,
    read_segment,
)
from quantdesk.domain.backtest import SignalDataUsed
from quantdesk.domain.signal_routing import RejectedSignal
from quantdesk.domain.signals import AISignal, SignalRejectReason

JOURNAL_DIR = Path(".signals") / "journal"
QUARANTINE_DIR = Path(".signals") / "quarantine"
INGEST_LOCK = Path(".signals") / "ingest.lock"
OPEN_SUFFIX = ".open.jsonl"
SEALED_SUFFIX = ".jsonl"
SIGNAL_DIR = Path("data") / class_to_filename(AISignalData)
SCHEMA: pa.Schema = AISignalData._schema


class ParquetSignalStore:
    """``SignalStore`` on the catalog: journal segments flushed into ``AISignalData`` files."""

    def __init__(
        self,
        root: Path,
        *,
        flush_every: int = 50_000,
        compact_below: int = 100_000,
        sync_every_append: bool = False,
    ) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._root = root.resolve()
        self._journal_dir = self._root / JOURNAL_DIR
        self._journal_dir.mkdir(parents=True, exist_ok=True)
        self._txn = CatalogJournal(self._root)
        self._txn.recover()
        self._flush_every = flush_every
        self._compact_below = compact_below
        self._sync_every_append = sync_every_append
        self._lock = threading.RLock()
        self._fd: int | None = None
        self._segment: Path | None = None
        self._unflushed = 0
        self._sequence = count()
        self._known: set[str] | None = None  # loaded on first use: opening stays cheap

    @property
    def _ids(self) -> set[str]:
        if self._known is None:
            self._known = set(self._stored_ids())
        return self._known

    @property
    def root(self) -> Path:
        return self._root

    @property
    def signal_dir(self) -> Path:
        return self._root / SIGNAL_DIR

    # writing --------------------------------------------------------------------------------

    def append(self, signals: Sequence[AISignal]) -> None:
        if not signals:
            return
        payload = "".join(s.canonical_json() + "\n" for s in signals).encode()
        with self._lock:
            fd = self._active_fd()
            written = 0
            while written < len(payload):  # a short write is legal; finish it
                written += os.write(fd, payload[written:])
            if self._sync_every_append:
                os.fsync(fd)
            self._ids.update(s.signal_id for s in signals)
            self._unflushed += len(signals)
            due = self._unflushed >= self._flush_every
        if due:
            self.flush()

    def sync(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    def close(self) -> None:
        self.flush()

    def flush(self) -> int:
        with self._lock, self._txn.locked():
            self._seal_active()
            self._seal_orphans()
            segments = sorted(self._journal_dir.glob(f"*{SEALED_SUFFIX}"))
            segments = [s for s in segments if not s.name.endswith(OPEN_SUFFIX)]
            if not segments:
                return 0
            read = [read_lines(path) for path in segments]
            signals = _dedupe(s for lines in read for s in lines.signals)
            bad = [b for lines in read for b in lines.bad]
            moved = self._commit(signals, segments, bad)
            self._unflushed = 0
            return moved

    def _active_fd(self) -> int:
        if self._fd is None:
            day = datetime.now(tz=UTC).strftime("%Y%m%d")
            name = f"{day}-{os.getpid()}-{time.time_ns()}-{next(self._sequence)}{OPEN_SUFFIX}"
            segment = self._journal_dir / name
            # Created under a name no flush looks at, locked, then named: a flush in another
            # process can never take a live segment for a dead writer's.
            creating = segment.with_name(name + ".creating")
            fd = os.open(creating, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            creating.replace(segment)
            fsync_dir(self._journal_dir)
            self._segment = segment
            self._fd = fd
        return self._fd

    def _seal_active(self) -> None:
        if self._fd is None or self._segment is None:
            return
        os.fsync(self._fd)
        os.close(self._fd)  # releases the flock
        self._segment.replace(_sealed_name(self._segment))
        fsync_dir(self._journal_dir)
        self._fd, self._segment = None, None

    def _seal_orphans(self) -> None:
        """Seal segments whose writer died (their ``flock`` is free)."""
        for path in self._journal_dir.glob(f"*{OPEN_SUFFIX}"):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer
            finally:
                os.close(fd)
            path.replace(_sealed_name(path))
        fsync_dir(self._journal_dir)

    def _commit(self, signals: list[AISignal], segments: list[Path], bad: list[BadLine]) -> int:
        by_instrument: dict[str, list[AISignal]] = {}
        for signal in signals:
            by_instrument.setdefault(signal.instrument_id, []).append(signal)
        moved = 0
        with self._txn.begin() as txn:
            added: list[str] = []
            removed: list[str] = []
            for instrument_id, batch in sorted(by_instrument.items()):
                table, unfit = _rows(batch)
                bad.extend(unfit)
                if table.num_rows == 0:
                    continue
                moved += table.num_rows
                folder = SIGNAL_DIR / urisafe_identifier(instrument_id)
                existing = _files(self._root / folder)
                merged, replaced = self._layout(table, existing)
                first = int(merged.column("ts_init")[0].as_py())
                last = int(merged.column("ts_init")[-1].as_py())
                relative = folder / f"{_file_stamp(first)}_{_file_stamp(last)}.parquet"
                target = txn.staged / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(merged, target, row_group_size=5000)
                added.append(str(relative))
                removed.extend(str(p.relative_to(self._root)) for p in replaced)
            if bad:  # kept, with the reason, before the segments holding them go
                relative = QUARANTINE_DIR / f"{_quarantine_name()}.jsonl"
                target = txn.staged / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text("".join(json.dumps(b.record()) + "\n" for b in bad))
                added.append(str(relative))
            removed.extend(str(p.relative_to(self._root)) for p in segments)
            self._txn.commit(txn, added, removed, None, None)
        return moved

    def _layout(
        self, batch: pa.Table, existing: list[tuple[Path, int, int, int]]
    ) -> tuple[pa.Table, list[Path]]:
        """One new file for the batch, absorbing every file it would overlap.

        Files whose ``[first, last]`` meets the batch's range are merged in (so is a small
        file just before it); the result covers a range no remaining file touches, because
        the remaining ones all lay wholly before or after the absorbed ones.
        """
        lo = int(pc.min(batch.column("ts_init")).as_py())
        hi = int(pc.max(batch.column("ts_init")).as_py())
        replaced = [p for p, first, last, _ in existing if first <= hi and last >= lo]
        before = [f for f in existing if f[2] < lo]
        if before:
            path, _, _, rows = max(before, key=lambda f: f[2])
            if rows < self._compact_below:
                replaced.append(path)
        tables = [batch, *(pq.read_table(p, schema=SCHEMA) for p in replaced)]
        merged = pa.concat_tables(tables)
        ids = merged.column("signal_id")
        if len(pc.unique(ids)) != merged.num_rows:
            merged = _drop_repeated_ids(merged)
        merged = merged.sort_by([("ts_init", "ascending"), ("signal_id", "ascending")])
        return merged, replaced

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One ingest at a time across processes; ids are re-read once the lock is held."""
        lock_path = self._root / INGEST_LOCK
        with self._lock, lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self._known = None  # another process may have buffered signals meanwhile
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def quarantined(self) -> list[RejectedSignal]:
        """Journal lines a flush could not store, as rejects (reason, line, raw text)."""
        folder = self._root / QUARANTINE_DIR
        if not folder.is_dir():
            return []
        return [
            RejectedSignal(**json.loads(line))
            for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text().splitlines()
            if line.strip()
        ]

    # reading --------------------------------------------------------------------------------

    def contains(self, signal_id: str) -> bool:
        return signal_id in self._ids

    def get(self, signal_id: str) -> AISignal | None:
        if signal_id not in self._ids:
            return None
        found = self._read(pc.field("signal_id") == signal_id, None, None)
        return found[0] if found else None

    def query(
        self,
        *,
        signal_types: Sequence[str] | None = None,
        instrument_ids: Sequence[str] | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int | None = None,
    ) -> list[AISignal]:
        condition: pc.Expression | None = None

        def both(extra: pc.Expression) -> None:
            nonlocal condition
            condition = extra if condition is None else condition & extra

        if signal_types:
            both(pc.field("signal_type").isin(list(signal_types)))
        if start_ns is not None:
            both(pc.field("ts_init") >= start_ns)
        if end_ns is not None:
            both(pc.field("ts_init") <= end_ns)
        found = self._read(condition, instrument_ids, limit)
        return found

    def counts(self) -> dict[tuple[str, str], int]:
        self.flush()
        totals: Counter[tuple[str, str]] = Counter()
        files = [str(p) for p, *_ in self._all_files(None)]
        if files:
            table = pds.dataset(files, schema=SCHEMA).to_table(
                columns=["signal_type", "source_model"]
            )
            grouped = table.group_by(["signal_type", "source_model"]).aggregate(
                [("signal_type", "count")]
            )
            for row in grouped.to_pylist():
                totals[(row["signal_type"], row["source_model"])] += int(row["signal_type_count"])
        for signal in self._open_segment_signals():
            totals[(signal.signal_type.value, signal.source_model)] += 1
        return dict(totals)

    def replay_data(
        self,
        instrument_id: str,
        signal_types: Sequence[str] | None,
        start_ns: int,
        end_ns: int,
    ) -> SignalDataUsed:
        """What replay reads for one instrument: the flushed files overlapping the range.

        Checksums cover whole files (other types and times included), as the engine reads
        them: any change to a file the run reads changes the run's fingerprint.
        """
        with self._lock:
            files = [
                path
                for path, first, last, _ in self._all_files([instrument_id])
                if first <= end_ns and last >= start_ns
            ]
            condition = (pc.field("ts_init") >= start_ns) & (pc.field("ts_init") <= end_ns)
            if signal_types:
                condition = condition & pc.field("signal_type").isin(list(signal_types))
            stamps = pa.chunked_array([], pa.int64())
            if files:
                stamps = (
                    pds.dataset([str(p) for p in files], schema=SCHEMA)
                    .to_table(columns=["ts_init"], filter=condition)
                    .column("ts_init")
                )
            count = len(stamps)
            return SignalDataUsed(
                instrument_id=instrument_id,
                signal_types=list(signal_types) if signal_types else None,
                signals=count,
                first_ts=int(pc.min(stamps).as_py()) if count else None,
                last_ts=int(pc.max(stamps).as_py()) if count else None,
                file_sha256=[_sha256(p) for p in files],
            )

    def _read(
        self,
        condition: pc.Expression | None,
        instrument_ids: Sequence[str] | None,
        limit: int | None,
    ) -> list[AISignal]:
        self.flush()
        files = [str(p) for p, *_ in self._all_files(instrument_ids)]
        signals: list[AISignal] = []
        if files:
            table = pds.dataset(files, schema=SCHEMA).to_table(
                columns=["payload", "ts_init", "signal_id"], filter=condition
            )
            table = table.sort_by([("ts_init", "ascending"), ("signal_id", "ascending")])
            if limit is not None:
                table = table.slice(0, limit)
            signals = [AISignal.model_validate_json(p) for p in table.column("payload").to_pylist()]
        live = [
            s
            for s in self._open_segment_signals()
            if (not instrument_ids or s.instrument_id in instrument_ids)
            and (condition is None or _matches(s, condition))
        ]
        if live:  # other processes' unflushed signals, so a read sees every accepted one
            signals = sorted(_dedupe([*signals, *live]), key=lambda s: (s.ts_init, s.signal_id))
            if limit is not None:
                signals = signals[:limit]
        return signals

    def _all_files(self, instrument_ids: Sequence[str] | None) -> list[tuple[Path, int, int, int]]:
        base = self.signal_dir
        if not base.is_dir():
            return []
        folders = (
            [base / urisafe_identifier(i) for i in instrument_ids]
            if instrument_ids
            else sorted(p for p in base.iterdir() if p.is_dir())
        )
        return [f for folder in folders for f in _files(folder)]

    def _open_segment_signals(self) -> Iterator[AISignal]:
        for path in sorted(self._journal_dir.glob("*.jsonl")):
            yield from read_segment(path)

    def _stored_ids(self) -> Iterator[str]:
        files = [str(p) for p, *_ in self._all_files(None)]
        if files:
            table = pds.dataset(files, schema=SCHEMA).to_table(columns=["signal_id"])
            yield from table.column("signal_id").to_pylist()
        for signal in self._open_segment_signals():
            yield signal.signal_id


def _matches(signal: AISignal, condition: pc.Expression) -> bool:
    table = _table([signal]).filter(condition)
    return bool(table.num_rows)


def _table(signals: Iterable[AISignal]) -> pa.Table:
    rows = [
        {
            "instrument_id": s.instrument_id,
            "signal_id": s.signal_id,
            "signal_type": s.signal_type.value,
            "confidence": s.confidence,
            "source_model": s.source_model,
            "payload": s.canonical_json(),
            "type": AISignalData.__name__,
            "ts_event": s.ts_event,
            "ts_init": s.ts_init,
        }
        for s in signals
    ]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _drop_repeated_ids(table: pa.Table) -> pa.Table:
    seen: set[str] = set()
    keep = []
    for signal_id in table.column("signal_id").to_pylist():
        keep.append(signal_id not in seen)
        seen.add(signal_id)
    return table.filter(pa.array(keep))


def _dedupe(signals: Iterable[AISignal]) -> list[AISignal]:
    seen: set[str] = set()
    unique = []
    for signal in signals:
        if signal.signal_id not in seen:
            seen.add(signal.signal_id)
            unique.append(signal)
    return unique


def _rows(batch: list[AISignal]) -> tuple[pa.Table, list[BadLine]]:
    """The batch as catalog rows; a signal Arrow cannot hold is set aside, never the batch."""
    try:
        return _table(batch), []
    except (OverflowError, pa.ArrowException):
        pass
    good: list[AISignal] = []
    bad: list[BadLine] = []
    for signal in batch:
        try:
            _table([signal])
        except (OverflowError, pa.ArrowException) as error:
            bad.append(
                BadLine(
                    "journal",
                    0,
                    signal.canonical_json(),
                    SignalRejectReason.MALFORMED,
                    "signal",
                    f"not storable in the catalog: {error}",
                    time.time_ns(),
                )
            )
        else:
            good.append(signal)
    return _table(good), bad


def _quarantine_name() -> str:
    """Unique across processes and flushes; sorts by time."""
    return f"{time.time_ns()}-{os.getpid()}-{os.urandom(4).hex()}"


def _files(folder: Path) -> list[tuple[Path, int, int, int]]:
    """(path, first ts_init, last ts_init, rows) of one instrument's files, in time order."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("*.parquet"):
        meta = pq.read_metadata(path)
        column = meta.schema.names.index("ts_init")
        lows, highs = [], []
        for group in range(meta.num_row_groups):
            stats = meta.row_group(group).column(column).statistics
            if stats is None or not stats.has_min_max:
                values = pq.read_table(path, columns=["ts_init"]).column("ts_init")
                lows, highs = [pc.min(values).as_py()], [pc.max(values).as_py()]
                break
            lows.append(stats.min)
            highs.append(stats.max)
        if lows:
            found.append((path, int(min(lows)), int(max(highs)), meta.num_rows))
    return sorted(found, key=lambda f: f[1])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _file_stamp(ns: int) -> str:
    """The engine's file-name form of a timestamp (``:`` and ``.`` become ``-``)."""
    return str(unix_nanos_to_iso8601(ns)).replace(":", "-").replace(".", "-")


def _sealed_name(path: Path) -> Path:
    return path.with_name(path.name[: -len(OPEN_SUFFIX)] + SEALED_SUFFIX)
