"""A source table's columns finished on our side, as the server would have computed them.

The reader asks the server for as little work per row as it can (its cost bounds the
read): a ``numeric`` arrives as its exact text and a row's source day is not asked for.
These functions do the rest, in the reader's thread, to the same result:

* A numeric's text becomes the nearest double. The server's own cast (``::float8``) prints
  the numeric and parses that text with ``strtod``; Arrow's parser is correctly rounded
  too, so the double is the one the cast gives. A value no double holds is no failed read:
  beyond 1e300 in magnitude (no price or size is that large) it is the sign's infinity, a
  value the validation rejects; NaN and the infinities come by name; a magnitude below the
  smallest double is zero (where the server's cast would fail).
* The source day of a time (``TableSnapshot``'s definition: days since 1970-01-01 of the
  time as the table writes it) is the floor of its microseconds over a day's: a
  zone-aware time is read in UTC and a naive one as written, which is the SQL date the
  snapshot's UTC session gives; an epoch integer's is the floor over its units per day.
  No time (or one out of range, read as NULL) has no day.
"""

from decimal import Decimal
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PER_DAY: Final = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}
"""Epoch units per day."""

LIMIT: Final = 1e300
"""The largest magnitude a value keeps; beyond it, the sign's infinity."""

_EXACT_LIMIT: Final = Decimal("1e300")


def doubles(text: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Numerics' texts (as PostgreSQL prints them) as float64, NULL kept."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    values = pc.cast(text, pa.float64())
    magnitude = pc.abs(values)
    beyond = np.asarray(
        pc.fill_null(pc.greater(magnitude, LIMIT), False).to_numpy(zero_copy_only=False),
        dtype=np.bool_,
    )
    # the double nearest 1e300 also holds numerics just above 1e300: their text decides
    for index in np.flatnonzero(np.asarray(pc.equal(magnitude, LIMIT).fill_null(False))):
        beyond[index] = Decimal(str(text[int(index)].as_py())).copy_abs() > _EXACT_LIMIT
    if not beyond.any():
        return values
    infinite = pc.multiply(pc.sign(values), float("inf"))
    chosen: pa.Array = pc.if_else(pa.array(beyond), infinite, values)
    return chosen


def source_days(stamps: pa.Array | pa.ChunkedArray, unit: str) -> pa.Array:
    """Each time's source day (int64, NULL for no time); ``unit`` is the mapping's
    (``timestamp`` for a SQL time, else the epoch integers' unit)."""
    if isinstance(stamps, pa.ChunkedArray):
        stamps = stamps.combine_chunks()
    per_day = PER_DAY[stamps.type.unit if pa.types.is_timestamp(stamps.type) else unit]
    counts = stamps.cast(pa.int64())
    valid = np.asarray(counts.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    whole = np.asarray(counts.fill_null(0).to_numpy(), dtype=np.int64) // per_day  # floor
    return pa.array(whole, pa.int64(), mask=~valid)
