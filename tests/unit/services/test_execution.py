"""Split fills, their slippage, and runs the engine refused (pure, no engine)."""

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest import FillRecord
from quantdesk.domain.execution import AllOrdersRefusedError, EngineRejection
from quantdesk.domain.record_log import RecordLog
from quantdesk.services.execution import (
    check_not_all_refused,
    execution_summary,
    refusal_warnings,
)


def fill(order: str, side: int, quantity: float, price: float) -> FillRecord:
    return FillRecord(
        0, "S", "A.X", order, f"T-{order}-{price}", "P", side, quantity, price, 0.0, ""
    )


FILLS = [
    fill("1", +1, 25, 100.00),  # a buy of 100: 25 at the close, 75 a tick worse
    fill("1", +1, 75, 100.01),
    fill("2", -1, 100, 99.50),  # whole
    fill("3", -1, 30, 99.40),  # a sell of 100: 70 a tick lower
    fill("3", -1, 70, 99.39),
]


@pytest.mark.parametrize("as_log", [False, True])
def test_split_orders_and_their_slippage(as_log: bool) -> None:
    fills = FILLS
    if as_log:
        log = RecordLog(FillRecord)
        for f in FILLS:
            log.append(f)
        fills = log  # type: ignore[assignment]
    summary = execution_summary(fills)
    assert (summary.orders_filled, summary.split_orders, summary.split_fills) == (3, 2, 2)
    assert summary.slippage == pytest.approx(75 * 0.01 + 70 * 0.01)


def refusal(
    count: int, kind: str = "rejected", reason: str = "no market for A.X"
) -> EngineRejection:
    return EngineRejection(
        kind=kind, reason=reason, count=count, first_ts=[60_000_000_000], example=reason
    )  # type: ignore[arg-type]


def test_a_run_the_engine_refused_entirely_fails_with_the_cause_and_the_fix() -> None:
    with pytest.raises(AllOrdersRefusedError) as caught:
        check_not_all_refused([refusal(14_419)], orders_taken=0)
    assert caught.value.code == "all_orders_refused"
    assert caught.value.data["orders_refused"] == 14_419
    assert "14,419" in caught.value.message and "no market" in caught.value.message
    assert caught.value.hint is not None and "bar_spread" in caught.value.hint


def test_some_refusals_warn_without_failing() -> None:
    refusals = [refusal(3, "denied", "INSUFFICIENT_MARGIN")]
    check_not_all_refused(refusals, orders_taken=5)
    (headline, detail) = refusal_warnings(refusals, orders_filled=5)
    assert "refused 3 order(s) (5 filled)" in headline and "INSUFFICIENT_MARGIN" in detail
    assert refusal_warnings([], orders_filled=5) == []
    check_not_all_refused([], orders_taken=0)  # nothing sent, nothing refused: no error


ORDER = st.tuples(
    st.sampled_from([1, -1]),
    st.integers(min_value=1, max_value=10_000),  # first price in ticks
    st.lists(  # parts: quantity, ticks from the first price
        st.tuples(st.integers(min_value=1, max_value=1_000), st.integers(-3, 3)),
        min_size=1,
        max_size=4,
    ),
)


# Property 16: performance attributed to the exact definition (the execution figures are
# what each order's later parts cost against its first, however orders interleave)
@settings(max_examples=200, deadline=None)
@given(orders=st.lists(ORDER, min_size=0, max_size=12), seed=st.randoms(use_true_random=False))
def test_slippage_is_what_later_parts_cost(orders: list[Any], seed: Any) -> None:
    queues = []
    expected_slippage, expected_split = 0.0, 0
    for index, (side, first_ticks, parts) in enumerate(orders):
        queue = [
            fill(str(index), side, q, (first_ticks + (0 if k == 0 else off)) * 0.01)
            for k, (q, off) in enumerate(parts)
        ]
        queues.append(queue)
        expected_split += len(queue) > 1
        expected_slippage += sum(side * (f.price - queue[0].price) * f.quantity for f in queue[1:])
    interleaved: list[FillRecord] = []
    while any(queues):  # a random interleaving that keeps each order's parts in order
        queue = seed.choice([q for q in queues if q])
        interleaved.append(queue.pop(0))
    summary = execution_summary(interleaved)
    assert summary.orders_filled == len(orders)
    assert summary.split_orders == expected_split
    assert summary.split_fills == sum(len(p) - 1 for _, _, p in orders)
    assert summary.slippage == pytest.approx(expected_slippage, abs=1e-6)
