"""The bars digest is its documented layout (the instrument id, then each row's timestamp as
a little-endian int64 and its five values as little-endian doubles), whatever way it is fed:
digests of earlier runs stay comparable."""

import hashlib
import struct

import numpy as np

from quantdesk.services.bar_batches import bars_digest
from quantdesk.services.columns import BarColumns


def test_the_digest_is_the_rows_bytes_in_order() -> None:
    stamps = [-1, 0, 1, 2**62, -(2**62)]  # the int64 bits, not a double's (-1 is a NaN's)
    values = [[0.5 * k + f for k in range(5)] for f in range(5)]
    bars = BarColumns(np.array(stamps, dtype=np.int64), *(np.array(v) for v in values))
    expected = hashlib.sha256(b"A.XNAS")
    for i, stamp in enumerate(stamps):
        expected.update(struct.pack("<q5d", stamp, *(values[f][i] for f in range(5))))
    assert bars_digest("A.XNAS", bars) == expected.hexdigest()
