"""Ingest into a real Parquet catalog: atomicity, idempotence, append, overlap, lineage.

Property 25 (stored in the engine's Parquet format, readable by it), 28 (incremental
additions without rebuilds), 30 (invalid data rejected at ingest), 32 (lineage preserved).
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import multiprocessing
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pyarrow as pa
import pytest
from nautilus_trader.model.data import Bar
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

import quantdesk
from quantdesk.adapters.nautilus import catalog_stage
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.catalog_transaction import CatalogJournal
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.errors import NotFoundError, NothingValidError
from quantdesk.domain.market_data import BarIngestOptions, RejectReason, TimestampAt
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.columns import BarColumns
from quantdesk.services.platform import Platform
from support.bars import MINUTE_NS, T0, rows
from support.catalog_snapshot import read_rejects, snapshot

BAR_TYPE = "ACME.XNAS-1-MINUTE-LAST-EXTERNAL"
WriteCsv = Callable[..., Path]


def engine_bars(desk: Platform) -> list[Bar]:
    return ParquetDataCatalog(str(desk.home / "catalog")).bars(bar_types=[BAR_TYPE])


def test_written_bars_are_what_the_engine_reads(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(50)
    summary = desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (50, 50, 0)
    bars = engine_bars(desk_with_equity)
    assert [b.ts_init for b in bars] == [T0 + i * MINUTE_NS for i in range(50)]
    assert [b.ts_event for b in bars] == [b.ts_init for b in bars]
    assert [(str(b.open), str(b.high), str(b.low), str(b.close)) for b in bars] == [
        tuple(r[1:5]) for r in source
    ]
    assert [str(b.volume) for b in bars] == [str(r[5]) for r in source]
    assert str(bars[0].bar_type) == BAR_TYPE


def test_unknown_instrument_is_refused_before_reading(desk: Platform, write_csv: WriteCsv) -> None:
    with pytest.raises(NotFoundError, match="instruments add"):
        desk.ingest.ingest_bars(write_csv(rows(3)), "NOPE.XNAS", "1-MINUTE-LAST")


def test_rejected_rows_go_to_a_rejects_file(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(6)
    source[2][1] = "oops"  # open not a number
    source[4][2] = "90.00"  # high below the body
    summary = desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    assert (summary.rows_written, summary.rows_rejected) == (4, 2)
    assert summary.rejected_by_reason == {"ohlc_inconsistent": 1, "value_not_a_number": 1}
    assert summary.rejects_path is not None
    lines = Path(summary.rejects_path).read_text().splitlines()
    assert lines[0] == "row,field,value,reason,detail"
    assert lines[1].startswith("4,open,oops,value_not_a_number,")
    assert lines[2].startswith("6,high,90.00,ohlc_inconsistent,")
    assert len(engine_bars(desk_with_equity)) == 4


def test_nothing_valid_is_an_error_that_points_at_the_rejects(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(3)
    for row in source:
        row[5] = -1
    with pytest.raises(NothingValidError, match="volume_negative x3") as caught:
        desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    assert caught.value.hint is not None and "rejects.csv" in caught.value.hint
    assert engine_bars(desk_with_equity) == []


def test_a_huge_refused_cell_is_not_echoed_whole(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(1)
    source[0][5] = "9" * 100_000  # no number: a megabyte-sized cell must not fill the message
    with pytest.raises(NothingValidError) as caught:
        desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    assert "100000 characters" in str(caught.value) and len(str(caught.value)) < 1_000


def test_reingest_writes_nothing_new(desk_with_equity: Platform, write_csv: WriteCsv) -> None:
    path = write_csv(rows(30))
    desk_with_equity.ingest.ingest_bars(path, "ACME.XNAS", "1-MINUTE-LAST")
    before = snapshot(desk_with_equity.home / "catalog")
    again = desk_with_equity.ingest.ingest_bars(path, "ACME.XNAS", "1-MINUTE-LAST")
    assert (again.rows_written, again.rows_already_present, again.files_added) == (0, 30, [])
    assert not again.lineage_recorded
    assert snapshot(desk_with_equity.home / "catalog") == before
    assert len(desk_with_equity.catalog.lineage()) == 1


def test_a_later_range_appends_without_rewriting(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    desk_with_equity.ingest.ingest_bars(write_csv(rows(30)), "ACME.XNAS", "1-MINUTE-LAST")
    first = snapshot(desk_with_equity.home / "catalog")
    later = desk_with_equity.ingest.ingest_bars(
        write_csv(rows(20, start_ns=T0 + 30 * MINUTE_NS)), "ACME.XNAS", "1-MINUTE-LAST"
    )
    assert (later.rows_written, later.files_replaced) == (20, [])
    after = snapshot(desk_with_equity.home / "catalog")
    assert {k: v for k, v in after.items() if k in first and k.startswith("data/")} == {
        k: v for k, v in first.items() if k.startswith("data/")
    }
    assert len([k for k in after if k.startswith("data/bar/")]) == 2
    assert len(engine_bars(desk_with_equity)) == 50


def test_overlap_is_deduplicated_and_gaps_are_merged(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    full = rows(40)
    # first the even minutes 10..29, leaving holes inside the file's range
    desk_with_equity.ingest.ingest_bars(write_csv(full[10:30:2]), "ACME.XNAS", "1-MINUTE-LAST")
    summary = desk_with_equity.ingest.ingest_bars(write_csv(full), "ACME.XNAS", "1-MINUTE-LAST")
    assert (summary.rows_written, summary.rows_already_present) == (30, 10)
    assert len(summary.files_replaced) == 1
    bars = engine_bars(desk_with_equity)
    assert [b.ts_init for b in bars] == [T0 + i * MINUTE_NS for i in range(40)]
    catalog = ParquetDataCatalog(str(desk_with_equity.home / "catalog"))
    intervals = catalog.get_intervals(Bar, BAR_TYPE)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(intervals))


def test_new_rows_around_an_untouched_file_make_separate_files(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    full = rows(30)
    desk_with_equity.ingest.ingest_bars(write_csv(full[10:20]), "ACME.XNAS", "1-MINUTE-LAST")
    summary = desk_with_equity.ingest.ingest_bars(
        write_csv(full[:10] + full[20:]), "ACME.XNAS", "1-MINUTE-LAST"
    )
    assert (len(summary.files_added), summary.files_replaced) == (2, [])
    assert len(engine_bars(desk_with_equity)) == 30


def test_conflicting_values_are_rejected_never_overwritten(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(5)
    desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    changed = [list(r) for r in source]
    changed[3][4] = f"{float(changed[3][4]) + 0.01:.2f}"
    summary = desk_with_equity.ingest.ingest_bars(write_csv(changed), "ACME.XNAS", "1-MINUTE-LAST")
    assert summary.rejected_by_reason == {RejectReason.CONFLICTS_WITH_CATALOG.value: 1}
    assert summary.rows_already_present == 4
    assert str(engine_bars(desk_with_equity)[3].close) == source[3][4]


def test_a_failure_midway_leaves_the_catalog_as_it_was(
    desk_with_equity: Platform, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = rows(30)
    desk_with_equity.ingest.ingest_bars(write_csv(full[10:20]), "ACME.XNAS", "1-MINUTE-LAST")
    before = snapshot(desk_with_equity.home / "catalog")
    real_write = catalog_stage.write_catalog_file
    calls = []

    def failing_write(table: pa.Table, path: Path) -> None:
        calls.append(table.num_rows)
        real_write(table, path)
        if len(calls) == 2:
            raise OSError("disk full (injected)")

    monkeypatch.setattr(catalog_stage, "write_catalog_file", failing_write)
    with pytest.raises(OSError, match="injected"):
        desk_with_equity.ingest.ingest_bars(
            write_csv(full[:10] + full[20:]), "ACME.XNAS", "1-MINUTE-LAST"
        )
    assert calls == [10, 10]
    assert snapshot(desk_with_equity.home / "catalog") == before
    assert len(engine_bars(desk_with_equity)) == 10


def test_a_crash_after_the_commit_point_is_finished_on_next_open(
    desk_with_equity: Platform, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = rows(30)
    desk_with_equity.ingest.ingest_bars(write_csv(full[:10:2]), "ACME.XNAS", "1-MINUTE-LAST")

    def crash(self: CatalogJournal, txn: object) -> None:
        raise SystemExit("power cut (injected)")

    monkeypatch.setattr(CatalogJournal, "_apply", crash)
    with pytest.raises(SystemExit):
        desk_with_equity.ingest.ingest_bars(write_csv(full), "ACME.XNAS", "1-MINUTE-LAST")
    monkeypatch.undo()
    assert len(engine_bars(desk_with_equity)) == 5  # not visible yet
    reopened = bootstrap(home=desk_with_equity.home)
    bars = ParquetDataCatalog(str(reopened.home / "catalog")).bars(bar_types=[BAR_TYPE])
    assert [b.ts_init for b in bars] == [T0 + i * MINUTE_NS for i in range(30)]
    assert [r.rows_written for r in reopened.catalog.lineage()] == [5, 25]
    assert [p.name for p in (reopened.home / "catalog" / ".txn").iterdir()] == [".lock"]


def test_lineage_records_where_data_came_from(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    path = write_csv(rows(12))
    summary = desk_with_equity.ingest.ingest_bars(path, "ACME.XNAS", "1-MINUTE-LAST")
    (record,) = desk_with_equity.catalog.lineage("ACME.XNAS")
    assert record.ingest_id == summary.ingest_id
    assert record.source == str(path.resolve())
    assert record.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (record.rows_read, record.rows_written, record.rows_rejected) == (12, 12, 0)
    assert (record.first_ts, record.last_ts) == (T0, T0 + 11 * MINUTE_NS)
    assert record.bar_type == BAR_TYPE
    assert record.quantdesk_version == quantdesk.__version__
    assert record.nautilus_trader_version == "1.221.0"
    assert record.started_at_ns <= record.finished_at_ns
    (file,) = record.files_added
    on_disk = desk_with_equity.home / "catalog" / file.path
    assert file.sha256 == hashlib.sha256(on_disk.read_bytes()).hexdigest()
    assert file.rows == 12
    raw_line = (desk_with_equity.home / "catalog" / "lineage.jsonl").read_text().splitlines()[0]
    assert json.loads(raw_line)["source_sha256"] == record.source_sha256
    assert desk_with_equity.catalog.lineage("OTHER.XNAS") == []


def test_catalog_listing(desk_with_equity: Platform, write_csv: WriteCsv) -> None:
    desk_with_equity.ingest.ingest_bars(write_csv(rows(7)), "ACME.XNAS", "1-MINUTE-LAST")
    desk_with_equity.ingest.ingest_bars(
        write_csv(rows(3, start_ns=T0 + 100 * MINUTE_NS)), "ACME.XNAS", "1-MINUTE-LAST"
    )
    (entry,) = desk_with_equity.catalog.entries()
    assert (entry.instrument_id, entry.data_type, entry.identifier) == (
        "ACME.XNAS",
        "bar",
        BAR_TYPE,
    )
    assert (entry.first_ts, entry.last_ts, entry.count, entry.files) == (
        T0,
        T0 + 102 * MINUTE_NS,
        10,
        2,
    )


def test_open_stamped_files_are_shifted_to_the_close(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    from quantdesk.domain.market_data import BarIngestOptions, TimestampAt

    options = BarIngestOptions(timestamp_at=TimestampAt.OPEN)
    desk_with_equity.ingest.ingest_bars(write_csv(rows(2)), "ACME.XNAS", "1-MINUTE-LAST", options)
    assert [b.ts_init for b in engine_bars(desk_with_equity)] == [
        T0 + MINUTE_NS,
        T0 + 2 * MINUTE_NS,
    ]


def test_concurrent_catalog_objects_see_each_others_writes(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    other = ParquetCatalog(desk_with_equity.home / "catalog")
    desk_with_equity.ingest.ingest_bars(write_csv(rows(4)), "ACME.XNAS", "1-MINUTE-LAST")
    assert len(other.read_bars(BAR_TYPE, 0, 2**62)) == 4


def test_open_stamped_files_count_their_malformed_rows(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    good = rows(2)
    source = [good[0], good[0][:3], good[1], good[1][:2]]  # lines 3 and 5 are short
    options = BarIngestOptions(timestamp_at=TimestampAt.OPEN)
    summary = desk_with_equity.ingest.ingest_bars(
        write_csv(source), "ACME.XNAS", "1-MINUTE-LAST", options
    )
    assert (summary.rows_read, summary.rows_written, summary.rows_rejected) == (4, 2, 2)
    assert summary.rejected_by_reason == {"malformed_row": 2}
    assert [r["row"] for r in read_rejects(summary.rejects_path)] == ["3", "5"]


def test_a_file_spanning_past_the_valid_range_keeps_its_valid_rows(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    good = rows(1)[0]
    source = [
        ["1677-09-22T00:00:00Z", *good[1:]],
        good,
        ["2262-04-10T00:00:00Z", *good[1:]],
        ["2262-04-11T00:00:00Z", *good[1:]],
    ]
    summary = desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    assert summary.rejected_by_reason == {"timestamp_out_of_range": 2}
    assert [b.ts_init for b in engine_bars(desk_with_equity)] == [T0, TS_MAX_NS]


def test_open_stamps_shifted_past_the_valid_range_are_rejected_not_written(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    good = rows(1)[0]
    source = [good, ["2262-04-09T23:59:00Z", *good[1:]], ["2262-04-10T00:00:00Z", *good[1:]]]
    options = BarIngestOptions(timestamp_at=TimestampAt.OPEN)
    summary = desk_with_equity.ingest.ingest_bars(
        write_csv(source), "ACME.XNAS", "1-MINUTE-LAST", options
    )
    [reject] = read_rejects(summary.rejects_path)
    assert (reject["row"], reject["reason"]) == ("4", "timestamp_out_of_range")
    assert [b.ts_init for b in engine_bars(desk_with_equity)] == [T0 + MINUTE_NS, TS_MAX_NS]


def test_values_past_the_engine_limits_are_rejected_per_row(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    from nautilus_trader.model.objects import PRICE_MAX, QUANTITY_MAX

    first, second, third = rows(3)
    huge_price = f"{PRICE_MAX * 2:.2f}"
    source = [
        first,
        [second[0], second[1], huge_price, *second[3:]],
        [third[0], *third[1:5], f"{QUANTITY_MAX * 2:.0f}"],
    ]
    summary = desk_with_equity.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    assert summary.rejected_by_reason == {"value_too_large": 2}
    assert [(r["row"], r["field"]) for r in read_rejects(summary.rejects_path)] == [
        ("3", "high"),
        ("4", "volume"),
    ]
    assert [b.ts_init for b in engine_bars(desk_with_equity)] == [T0]


def test_rejects_name_the_line_where_the_record_starts(
    desk_with_equity: Platform, tmp_path: Path
) -> None:
    first, second, third = rows(3)
    bad = [second[0], "-1", *second[2:]]
    path = tmp_path / "gappy.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        + ",".join(map(str, first))
        + "\n\n\n"  # lines 3 and 4 are blank
        + f'"{bad[0]}",{",".join(map(str, bad[1:]))}\n'  # line 5
        + ",".join(map(str, third))
        + "\n"
    )
    summary = desk_with_equity.ingest.ingest_bars(path, "ACME.XNAS", "1-MINUTE-LAST")
    assert [(r["row"], r["field"]) for r in read_rejects(summary.rejects_path)] == [("5", "open")]


WRITERS = 4


def _wait_for(counter: Synchronized[int], value: int) -> None:
    while counter.value < value:
        time.sleep(0.005)


def _held_by_anyone(lock_path: Path) -> bool:
    """Whether some open file holds the catalog's writer lock (this process's own included)."""
    with lock_path.open("a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def _racing_ingest(
    home: Path,
    source: Path,
    arrived: Synchronized[int],
    compared: Synchronized[int],
    ready: Barrier,
    results: multiprocessing.Queue[tuple[str, object]],
) -> None:
    """One writer process, paced so that an unserialised catalog is sure to be raced.

    Each writer, once it has read what the catalog holds, waits until all writers are at the
    catalog; and unless a lock keeps the others out, until all of them have read it too, so
    that without the lock every writer decides from the same stale view.
    """
    plain_exclusive, plain_read = ParquetCatalog.exclusive, ParquetCatalog.read_bars

    def exclusive(self: ParquetCatalog) -> AbstractContextManager[None]:
        with arrived.get_lock():
            arrived.value += 1
        return plain_exclusive(self)

    def read_bars(self: ParquetCatalog, bar_type: str, start_ns: int, end_ns: int) -> BarColumns:
        bars = plain_read(self, bar_type, start_ns, end_ns)
        with compared.get_lock():
            compared.value += 1
        _wait_for(arrived, WRITERS)
        contending = arrived.value
        if not _held_by_anyone(self._journal.lock_path):
            _wait_for(compared, WRITERS)
        results.put(("contending", contending))
        return bars

    ParquetCatalog.exclusive = exclusive  # type: ignore[method-assign]
    ParquetCatalog.read_bars = read_bars  # type: ignore[method-assign]
    desk = bootstrap(home=home)  # opening a catalog takes its lock (to recover): do it first
    ready.wait()
    try:
        summary = desk.ingest.ingest_bars(source, "ACME.XNAS", "1-MINUTE-LAST")
    except Exception as error:  # reported to the test, which fails on it
        results.put(("error", f"{type(error).__name__}: {error}"))
        raise
    results.put(("written", summary.rows_written))


def test_concurrent_overlapping_ingests_all_succeed_as_one_would(
    desk_with_equity: Platform, write_csv: WriteCsv, tmp_path: Path
) -> None:
    source = rows(70)
    files = [write_csv(source[k * 10 : k * 10 + 40]) for k in range(WRITERS)]
    context = multiprocessing.get_context("spawn")
    arrived, compared = context.Value("i", 0), context.Value("i", 0)
    ready, results = context.Barrier(WRITERS), context.Queue()
    writers = [
        context.Process(
            target=_racing_ingest,
            args=(desk_with_equity.home, f, arrived, compared, ready, results),
            daemon=True,
        )
        for f in files
    ]
    for writer in writers:
        writer.start()
    reports = [results.get(timeout=120) for _ in range(2 * WRITERS)]
    for writer in writers:
        writer.join(timeout=60)
    assert [w.exitcode for w in writers] == [0] * WRITERS, reports
    # The race was real: some writer held the catalog while all the others were at it.
    assert max(v for k, v in reports if k == "contending") == WRITERS
    assert sum(v for k, v in reports if k == "written") == len(source)

    alone = bootstrap(home=tmp_path / "alone")
    alone.instruments.add(desk_with_equity.instruments.get("ACME.XNAS"))
    alone.ingest.ingest_bars(write_csv(source), "ACME.XNAS", "1-MINUTE-LAST")
    raced = ParquetCatalog(desk_with_equity.home / "catalog").read_bars(BAR_TYPE, 0, TS_MAX_NS)
    single = ParquetCatalog(tmp_path / "alone" / "catalog").read_bars(BAR_TYPE, 0, TS_MAX_NS)
    for name in ("ts_ns", "open", "high", "low", "close", "volume"):
        assert getattr(raced, name).tolist() == getattr(single, name).tolist(), name
