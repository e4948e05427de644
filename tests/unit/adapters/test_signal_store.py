"""The signal buffer: exact round trip, journal then catalog, no overlap, crash safety."""

import itertools
import json
import os
from pathlib import Path

import pyarrow.dataset as pds
import pytest
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

from quantdesk.adapters.nautilus import catalog_transaction, signal_store
from quantdesk.adapters.nautilus.signal_data import (
    AISignalData,
    from_signal_data,
    to_signal_data,
)
from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
from quantdesk.domain.signals import AISignal
from support.signals import INSTRUMENTS, NOW_NS, signal

TYPES = ("SENTIMENT", "REGIME_PREDICTION", "VOLATILITY_FORECAST", "CORRELATION_SHIFT")


def _at(ts: int, **kwargs: object) -> AISignal:
    return signal(ts_event=ts, lag_ns=0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("signal_type", TYPES)
def test_domain_signal_and_engine_data_round_trip_exactly(signal_type: str) -> None:
    original = signal(signal_type=signal_type, instrument_id="EUR/USD.SIM")
    data = to_signal_data(original)
    assert (data.ts_event, data.ts_init) == (original.ts_event, original.ts_init)
    assert str(data.instrument_id) == "EUR/USD.SIM"
    assert data.signal_type == signal_type
    back = from_signal_data(data)
    assert back == original
    assert back.canonical_json() == original.canonical_json()
    assert from_signal_data(AISignalData.from_bytes(data.to_bytes())) == original


def test_flushed_signals_are_the_engines_custom_data(tmp_path: Path) -> None:
    store = ParquetSignalStore(tmp_path)
    written = [_at(NOW_NS + i, signal_type=TYPES[i % 4]) for i in range(20)]
    store.append(written)
    assert store.flush() == 20
    engine = ParquetDataCatalog(str(tmp_path))
    read = [from_signal_data(d) for d in engine.query(AISignalData)]
    assert read == sorted(written, key=lambda s: (s.ts_init, s.signal_id))
    only = engine.query(AISignalData, filter_expr=_type_filter("REGIME_PREDICTION"))
    assert len(only) == 5


def _type_filter(value: str) -> object:
    return pds.field("signal_type") == value


def test_reads_see_appended_signals_and_filter(tmp_path: Path) -> None:
    store = ParquetSignalStore(tmp_path)
    a = _at(NOW_NS, instrument_id="ACME.XNAS")
    b = _at(NOW_NS + 10, instrument_id="BTCUSDT.BINANCE", signal_type="REGIME_PREDICTION")
    c = _at(NOW_NS + 20, instrument_id="ACME.XNAS", signal_type="VOLATILITY_FORECAST")
    store.append([c, a, b])
    assert store.query() == [a, b, c]
    assert store.query(instrument_ids=["ACME.XNAS"]) == [a, c]
    assert store.query(signal_types=["REGIME_PREDICTION"]) == [b]
    assert store.query(start_ns=NOW_NS + 10, end_ns=NOW_NS + 20) == [b, c]
    assert store.query(limit=1) == [a]
    assert store.get(b.signal_id) == b
    assert store.get("nope") is None
    assert store.contains(a.signal_id) and not store.contains("nope")
    assert store.counts() == {
        ("SENTIMENT", "test-model"): 1,
        ("REGIME_PREDICTION", "test-model"): 1,
        ("VOLATILITY_FORECAST", "test-model"): 1,
    }


def test_out_of_order_flushes_never_leave_overlapping_files(tmp_path: Path) -> None:
    store = ParquetSignalStore(tmp_path, compact_below=0)
    batches = [
        [_at(NOW_NS + t) for t in range(100, 200, 10)],
        [_at(NOW_NS + t) for t in range(300, 400, 10)],
        [_at(NOW_NS + t) for t in (150, 250, 350)],  # inside, between and inside again
        [_at(NOW_NS + t) for t in (0, 500)],
        [_at(NOW_NS + 200)],  # equal to an existing ts_init
    ]
    everything: list[AISignal] = []
    for batch in batches:
        store.append(batch)
        store.flush()
        everything += batch
        engine = ParquetDataCatalog(str(tmp_path))
        intervals = engine.get_intervals(AISignalData, "ACME.XNAS")
        assert all(a[1] < b[0] for a, b in itertools.pairwise(intervals))
        read = [from_signal_data(d) for d in engine.query(AISignalData)]
        assert sorted(s.signal_id for s in read) == sorted(s.signal_id for s in everything)
    assert ParquetSignalStore(tmp_path).query() == sorted(
        everything, key=lambda s: (s.ts_init, s.signal_id)
    )


def test_small_tail_files_are_compacted(tmp_path: Path) -> None:
    store = ParquetSignalStore(tmp_path)
    for i in range(5):
        store.append([_at(NOW_NS + 10 * i + k) for k in range(3)])
        store.flush()
    files = list((store.signal_dir / "ACME.XNAS").glob("*.parquet"))
    assert len(files) == 1
    assert len(store.query()) == 15


def test_flush_on_size_and_journal_gone_after_flush(tmp_path: Path) -> None:
    store = ParquetSignalStore(tmp_path, flush_every=10)
    store.append([_at(NOW_NS + i) for i in range(9)])
    journal = tmp_path / ".signals" / "journal"
    assert not list(store.signal_dir.rglob("*.parquet")) if store.signal_dir.exists() else True
    assert len(list(journal.glob("*.open.jsonl"))) == 1
    store.append([_at(NOW_NS + 9)])
    assert len(ParquetDataCatalog(str(tmp_path)).query(AISignalData)) == 10
    assert list(journal.iterdir()) == []


def test_a_dead_writers_journal_is_flushed_by_the_next_open(tmp_path: Path) -> None:
    """The process died after appending (no flush): nothing accepted is lost."""
    first = ParquetSignalStore(tmp_path)
    kept = [_at(NOW_NS + i, instrument_id=INSTRUMENTS[i % 3]) for i in range(6)]
    first.append(kept)
    segment = next((tmp_path / ".signals" / "journal").glob("*.open.jsonl"))
    with segment.open("a") as handle:  # a write cut mid-line by the crash
        handle.write('{"signal_id": "torn')
    assert first._fd is not None
    os.close(first._fd)  # the process is gone: its lock goes with it
    first._fd = None

    second = ParquetSignalStore(tmp_path)
    assert all(second.contains(s.signal_id) for s in kept)
    assert second.flush() == 6
    assert sorted(second.query(), key=lambda s: s.signal_id) == sorted(
        kept, key=lambda s: s.signal_id
    )


def test_a_live_writers_segment_is_left_alone_but_read(tmp_path: Path) -> None:
    writer = ParquetSignalStore(tmp_path)
    live = _at(NOW_NS)
    writer.append([live])
    reader = ParquetSignalStore(tmp_path)
    assert reader.flush() == 0  # the writer holds its segment
    assert reader.query() == [live]
    assert reader.get(live.signal_id) == live
    writer.close()
    assert len(ParquetDataCatalog(str(tmp_path)).query(AISignalData)) == 1


def test_a_flush_that_crashes_before_applying_is_finished_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetSignalStore(tmp_path)
    old = [_at(NOW_NS + t) for t in (0, 100)]
    store.append(old)
    store.flush()
    store.append([_at(NOW_NS + 50)])  # replaces the first file when flushed

    def crash(self: object, txn: object) -> None:
        raise KeyboardInterrupt("power cut after the commit point")

    monkeypatch.setattr(catalog_transaction.CatalogJournal, "_apply", crash)
    with pytest.raises(KeyboardInterrupt):
        store.flush()
    monkeypatch.undo()
    engine_before = ParquetDataCatalog(str(tmp_path)).query(AISignalData)
    assert len(engine_before) == 2  # the old state is what is visible

    reopened = ParquetSignalStore(tmp_path)  # recovery applies the committed flush
    assert len(ParquetDataCatalog(str(tmp_path)).query(AISignalData)) == 3
    assert len(reopened.query()) == 3
    assert list((tmp_path / ".signals" / "journal").glob("*.jsonl")) == []


def test_a_flush_that_crashes_before_committing_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ParquetSignalStore(tmp_path)
    store.append([_at(NOW_NS)])

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full while staging")

    monkeypatch.setattr(catalog_transaction.CatalogJournal, "commit", crash)
    with pytest.raises(OSError, match="disk full"):
        store.flush()
    monkeypatch.undo()
    assert not store.signal_dir.exists() or not list(store.signal_dir.rglob("*.parquet"))
    assert not list((tmp_path / ".txn").glob("*/staged"))
    assert ParquetSignalStore(tmp_path).flush() == 1  # still in the journal, not lost


def _old_way_segment(tmp_path: Path, lines: list[str]) -> Path:
    """A sealed journal segment as an older version wrote it, no check of what it holds."""
    journal = tmp_path / ".signals" / "journal"
    journal.mkdir(parents=True, exist_ok=True)
    segment = journal / "20240101-1-1-0.jsonl"
    segment.write_text("".join(line + "\n" for line in lines))
    return segment


def test_a_journal_line_past_int64_is_quarantined_and_blocks_nothing(tmp_path: Path) -> None:
    good, later = _at(NOW_NS), _at(NOW_NS + 10)
    huge = json.loads(_at(NOW_NS + 5).canonical_json())
    huge["ts_init"] = 2**63  # what validation let through before it checked the range
    _old_way_segment(tmp_path, [good.canonical_json(), json.dumps(huge), "not json"])
    store = ParquetSignalStore(tmp_path)
    assert store.flush() == 1  # the good line moves; the two others are set aside
    assert store.query() == [good]
    kept = store.quarantined()
    assert [(q.row, q.reason, q.field) for q in kept] == [
        (2, "ts_out_of_range", "ts_init"),
        (3, "malformed", "record"),
    ]
    assert kept[0].raw == json.dumps(huge) and kept[0].signal_id == huge["signal_id"]
    assert list((tmp_path / ".signals" / "journal").iterdir()) == []
    store.append([later])  # later signals flush as always
    assert store.flush() == 1
    assert store.query() == [good, later]
    assert len(ParquetSignalStore(tmp_path).quarantined()) == 2  # kept across opens


def test_a_signal_arrow_cannot_hold_is_set_aside_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the cause, one unstorable row never takes its batch down with it."""
    store = ParquetSignalStore(tmp_path)
    ok, broken = _at(NOW_NS), _at(NOW_NS + 1)
    real = signal_store._table

    def picky(signals: object) -> object:
        batch = list(signals)  # type: ignore[call-overload]
        if any(s.signal_id == broken.signal_id for s in batch):
            raise OverflowError("Python int too large to convert to C long")
        return real(batch)

    monkeypatch.setattr(signal_store, "_table", picky)
    store.append([ok, broken])
    assert store.flush() == 1
    monkeypatch.undo()
    assert store.query() == [ok]
    assert [q.signal_id for q in store.quarantined()] == [broken.signal_id]
