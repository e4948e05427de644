"""Golden masters for strategy runs, as LEAN's OrderListHash: one sha256 of the ordered fills.

A family's test keeps the digest of its fills on a fixed synthetic dataset and seed as a
deliberate constant: a change in behaviour fails there until the constant is updated on
purpose. The text hashed is one line per fill, ``side,quantity,price,ts_ns`` (floats by
``repr``, so exact), in the run's fill order.
"""

import hashlib
from collections.abc import Iterable

from quantdesk.domain.backtest_records import FillRecord


def fills_text(fills: Iterable[FillRecord]) -> str:
    """The hashed text: readable in a failing test's diff."""
    return "\n".join(f"{f.side},{f.quantity!r},{f.price!r},{f.ts_ns}" for f in fills)


def orders_hash(fills: Iterable[FillRecord]) -> str:
    """sha256 (hex) of :func:`fills_text`."""
    return hashlib.sha256(fills_text(fills).encode()).hexdigest()
