"""Ticks as columns, one numpy array per field, row-aligned (as ``columns`` does for bars).

One shape for the three kinds: a kind and its fields by name, so taking, concatenating and
comparing rows is written once. Prices and sizes are floats at instrument precision; sides,
actions and flags are the engine's integer codes; trade ids are text.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from quantdesk.domain.market_data import Rejection
from quantdesk.domain.ticks import TICK_FIELDS, TickKind
from quantdesk.services.columns import BoolArray, Int64Array, UInt8Array

AnyArray = npt.NDArray[Any]

FIELD_DTYPES: Mapping[str, npt.DTypeLike] = {
    "price": np.float64,
    "size": np.float64,
    "bid": np.float64,
    "ask": np.float64,
    "bid_size": np.float64,
    "ask_size": np.float64,
    "aggressor_side": np.int8,
    "action": np.int8,
    "side": np.int8,
    "trade_id": np.object_,  # text of any length: the rules judge it, no truncation
    "order_id": np.uint64,
    "sequence": np.uint64,
    "flags": np.uint64,  # read as any whole number, then checked to fit the engine's byte
}


def value_fields(kind: TickKind) -> tuple[str, ...]:
    """The fields besides the timestamp, in the file's documented order."""
    return TICK_FIELDS[kind][1:]


@dataclass(frozen=True, eq=False)
class TickColumns:
    """Ticks of one kind, stamped ``ts_ns`` (the event time; the engine's ``ts_init`` too)."""

    kind: TickKind
    ts_ns: Int64Array
    values: Mapping[str, AnyArray]

    def __len__(self) -> int:
        return int(self.ts_ns.shape[0])

    def field(self, name: str) -> AnyArray:
        return self.values[name]

    def take(self, selector: BoolArray | Int64Array) -> "TickColumns":
        return TickColumns(
            self.kind, self.ts_ns[selector], {k: v[selector] for k, v in self.values.items()}
        )

    def with_field(self, name: str, values: AnyArray) -> "TickColumns":
        return TickColumns(self.kind, self.ts_ns, {**self.values, name: values})

    @classmethod
    def empty(cls, kind: TickKind) -> "TickColumns":
        return cls(
            kind,
            np.empty(0, dtype=np.int64),
            {name: np.empty(0, dtype=FIELD_DTYPES[name]) for name in value_fields(kind)},
        )

    @classmethod
    def concat(cls, kind: TickKind, parts: list["TickColumns"]) -> "TickColumns":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty(kind)
        if len(parts) == 1:
            return parts[0]
        return cls(
            kind,
            np.concatenate([p.ts_ns for p in parts]),
            {name: np.concatenate([p.values[name] for p in parts]) for name in value_fields(kind)},
        )


@dataclass(frozen=True, eq=False)
class RawTicks:
    """Ticks as read, before any rule: unparseable numbers are NaN, unknown codes -1.

    ``unparsed`` marks, per integer field, the cells that are not whole numbers >= 0 (their
    value is 0); ``text_of(field, index)`` gives back a cell's own text for a rejection;
    ``malformed`` holds lines that could not be split into fields (read and rejected).
    """

    kind: TickKind
    source_row: Int64Array
    ts_ns: Int64Array
    ts_status: UInt8Array
    values: Mapping[str, AnyArray]
    unparsed: Mapping[str, BoolArray]
    text_of: Callable[[str, int], str]
    malformed: list[Rejection] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.source_row.shape[0])
