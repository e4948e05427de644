"""The tick store's range replacement and the catalog's bounded reads, on real files: the
files a range cuts are rewritten whole (rows outside the range kept, in place), the old ones
go in the same commit, misuse is refused; batches come a row group at a time and skip the
groups a range misses."""

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import quantdesk
from quantdesk.adapters.nautilus.tick_reads import ParquetTickCatalog
from quantdesk.adapters.nautilus.tick_store import NautilusTickStore
from quantdesk.domain.errors import CatalogError
from quantdesk.domain.market_data import LineageRecord
from quantdesk.domain.ticks import AggressorSide, TickKind
from quantdesk.services.ports.catalog import StagedCommit
from quantdesk.services.tick_columns import TickColumns
from support.ticks import INSTRUMENT, T0, crypto


def trades(stamps: list[int], prefix: str = "t") -> TickColumns:
    n = len(stamps)
    return TickColumns(
        TickKind.TRADE,
        np.array(stamps, dtype=np.int64),
        {
            "price": np.full(n, 42000.5),
            "size": np.full(n, 0.25),
            "aggressor_side": np.full(n, int(AggressorSide.BUYER), dtype=np.int8),
            "trade_id": np.array([f"{prefix}{k}" for k in range(n)], dtype=object),
        },
    )


def lineage(name: str) -> Callable[[StagedCommit], LineageRecord]:
    def record(commit: StagedCommit) -> LineageRecord:
        return LineageRecord(
            ingest_id=name,
            source="test",
            source_sha256="0" * 64,
            instrument_id=INSTRUMENT,
            bar_type=INSTRUMENT,
            data_type="trade_tick",
            rows_read=0,
            rows_written=0,
            rows_already_present=0,
            rows_rejected=0,
            first_ts=None,
            last_ts=None,
            files_added=commit.files_added,
            files_replaced=commit.files_replaced,
            quantdesk_version=quantdesk.__version__,
            nautilus_trader_version="test",
            started_at_ns=0,
            finished_at_ns=0,
        )

    return record


def append(store: NautilusTickStore, ticks: TickColumns, name: str) -> StagedCommit:
    with store.appending(TickKind.TRADE, crypto()) as adding:
        adding.stage(ticks)
        return adding.commit(lineage(name))


def stored(root: Path) -> list[str]:
    held = ParquetTickCatalog(root).read_ticks(TickKind.TRADE, INSTRUMENT, 0, 2**62)
    return [str(t) for t in held.field("trade_id").tolist()]


def files(root: Path) -> list[Path]:
    return sorted((root / "data" / "trade_tick").rglob("*.parquet"))


def test_a_replaced_range_keeps_the_rows_around_it_and_drops_the_old_files(tmp_path: Path) -> None:
    store = NautilusTickStore(tmp_path)
    append(store, trades([T0 + k for k in range(0, 10)], "a"), "first")
    append(store, trades([T0 + k for k in range(10, 20)], "b"), "second")
    old = files(tmp_path)
    with store.appending(TickKind.TRADE, crypto()) as adding:
        adding.replace(T0 + 8, T0 + 11, trades([T0 + 8, T0 + 9, T0 + 9, T0 + 11], "n"))
        commit = adding.commit(lineage("replace"))
    assert sorted(commit.files_replaced) == sorted(str(f.relative_to(tmp_path)) for f in old)
    assert stored(tmp_path) == [
        *[f"a{k}" for k in range(8)],
        "n0",
        "n1",
        "n2",
        "n3",
        *[f"b{k}" for k in range(2, 10)],
    ]
    assert all(not f.exists() for f in old if f not in files(tmp_path))
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in files(tmp_path)) == 20


def test_a_range_between_files_only_adds_and_misuse_is_refused(tmp_path: Path) -> None:
    store = NautilusTickStore(tmp_path)
    append(store, trades([T0, T0 + 1], "a"), "first")
    append(store, trades([T0 + 10, T0 + 11], "b"), "second")
    with store.appending(TickKind.TRADE, crypto()) as adding:
        adding.replace(T0 + 5, T0 + 6, trades([T0 + 5], "n"))
        assert adding.commit(lineage("between")).files_replaced == []
        with pytest.raises(CatalogError, match="once per addition"):
            adding.replace(T0 + 5, T0 + 6, trades([T0 + 5]))
    assert stored(tmp_path) == ["a0", "a1", "n0", "b0", "b1"]
    with (
        store.appending(TickKind.TRADE, crypto()) as adding,
        pytest.raises(CatalogError, match="inside it"),
    ):
        adding.replace(T0 + 5, T0 + 6, trades([T0 + 7]))
    assert stored(tmp_path) == ["a0", "a1", "n0", "b0", "b1"]  # nothing committed


def test_batches_come_a_row_group_at_a_time_and_skip_groups_out_of_range(tmp_path: Path) -> None:
    store = NautilusTickStore(tmp_path)
    append(store, trades([T0 + k for k in range(120_000)]), "big")
    reads = ParquetTickCatalog(tmp_path)
    every = list(reads.tick_batches(TickKind.TRADE, INSTRUMENT, 0, 2**62))
    assert [len(b) for b in every] == [50_000, 50_000, 20_000]
    whole = reads.read_ticks(TickKind.TRADE, INSTRUMENT, 0, 2**62)
    assert np.concatenate([b.ts_ns for b in every]).tolist() == whole.ts_ns.tolist()
    tail = list(reads.tick_batches(TickKind.TRADE, INSTRUMENT, T0 + 110_000, T0 + 110_009))
    assert [b.ts_ns.tolist() for b in tail] == [[T0 + 110_000 + k for k in range(10)]]
