"""Arrow batches into chunks that end at the end of an instant, whatever the sizes of the
batches: every row once, in order, no instant split, no chunk short of its size but
the last, and one instant larger than a chunk can hold refused."""

from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from quantdesk.adapters.sources import postgres_batches
from quantdesk.adapters.sources.postgres_batches import Batches, instants
from quantdesk.domain.errors import SourceReadError


def batches(stamps: list[int | None], sizes: list[int]) -> Batches:
    """A table of ``stamps`` (and a row number) in batches of ``sizes`` (the last repeated)."""
    table = pa.table({"row": list(range(len(stamps))), "ts": pa.array(stamps, pa.int64())})
    at = 0
    for k in range(len(stamps)):
        if at >= len(stamps):
            return
        n = sizes[min(k, len(sizes) - 1)]
        yield table.slice(at, n)
        at += n


@st.composite
def read_orders(draw: st.DrawFn) -> list[int | None]:
    """Times in read order: non-decreasing, with runs of ties, NULLs (no time) last and a NULL
    (a time out of range) anywhere among them."""
    runs = draw(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 9)), max_size=12))
    stamps: list[int | None] = []
    now = 0
    for step, length in runs:
        now += step
        stamps.extend([now] * length)
    if stamps and draw(st.booleans()):
        stamps.insert(draw(st.integers(0, len(stamps))), None)
    return stamps + [None] * draw(st.integers(0, 4))


# Property 26: a migration loses and corrupts nothing (its chunks hold every row once)
@settings(max_examples=300)
@given(
    stamps=read_orders(),
    size=st.integers(1, 12),
    sizes=st.lists(st.integers(1, 15), min_size=1, max_size=5),
)
def test_chunks_hold_every_row_once_and_end_at_the_end_of_an_instant(
    stamps: list[int | None], size: int, sizes: list[int]
) -> None:
    chunks = list(instants(batches(stamps, sizes), size, 1, "bars"))
    rows = [r for c in chunks for r in c.column("row").to_pylist()]
    assert rows == list(range(len(stamps)))
    for before, after in pairwise(chunks):
        assert before.num_rows >= size
        last, first = before.column("ts")[-1].as_py(), after.column("ts")[0].as_py()
        assert last is None or last != first  # an instant is never split
        held = before.column("ts").to_pylist()
        # no more rows than the instant of the size-th row needs
        assert before.num_rows == size or held[size - 1] == held[-1] is not None


def test_an_instant_larger_than_a_chunk_can_hold_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(postgres_batches, "CHUNK_ROWS_MAX", 5)
    with pytest.raises(SourceReadError, match="share the timestamp 7"):
        list(instants(batches([7] * 20, [3]), 3, 1, "bars"))
    assert [c.num_rows for c in instants(batches([7] * 8 + [8], [3]), 3, 1, "bars")] == [8, 1]


def test_parameters_are_read_back_from_settings_and_names_are_left_alone() -> None:
    query = sql.SQL("SELECT {} FROM t WHERE {} > {} AND x = ANY({})").format(
        sql.Identifier("a$1"), sql.Identifier("ts"), sql.SQL("$1"), sql.SQL("$2")
    )
    found = postgres_batches._from_settings(query, [datetime(2024, 1, 2, tzinfo=UTC), ["A"]])
    assert found is not None
    settings, text = found
    assert settings == (
        "SELECT set_config('quantdesk.p1', $1::text, true), "
        "set_config('quantdesk.p2', $2::text, true)"
    )
    assert text == (
        'SELECT "a$1" FROM t WHERE "ts" > '
        "(SELECT current_setting('quantdesk.p1')::timestamptz)::timestamptz AND x = ANY("
        "(SELECT current_setting('quantdesk.p2')::text[])::text[])"
    )


def test_a_parameter_of_a_type_without_a_name_is_read_through_a_cursor() -> None:
    query = sql.SQL("SELECT 1 WHERE {} > {}").format(sql.Identifier("v"), sql.SQL("$1"))
    assert postgres_batches._from_settings(query, [Decimal("1.5")]) is None
    assert postgres_batches._from_settings(query, []) == ("", 'SELECT 1 WHERE "v" > $1')
