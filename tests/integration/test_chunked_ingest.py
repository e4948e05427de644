"""A file ingested in chunks is still one atomic commit, laid out as the engine needs.

Property 30 (invalid data rejected at ingest, across chunk boundaries too) and 32 (lineage:
one record for the whole file).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from nautilus_trader.model.data import Bar
from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.catalog_stage import BarStage
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.market_data import RejectReason
from quantdesk.domain.time import TS_MAX_NS
from quantdesk.services.platform import Platform
from support.bars import MINUTE_NS, T0, rows
from support.catalog_snapshot import read_rejects, snapshot

BAR_TYPE = "ACME.XNAS-1-MINUTE-LAST-EXTERNAL"

WriteCsv = Callable[..., Path]


def engine_bars(desk: Platform) -> list[Bar]:
    return ParquetDataCatalog(str(desk.home / "catalog")).bars(bar_types=[BAR_TYPE])


def test_a_twin_across_a_chunk_boundary_is_rejected_as_within_one(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(4)
    twin = [source[0], source[1], list(source[1]), source[2], source[3]]
    twin[2][5] = 7  # another value at the same instant: still the later twin is out
    summary = desk_with_equity.ingest.ingest_bars(
        write_csv(twin), "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=2
    )
    assert (summary.rows_written, summary.rows_rejected) == (4, 1)
    assert [(r["row"], r["reason"]) for r in read_rejects(summary.rejects_path)] == [
        ("4", RejectReason.DUPLICATE_TIMESTAMP.value)
    ]
    assert [b.ts_init for b in engine_bars(desk_with_equity)] == [
        T0 + i * MINUTE_NS for i in range(4)
    ]


def test_an_earlier_row_after_a_chunk_boundary_is_out_of_order(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    source = rows(5)
    shuffled = [source[0], source[2], source[1], source[3], source[4]]
    summary = desk_with_equity.ingest.ingest_bars(
        write_csv(shuffled), "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=2
    )
    assert [(r["row"], r["reason"]) for r in read_rejects(summary.rejects_path)] == [
        ("4", RejectReason.OUT_OF_ORDER.value)
    ]
    assert summary.rows_written == 4


def test_many_chunks_make_one_commit_of_bounded_files(
    desk_with_equity: Platform, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ParquetCatalog, "piece_rows", 7)
    full = rows(100)
    desk_with_equity.ingest.ingest_bars(write_csv(full[20:60:3]), "ACME.XNAS", "1-MINUTE-LAST")
    summary = desk_with_equity.ingest.ingest_bars(
        write_csv(full), "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=9
    )
    assert (summary.rows_written, summary.rows_already_present) == (86, 14)
    assert len(summary.files_replaced) == 2  # the first ingest's 14 rows made two files
    lineage = desk_with_equity.catalog.lineage()
    assert [r.rows_written for r in lineage] == [14, 86]
    assert [f.path for f in lineage[-1].files_added] == summary.files_added
    files = ParquetCatalog(desk_with_equity.home / "catalog").bar_files(BAR_TYPE, 0, TS_MAX_NS)
    assert all(f.rows <= 7 for f in files)
    assert sum(f.rows for f in files) == 100
    catalog = ParquetDataCatalog(str(desk_with_equity.home / "catalog"))
    intervals = catalog.get_intervals(Bar, BAR_TYPE)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(intervals))
    assert [b.ts_init for b in engine_bars(desk_with_equity)] == [
        T0 + i * MINUTE_NS for i in range(100)
    ]


def test_an_error_in_a_later_chunk_leaves_the_catalog_as_it_was(
    desk_with_equity: Platform, write_csv: WriteCsv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ParquetCatalog, "piece_rows", 5)
    full = rows(60)
    desk_with_equity.ingest.ingest_bars(write_csv(full[10:20]), "ACME.XNAS", "1-MINUTE-LAST")
    before = snapshot(desk_with_equity.home / "catalog")
    plain_add = BarStage.add
    calls: list[int] = []

    def failing_add(self: BarStage, bars: object) -> None:
        calls.append(1)
        if len(calls) == 4:  # three chunks (and several files) staged already
            raise OSError("disk full (injected)")
        plain_add(self, bars)  # type: ignore[arg-type]

    monkeypatch.setattr(BarStage, "add", failing_add)
    with pytest.raises(OSError, match="injected"):
        desk_with_equity.ingest.ingest_bars(
            write_csv(full), "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=8
        )
    assert len(calls) == 4
    assert snapshot(desk_with_equity.home / "catalog") == before
    assert len(desk_with_equity.catalog.lineage()) == 1
    assert not list((desk_with_equity.home).rglob("rejects.csv*"))
    monkeypatch.setattr(BarStage, "add", plain_add)
    again = desk_with_equity.ingest.ingest_bars(
        write_csv(full), "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=8
    )
    assert (again.rows_written, again.rows_already_present) == (50, 10)
    assert len(engine_bars(desk_with_equity)) == 60


KILLED_CHILD = """
import os, signal, sys
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.catalog_stage import BarStage
from quantdesk.bootstrap import bootstrap
ParquetCatalog.piece_rows = 4
plain_add, calls = BarStage.add, []
def add(self, bars):
    calls.append(1)
    if len(calls) == 5:  # files of four chunks staged: the power goes
        os.kill(os.getpid(), signal.SIGKILL)
    plain_add(self, bars)
BarStage.add = add
bootstrap(home=sys.argv[1]).ingest.ingest_bars(
    sys.argv[2], "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=6
)
"""


def test_a_process_killed_midway_leaves_the_catalog_as_it_was(
    desk_with_equity: Platform, write_csv: WriteCsv
) -> None:
    full = rows(50)
    desk_with_equity.ingest.ingest_bars(write_csv(full[:5]), "ACME.XNAS", "1-MINUTE-LAST")
    root = desk_with_equity.home / "catalog"
    before = snapshot(root)
    path = write_csv(full)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(desk_with_equity.home), str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    staged = [p for p in (root / ".txn").rglob("*.parquet")]
    assert staged, "the child should have staged files before it was killed"
    assert {k: v for k, v in snapshot(root).items() if not k.startswith(".txn/")} == before
    reopened = bootstrap(home=desk_with_equity.home)  # the unfinished transaction goes
    assert snapshot(root) == before
    summary = reopened.ingest.ingest_bars(path, "ACME.XNAS", "1-MINUTE-LAST", chunk_rows=6)
    assert (summary.rows_written, summary.rows_already_present) == (45, 5)
    assert [b.ts_init for b in engine_bars(reopened)] == [T0 + i * MINUTE_NS for i in range(50)]
    assert [r.rows_written for r in reopened.catalog.lineage()] == [5, 45]
