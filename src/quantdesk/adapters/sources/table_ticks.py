"""A chunk of a trade-tick, quote-tick or book-delta table as ``RawTicks`` per instrument.

What a tick file's reader produces (``tick_files``), by the same cell rules
(``tick_cells``): prices and sizes as floats (NaN for a cell that is not a number), sides
and actions as the engine's codes (-1 for a name the rules do not know), order ids and
sequences as exact whole numbers (a cell that is not one is marked), trade ids as text.
A delta's flags are not read (the migration sets ``F_LAST`` on each event's last delta);
a field the mapping declares absent (``null``) is 0.
"""

import numpy as np

from quantdesk.adapters.sources.bar_cells import to_float
from quantdesk.adapters.sources.table_cells import SourceChunk, by_instrument, numbers, texts
from quantdesk.adapters.sources.tick_cells import (
    CODE_FIELDS,
    WHOLE_FIELDS,
    to_code,
    to_trade_ids,
    to_whole,
)
from quantdesk.domain.market_data import Rejection
from quantdesk.domain.source_mapping import SourceMapping
from quantdesk.services.columns import BoolArray
from quantdesk.services.tick_columns import FIELD_DTYPES, AnyArray, RawTicks, value_fields


def raw_ticks(
    chunk: SourceChunk, mapping: SourceMapping
) -> tuple[dict[str, RawTicks], list[Rejection]]:
    """The chunk's ticks per catalog instrument id, and the rows of no mapped instrument."""
    kind = mapping.kind.tick_kind
    if kind is None:
        raise ValueError(f"raw_ticks reads ticks, not {mapping.kind.value}")
    groups, rejected = by_instrument(chunk, mapping)
    out: dict[str, RawTicks] = {}
    for instrument, group in groups.items():
        n = len(group.rows)
        values: dict[str, AnyArray] = {}
        unparsed: dict[str, BoolArray] = {}
        for field in value_fields(kind):
            cells = group.cells.get(field)
            if cells is None:  # a delta's flags, or a field the table lacks
                values[field] = np.zeros(n, dtype=FIELD_DTYPES[field])
            elif field in CODE_FIELDS:
                values[field] = to_code(field, texts(cells))
            elif field in WHOLE_FIELDS:
                values[field], unparsed[field] = to_whole(texts(cells))
            elif field == "trade_id":
                values[field] = to_trade_ids(texts(cells))
            else:
                values[field] = to_float(numbers(cells))
        out[instrument] = RawTicks(
            kind=kind,
            source_row=group.rows,
            ts_ns=group.ts_ns,
            ts_status=group.ts_status,
            values=values,
            unparsed=unparsed,
            text_of=group.text_of,
        )
    return out, rejected
