"""How orders met the bars' liquidity, and what the engine refused: figures for the result.

Definitions (linear instruments quoted in the account currency, multiplier 1, as in
``performance.py``): an order is *split* when it filled in more than one part; its
*slippage* is what the later parts cost against the first part's price (``side x (price -
first price) x quantity``, > 0 when paid). With volume-limited liquidity the first part is
the bar's price and the rest one tick worse.
"""

from collections.abc import Sequence
from typing import Any

from quantdesk.domain.backtest import FillRecord
from quantdesk.domain.execution import AllOrdersRefusedError, EngineRejection, ExecutionSummary
from quantdesk.domain.time import ns_to_text


def execution_summary(fills: Sequence[FillRecord]) -> ExecutionSummary:
    columns: Any = fills
    if hasattr(columns, "column"):  # a RecordLog: read columns, not one object per fill
        orders, sides = columns.column("order_id"), columns.column("side")
        prices, quantities = columns.column("price"), columns.column("quantity")
    else:
        orders = [f.order_id for f in fills]
        sides = [f.side for f in fills]
        prices = [f.price for f in fills]
        quantities = [f.quantity for f in fills]
    return _summarise(orders, sides, prices, quantities)


def _summarise(
    orders: Sequence[str],
    sides: Sequence[int],
    prices: Sequence[float],
    quantities: Sequence[float],
) -> ExecutionSummary:
    first: dict[str, float] = {}
    split: set[str] = set()
    later, slippage = 0, 0.0
    for order, side, price, quantity in zip(orders, sides, prices, quantities, strict=True):
        reference = first.get(order)
        if reference is None:
            first[order] = price
            continue
        split.add(order)
        later += 1
        slippage += side * (price - reference) * quantity
    return ExecutionSummary(
        orders_filled=len(first), split_orders=len(split), split_fills=later, slippage=slippage
    )


def refusal_warnings(refusals: Sequence[EngineRejection], orders_filled: int) -> list[str]:
    """One line per reason the engine refused orders (empty when it refused none)."""
    total = sum(r.count for r in refusals)
    if not total:
        return []
    lines = [
        f"the engine refused {total:,} order(s) ({orders_filled:,} filled): the run traded "
        "less than its strategies asked"
    ]
    for r in refusals:
        lines.append(
            f"{r.count:,} {r.kind}: {r.reason} (first at {ns_to_text(r.first_ts[0])}: {r.example})"
        )
    return lines


_FIXES = {
    "no market": "single-sided (BID or ASK) bars make no market by themselves: set the "
    "venue's bar_spread, or run on LAST or MID bars",
    "INSUFFICIENT_MARGIN": "the orders need more margin than the account has: raise the "
    "starting balance or the venue's leverage, or trade smaller",
    "INSUFFICIENT_CASH": "the buys cost more than the cash account holds: raise the "
    "starting balance, trade smaller, or use a margin account",
    "NO_NEXT_OPEN": "with the venue's fill_at next_open an order fills at the next bar's open, "
    "and these orders came on the run's last bar: extend the run's end, or fill at the close",
}


def check_not_all_refused(refusals: Sequence[EngineRejection], orders_taken: int) -> None:
    """Fail a run in which the engine refused every order it was sent (cause and fix);
    ``orders_taken``: the orders the venue accepted (or at least filled)."""
    total = sum(r.count for r in refusals)
    if not total or orders_taken:
        return
    top = refusals[0]
    fix = next(
        (text for key, text in _FIXES.items() if top.reason.startswith(key)),
        "see the engine's reason above; run with the engine log at INFO for each order",
    )
    raise AllOrdersRefusedError(
        f"the engine refused every order of the run ({total:,}): {top.count:,} {top.kind} "
        f"with {top.example!r}, first at {ns_to_text(top.first_ts[0])}",
        hint=fix,
        data={
            "orders_refused": total,
            "refusals": [r.model_dump(mode="json") for r in refusals],
        },
    )
