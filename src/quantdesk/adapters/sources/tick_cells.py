"""Tick cells into numbers and codes; a cell that does not parse is marked, never dropped.

Timestamps and decimals are parsed as for bars (``bar_cells``); sides and actions are looked
up case-insensitively among the names the domain accepts; order ids, sequences and flags
are taken exactly as whole numbers (a float would lose a 64-bit sequence).
"""

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from quantdesk.domain.ticks import (
    AGGRESSOR_NAMES,
    BOOK_ACTION_NAMES,
    BOOK_SIDE_NAMES,
    INVALID_CODE,
)
from quantdesk.services.columns import BoolArray
from quantdesk.services.tick_columns import AnyArray

_CODES: Mapping[str, Mapping[str, int]] = {
    "aggressor_side": {k: int(v) for k, v in AGGRESSOR_NAMES.items()},
    "side": {k: int(v) for k, v in BOOK_SIDE_NAMES.items()},
    "action": {k: int(v) for k, v in BOOK_ACTION_NAMES.items()},
}
CODE_FIELDS = frozenset(_CODES)
WHOLE_FIELDS = frozenset({"order_id", "sequence", "flags"})
_UINT64_MAX = str(2**64 - 1)


def as_text(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray:
    """Any scalar column as trimmed text (nulls stay null)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column])
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return pc.utf8_trim_whitespace(column.cast(pa.string()))


def to_code(field: str, column: pa.ChunkedArray) -> AnyArray:
    """Engine codes of side / action names; ``INVALID_CODE`` where a cell names none."""
    names = _CODES[field]
    keys = pa.array(list(names))
    codes = np.array([*names.values(), INVALID_CODE], dtype=np.int8)
    position = pc.fill_null(pc.index_in(pc.utf8_upper(as_text(column)), value_set=keys), -1)
    found: AnyArray = codes[np.asarray(position.to_numpy(), dtype=np.int64)]
    return found


def to_whole(column: pa.ChunkedArray) -> tuple[AnyArray, BoolArray]:
    """Whole numbers 0 <= n < 2**64 exactly, and where a cell is not one (its value: 0)."""
    text = as_text(column)
    digits = pc.match_substring_regex(text, r"^\+?\d{1,20}$")
    stripped = pc.utf8_ltrim(pc.replace_substring(text, "+", ""), characters="0")
    stripped = pc.if_else(pc.equal(stripped, ""), "0", stripped)
    short = pc.less(pc.utf8_length(stripped), 20)
    fits = pc.and_(digits, pc.or_(short, pc.less_equal(stripped, _UINT64_MAX)))
    fits = pc.fill_null(pc.and_(fits, pc.less_equal(pc.utf8_length(stripped), 20)), False)
    values = pc.if_else(fits, stripped, "0").cast(pa.uint64())
    bad: BoolArray = ~np.asarray(fits.to_numpy(zero_copy_only=False), dtype=np.bool_)
    whole: AnyArray = np.asarray(values.to_numpy(), dtype=np.uint64)
    return whole, bad


def to_trade_ids(column: pa.ChunkedArray) -> AnyArray:
    """Trade ids as Python strings, untrimmed (the rules judge them); null becomes ''."""
    text = pc.fill_null(column.cast(pa.string()), "")
    ids: AnyArray = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    return ids
