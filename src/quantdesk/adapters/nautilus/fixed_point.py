"""The engine's 128-bit fixed-point prices and sizes, to and from float columns, vectorised.

A value is stored as ``raw = value x FIXED_SCALAR`` in 16 little-endian bytes, which is how
Arrow lays out a ``decimal128``; so Arrow's decimal arithmetic does the 128-bit products
and reading a column back is a reinterpretation of its buffer, never a Python int per row.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from nautilus_trader.model.objects import FIXED_PRECISION, FIXED_SCALAR

from quantdesk.services.columns import Float64Array

WIDTH = 16


def encode(values: Float64Array, precision: int) -> pa.Array:
    """Floats at ``precision`` decimals as the engine's fixed-size binary column."""
    # Whole units of the last decimal: integral doubles, beyond int64 at high precision.
    # Values are below 10**14 (the engine's bounds, checked by the rules): so the digits fit.
    units = pa.array(np.round(values * 10.0**precision)).cast(pa.decimal128(14 + precision, 0))
    scale = 10 ** (FIXED_PRECISION - precision)
    product = pc.multiply(units, pa.scalar(scale, pa.decimal128(17 - precision, 0)))
    return pa.Array.from_buffers(pa.binary(WIDTH), len(product), [None, product.buffers()[1]])


def decode(column: pa.ChunkedArray | pa.Array, precision: int) -> Float64Array:
    """The engine's fixed-point column as floats: the same double as parsing the decimal.

    Whole units of the last decimal, exactly, then one correctly rounded division.
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if len(array) == 0:
        return np.empty(0, dtype=np.float64)
    scale = FIXED_PRECISION - precision
    as_decimal = pa.Array.from_buffers(
        pa.decimal128(38, scale), len(array), [None, array.buffers()[1]], offset=array.offset
    )
    whole = as_decimal.cast(pa.decimal128(38, 0))
    try:
        units = np.asarray(whole.cast(pa.int64()).to_numpy(), dtype=np.int64).astype(np.float64)
    except pa.ArrowInvalid:  # beyond int64 units (huge values at high precision): as Arrow can
        units = np.asarray(whole.cast(pa.float64()).to_numpy(), dtype=np.float64)
    decoded: Float64Array = units / 10.0**precision
    return decoded


assert float(FIXED_SCALAR) == 10.0**FIXED_PRECISION  # the layout above assumes it
