"""The ``MigrationStore`` contract, one suite over every backend: the in-memory fake, SQLite
and PostgreSQL (required in CI). Each test states a rule of the port a migration relies on:
a resumed run starts from the last checkpoint, an incremental one compares its day counts,
a run's rejected rows come back in the order stored, page by page."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from fakes import InMemoryMigrationStore
from quantdesk.adapters.storage.migration_store import SqlMigrationStore
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.market_data import Rejection, RejectReason
from quantdesk.domain.migration import (
    ChunkCheckpoint,
    ChunkRecord,
    MigrationCheckpoint,
    MigrationRun,
    MigrationState,
    Watermark,
)
from quantdesk.services.ports.migrations import MigrationStore
from support.contract_backends import BACKENDS, backend

MAPPING = "a-bars"
START = datetime(2024, 1, 2, 9, 30, tzinfo=UTC)
REASON = RejectReason.OHLC_INCONSISTENT


def opened(name: str, folder: Path) -> AbstractContextManager[MigrationStore]:
    fake: Callable[[], MigrationStore] = InMemoryMigrationStore
    return backend(name, folder, fake, SqlMigrationStore)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MigrationStore]:
    with opened(request.param, tmp_path) as port:
        yield port


def run(migration_id: str = "mig-1", started_ns: int = 1, **fields: Any) -> MigrationRun:
    values: dict[str, Any] = {
        "migration_id": migration_id,
        "mapping_name": MAPPING,
        "source": "postgresql://ana@db/prices table bars",
        "table": "public.bars",
        "kind": "bars",
        "state": MigrationState.RUNNING,
        "actor": "ana",
        "started_ns": started_ns,
    }
    return MigrationRun.model_validate(values | fields)


def rejection(row: int, reason: RejectReason = REASON) -> Rejection:
    return Rejection(row=row, field="high", value="9.5", reason=reason, detail=f"row {row}")


def chunk(
    of: MigrationRun,
    number: int,
    watermark: Watermark | None,
    *,
    rejections: tuple[Rejection, ...] = (),
    days: dict[int, int] | None = None,
    mapping_name: str = MAPPING,
    total_chunks: int | None = None,
    **fields: Any,
) -> ChunkCheckpoint:
    """Chunk ``number`` of run ``of``: 10 rows (or as many as it rejects) read."""
    read = max(10, len(rejections))
    record = ChunkRecord.model_validate(
        {
            "migration_id": of.migration_id,
            "chunk": number,
            "first_row": read * (number - 1) + 1,
            "rows_read": read,
            "rows_written": read - len(rejections),
            "rows_present": 0,
            "rows_rejected": len(rejections),
            "watermark": watermark,
            "source_sha256": f"{number:064x}",
            "catalog_sha256": f"{number:064x}",
            "committed_ns": 100 + number,
        }
        | fields
    )
    point = MigrationCheckpoint(
        mapping_name=mapping_name,
        mapping_sha256="c" * 64,
        watermark=watermark,
        migration_id=of.migration_id,
        chunks=number if total_chunks is None else total_chunks,
        updated_ns=100 + number,
    )
    return ChunkCheckpoint(
        record=record, checkpoint=point, rejections=list(rejections), days_added=days or {}
    )


def at(minutes: int) -> Watermark:
    return Watermark(timestamp=START + timedelta(minutes=minutes))


def test_nothing_is_held_at_first(store: MigrationStore) -> None:
    assert store.checkpoint(MAPPING) is None
    assert store.days(MAPPING) == {}
    assert store.run("mig-1") is None
    assert list(store.runs()) == [] and list(store.runs(MAPPING)) == []
    assert list(store.chunks("mig-1")) == []
    assert list(store.rejections("mig-1")) == []
    store.forget(MAPPING)  # forgetting what was never held is no error
    assert store.checkpoint(MAPPING) is None


def test_ids_no_record_can_have_find_nothing(store: MigrationStore) -> None:
    store.save_run(run("mig-1"))
    for unknown in ("mig-", "MIG-1", "x" * 101, "x" * 5_000, ""):
        assert store.run(unknown) is None
        assert list(store.chunks(unknown)) == [] and list(store.rejections(unknown)) == []
    for name in ("A-BARS", "m" * 101, "m" * 5_000):
        assert store.checkpoint(name) is None and store.days(name) == {}


def test_a_run_comes_back_whole_and_a_save_replaces_it(store: MigrationStore) -> None:
    first = run("mig-1", started_ns=1_700_000_000_000_000_000, watermark=at(0))
    store.save_run(first)
    assert store.run("mig-1") == first
    done = first.model_copy(
        update={
            "state": MigrationState.FAILED,
            "finished_ns": 1_700_000_000_000_000_009,
            "rows_read": 2**40,
            "rows_written": 7,
            "rows_present": 3,
            "rows_rejected": 2**33,
            "chunks": 12,
            "late_days": [19_724, 19_725],
            "shrunk_days": [19_700],
            "warnings_by_kind": {"crossed_book": 2**35, "crossed_quote": 1},
            "watermark": Watermark(timestamp=2**62),
            "error": "interrupted: " + "é" * 1_990,
        }
    )
    store.save_run(done)
    assert store.run("mig-1") == done
    assert list(store.runs()) == [done]  # replaced, not added


def test_runs_are_listed_newest_first_by_mapping_and_limited(store: MigrationStore) -> None:
    a1 = run("mig-a1", started_ns=10)
    b1 = run("mig-b1", started_ns=20, mapping_name="b-bars")
    a2 = run("mig-a2", started_ns=30, state=MigrationState.COMPLETED)
    a3 = run("mig-a3", started_ns=30)  # started at the same instant: ties by id
    for r in (a3, b1, a1, a2):
        store.save_run(r)
    assert list(store.runs()) == [a2, a3, b1, a1]
    assert list(store.runs(MAPPING)) == [a2, a3, a1]
    assert list(store.runs("b-bars")) == [b1]
    assert list(store.runs("c-bars")) == []
    assert list(store.runs(MAPPING, limit=2)) == [a2, a3]
    assert list(store.runs(limit=0)) == [] and list(store.runs(limit=-1)) == []


def test_a_saved_chunk_is_the_runs_counts_its_record_rejects_checkpoint_and_days(
    store: MigrationStore,
) -> None:
    begun = run("mig-1")
    store.save_run(begun)
    counted = begun.model_copy(update={"rows_read": 10, "rows_rejected": 2, "chunks": 1})
    saved = chunk(
        begun,
        1,
        at(9),
        rejections=(rejection(4), rejection(2, RejectReason.INSTRUMENT_UNMAPPED)),
        days={19_724: 6, 19_725: 4},
    )
    store.save_chunk(counted, saved)
    assert store.run("mig-1") == counted
    assert list(store.chunks("mig-1")) == [saved.record]
    assert list(store.rejections("mig-1")) == saved.rejections  # as stored, not re-sorted
    assert store.checkpoint(MAPPING) == saved.checkpoint
    assert store.days(MAPPING) == {19_724: 6, 19_725: 4}


def test_checkpoints_advance_per_mapping_and_days_add_up(store: MigrationStore) -> None:
    first, other = run("mig-1"), run("mig-2", mapping_name="b-bars")
    store.save_chunk(first, chunk(first, 1, at(9), days={19_724: 10}))
    store.save_chunk(first, chunk(first, 2, at(19), days={19_724: 4, 19_725: 6}))
    store.save_chunk(other, chunk(other, 1, at(5), days={19_724: 3}, mapping_name="b-bars"))
    held = store.checkpoint(MAPPING)
    assert held is not None and (held.watermark, held.chunks) == (at(19), 2)
    assert store.days(MAPPING) == {19_724: 14, 19_725: 6}
    assert store.days("b-bars") == {19_724: 3}
    checkpoint_b = store.checkpoint("b-bars")
    assert checkpoint_b is not None and checkpoint_b.migration_id == "mig-2"


def test_a_resumed_run_continues_from_the_checkpoint_of_the_one_before(
    store: MigrationStore,
) -> None:
    killed = run("mig-1", started_ns=1)
    store.save_run(killed)
    store.save_chunk(killed, chunk(killed, 1, at(9), days={19_724: 10}))
    store.save_chunk(killed, chunk(killed, 2, at(19), days={19_724: 10}))
    resumed = run("mig-2", started_ns=2, watermark=at(19))
    store.save_run(resumed)
    point = store.checkpoint(MAPPING)
    assert point is not None and point.watermark == resumed.watermark
    assert (point.migration_id, point.chunks) == ("mig-1", 2)
    # the resumed run numbers its own chunks from 1; the mapping counts every chunk
    store.save_chunk(resumed, chunk(resumed, 1, at(29), days={19_724: 10}, total_chunks=3))
    point = store.checkpoint(MAPPING)
    assert point is not None and (point.migration_id, point.chunks) == ("mig-2", 3)
    assert [c.chunk for c in store.chunks("mig-1")] == [1, 2]
    assert [c.chunk for c in store.chunks("mig-2")] == [1]
    assert store.days(MAPPING) == {19_724: 30}


def test_watermarks_come_back_as_the_source_wrote_them(store: MigrationStore) -> None:
    """The next read takes the rows strictly after the watermark: its instant must come back
    to the microsecond, a naive time naive, an epoch an integer. A zone's historical offset
    of minutes and seconds (Amsterdam's +00:19:32 until 1937) must not be rounded away."""
    marks = [
        Watermark(timestamp=datetime(2024, 1, 2, 9, 30, 0, 123_456)),
        Watermark(timestamp=datetime(2024, 7, 1, 16, 0, tzinfo=timezone(timedelta(hours=-4)))),
        Watermark(timestamp=datetime(1930, 5, 1, 9, 0, 0, 7, tzinfo=ZoneInfo("Europe/Amsterdam"))),
        Watermark(timestamp=1_704_187_800_000_000_000),
        Watermark(timestamp=-1),
        at(0),
        None,
    ]
    for k, mark in enumerate(marks, start=1):
        name = f"m{k}"
        r = run(f"mig-{k}", mapping_name=name, watermark=mark)
        store.save_chunk(r, chunk(r, 1, mark, mapping_name=name))
        held, saved = store.checkpoint(name), store.run(r.migration_id)
        assert held is not None and saved is not None
        (record,) = store.chunks(r.migration_id)
        for back in (held.watermark, saved.watermark, record.watermark):
            assert back == mark
            if mark is not None and back is not None:
                value, wrote = back.timestamp, mark.timestamp
                assert type(value) is type(wrote)  # an epoch stays an integer
                if isinstance(value, datetime) and isinstance(wrote, datetime):
                    assert (value.tzinfo is None) == (wrote.tzinfo is None)


def test_chunks_come_back_in_commit_order_with_their_record(store: MigrationStore) -> None:
    r = run("mig-1")
    late = chunk(r, 1, at(0), remigrated_day=19_723, rows_present=7, rows_written=3)
    saved = [late, *(chunk(r, n, at(10 * n)) for n in range(2, 13))]
    for c in saved:
        store.save_chunk(r, c)
    assert list(store.chunks("mig-1")) == [c.record for c in saved]
    assert list(store.chunks("mig-2")) == []


def test_rejections_are_kept_per_run_in_the_order_stored_and_paged(
    store: MigrationStore,
) -> None:
    first, second = run("mig-1"), run("mig-2", started_ns=2)
    reasons = list(RejectReason)
    one = tuple(rejection(r, reasons[r % len(reasons)]) for r in (5, 7, 9))
    late = (  # a re-read day's rows come after the first chunk's, though earlier rows
        Rejection(row=2, field="timestamp", value="x" * 200, reason=reasons[0], detail="d" * 3_000),
    )
    store.save_chunk(first, chunk(first, 1, at(9), rejections=one))
    store.save_chunk(first, chunk(first, 2, at(9), rejections=late))
    store.save_chunk(second, chunk(second, 1, at(19), rejections=(rejection(1),)))
    every = [*one, *late]
    assert list(store.rejections("mig-1")) == every
    assert list(store.rejections("mig-2")) == [rejection(1)]
    assert list(store.rejections("mig-1", offset=1, limit=2)) == every[1:3]
    assert list(store.rejections("mig-1", offset=3)) == every[3:]
    assert list(store.rejections("mig-1", offset=4)) == []
    assert list(store.rejections("mig-1", limit=0)) == []
    assert list(store.rejections("mig-1", offset=-5, limit=-1)) == []
    assert list(store.rejections("mig-1", offset=-5, limit=1)) == every[:1]


def test_many_rejections_page_back_to_exactly_what_was_stored(store: MigrationStore) -> None:
    r = run("mig-1")
    stored: list[Rejection] = []
    for number in range(1, 4):
        batch = tuple(rejection(row) for row in range(number * 10_000, number * 10_000 + 1_100))
        stored.extend(batch)
        store.save_chunk(r, chunk(r, number, at(number), rejections=batch))
    pages = [list(store.rejections("mig-1", offset=o, limit=1_000)) for o in range(0, 4_000, 1_000)]
    assert [len(p) for p in pages] == [1_000, 1_000, 1_000, 300]
    assert [x for page in pages for x in page] == stored
    assert list(store.rejections("mig-1")) == stored


def test_set_days_replaces_only_the_days_it_names(store: MigrationStore) -> None:
    r = run("mig-1")
    store.save_chunk(r, chunk(r, 1, at(9), days={19_724: 6, 19_725: 4, 19_726: 2}))
    store.set_days(MAPPING, {19_724: 9, 19_726: 0})  # a late day grew, another shrank
    assert store.days(MAPPING) == {19_724: 9, 19_725: 4, 19_726: 0}
    store.set_days(MAPPING, {})
    store.set_days("b-bars", {19_724: 1})
    assert store.days(MAPPING) == {19_724: 9, 19_725: 4, 19_726: 0}
    assert store.days("b-bars") == {19_724: 1}
    store.save_chunk(r, chunk(r, 2, at(19), days={19_726: 5}))  # counts add to a set day
    assert store.days(MAPPING) == {19_724: 9, 19_725: 4, 19_726: 5}


def test_forget_restarts_the_mapping_and_keeps_its_history(store: MigrationStore) -> None:
    old, other = run("mig-1", started_ns=1), run("mig-9", mapping_name="b-bars")
    store.save_chunk(old, chunk(old, 1, at(9), rejections=(rejection(3),), days={19_724: 10}))
    store.save_chunk(other, chunk(other, 1, at(9), days={19_724: 1}, mapping_name="b-bars"))
    store.forget(MAPPING)
    assert store.checkpoint(MAPPING) is None and store.days(MAPPING) == {}
    assert store.run("mig-1") == old  # the runs, their chunks and rejects stay
    assert len(store.chunks("mig-1")) == 1 and list(store.rejections("mig-1")) == [rejection(3)]
    assert store.checkpoint("b-bars") is not None and store.days("b-bars") == {19_724: 1}
    again = run("mig-2", started_ns=2)  # the restarted run counts its days from nothing
    store.save_chunk(again, chunk(again, 1, at(9), days={19_724: 10}))
    point = store.checkpoint(MAPPING)
    assert point is not None and (point.migration_id, point.chunks) == ("mig-2", 1)
    assert store.days(MAPPING) == {19_724: 10}


def test_what_comes_back_is_a_copy(store: MigrationStore) -> None:
    r = run("mig-1", late_days=[1])
    store.save_run(r)
    r.late_days.append(2)  # a frozen model's list can still be changed in place
    back = store.run("mig-1")
    assert back is not None and back.late_days == [1]
    back.late_days.append(3)
    store.days(MAPPING)[19_724] = 5
    again = store.run("mig-1")
    assert again is not None and again.late_days == [1]
    assert store.days(MAPPING) == {}


@pytest.mark.parametrize("name", BACKENDS[1:])
def test_a_chunk_the_database_refuses_leaves_nothing_behind(name: str, tmp_path: Path) -> None:
    """``save_chunk`` is one transaction: a reject the database cannot hold (a NUL) refuses
    the whole chunk, so the checkpoint never runs ahead of its rejected rows."""
    with opened(name, tmp_path) as store:
        r = run("mig-1")
        first = chunk(r, 1, at(9), rejections=(rejection(1),), days={19_724: 10})
        store.save_chunk(r, first)
        bad = Rejection(row=12, field="close", value="1\x002", reason=REASON, detail="nul")
        counted = r.model_copy(update={"rows_read": 20, "chunks": 2})
        with pytest.raises(InvalidInputError):
            store.save_chunk(counted, chunk(counted, 2, at(19), rejections=(bad,), days={1: 1}))
        assert store.run("mig-1") == r
        assert list(store.chunks("mig-1")) == [first.record]
        assert list(store.rejections("mig-1")) == [rejection(1)]
        assert store.checkpoint(MAPPING) == first.checkpoint
        assert store.days(MAPPING) == {19_724: 10}
