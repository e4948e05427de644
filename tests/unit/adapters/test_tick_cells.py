"""Tick cells into codes and whole numbers: exact to 2**64 - 1, nothing guessed."""

import pyarrow as pa

from quantdesk.adapters.sources.tick_cells import to_code, to_whole
from quantdesk.domain.ticks import INVALID_CODE, BookAction, BookSide


def column(values: list[object], kind: pa.DataType | None = None) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, type=kind)])


def test_whole_numbers_are_exact_up_to_the_largest_uint64() -> None:
    text = [
        "0",
        "007",
        "+5",
        " 12 ",
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "1.0",
        "",
        "x",
    ]
    values, bad = to_whole(column(text))
    assert values.tolist()[:5] == [0, 7, 5, 12, 2**64 - 1]
    assert bad.tolist() == [False] * 5 + [True] * 5
    typed, missing = to_whole(column([3, None], pa.int64()))
    assert (typed.tolist(), missing.tolist()) == ([3, 0], [False, True])


def test_sides_and_actions_by_name_case_insensitive_unknown_is_invalid() -> None:
    sides = to_code("side", column(["bid", " A ", "sell", "up", None, "0"]))
    assert sides.tolist() == [
        BookSide.BUY,
        BookSide.SELL,
        BookSide.SELL,
        INVALID_CODE,
        INVALID_CODE,
        BookSide.NO_SIDE,
    ]
    actions = to_code("action", column(["add", "Update", "3", "CLEAR", "FILL"]))
    assert actions.tolist() == [*(int(a) for a in BookAction), INVALID_CODE]
