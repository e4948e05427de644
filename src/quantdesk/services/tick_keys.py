"""Rows as fixed-width byte strings, so that matching and de-duplicating them is numpy's.

A key packs a row's fields into one ``S<n>`` value (a view of a packed record array), so
``np.isin`` and ``np.unique`` compare whole rows in C instead of a Python tuple per row.
Floats are compared by their bits, with -0.0 made 0.0 (the catalog returns 0.0 for it);
trade ids are the ASCII bytes the rules have already checked (at most 36).
"""

import numpy as np
import numpy.typing as npt

from quantdesk.domain.ticks import TRADE_ID_MAX_CHARS
from quantdesk.services.columns import Int64Array
from quantdesk.services.tick_columns import AnyArray

Keys = npt.NDArray[np.bytes_]


def row_keys(ts_ns: Int64Array, *columns: AnyArray) -> Keys:
    """One key per row from its timestamp and ``columns``."""
    parts: list[AnyArray] = [ts_ns.astype(np.int64)]
    for column in columns:
        if column.dtype == object:
            parts.append(np.array(column.tolist(), dtype=f"S{TRADE_ID_MAX_CHARS}"))
        elif column.dtype.kind == "f":
            parts.append(column.astype(np.float64) + 0.0)
        else:
            parts.append(column.astype(np.int64 if column.dtype.kind == "i" else np.uint64))
    packed = np.empty(len(ts_ns), dtype=[(f"f{i}", part.dtype) for i, part in enumerate(parts)])
    for i, part in enumerate(parts):
        packed[f"f{i}"] = part
    keys: Keys = np.ascontiguousarray(packed).view(f"S{packed.dtype.itemsize}")
    return keys


def with_occurrence(keys: Keys) -> Keys:
    """Keys made unique by the number of equal keys before them (0, 1, ...), so that sets of
    them compare as multisets: a row twice in a file must be there twice in the catalog."""
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.ones(n, dtype=np.bool_)
    starts[1:] = ordered[1:] != ordered[:-1]
    position = np.arange(n)
    rank = position - np.maximum.accumulate(np.where(starts, position, 0))
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = rank
    width = keys.dtype.itemsize
    packed = np.empty(n, dtype=[("key", f"V{width}"), ("n", np.int64)])
    packed["key"] = keys.view(f"V{width}")
    packed["n"] = occurrence
    unique: Keys = packed.view(f"S{width + 8}")
    return unique
