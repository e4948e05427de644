"""First-failure bookkeeping for ingest validation, bars and ticks alike.

A row keeps the first reason and field it is given: checks run in the order of
``RejectReason``, so every rejected row carries exactly one reason and the counts by reason
add up to the rows rejected, whatever else is wrong with it.
"""

from collections.abc import Callable

import numpy as np

from quantdesk.domain.market_data import Rejection, RejectReason
from quantdesk.services.columns import BoolArray, Int64Array

_REASONS = tuple(RejectReason)
_NONE = -1


class Verdicts:
    """Per row: alive, or the first reason and field (one of ``fields``) it was rejected for."""

    def __init__(self, n: int, fields: tuple[str, ...]) -> None:
        self._fields = fields
        self.reason = np.full(n, _NONE, dtype=np.int8)
        self.field = np.full(n, _NONE, dtype=np.int8)

    def reject(self, mask: BoolArray, reason: RejectReason, field: str = "timestamp") -> None:
        fresh = mask & (self.reason == _NONE)
        self.reason[fresh] = _REASONS.index(reason)
        self.field[fresh] = self._fields.index(field)

    @property
    def alive(self) -> BoolArray:
        alive: BoolArray = self.reason == _NONE
        return alive

    def rejections(
        self,
        source_row: Int64Array,
        text_of: Callable[[str, int], str],
        detail: Callable[[int, RejectReason, str], str],
    ) -> list[Rejection]:
        """The rejected rows in row order, each with its file row, cell text and ``detail``
        (given the row's index, reason and field)."""
        out = []
        for index in np.flatnonzero(~self.alive).tolist():
            reason = _REASONS[self.reason[index]]
            field = self._fields[self.field[index]]
            out.append(
                Rejection(
                    row=int(source_row[index]),
                    field=field,
                    value=text_of(field, index),
                    reason=reason,
                    detail=detail(index, reason, field),
                )
            )
        return out
