"""A chunk of a bars table as ``RawBarColumns``, one per instrument, for the shared validation.

What a bar file's reader produces (see ``table_cells`` for the cells, instruments and
timestamps): float values with NaN for a cell that is not a number, and the cell's own text
for a rejection to quote.
"""

from quantdesk.adapters.sources.bar_cells import to_float
from quantdesk.adapters.sources.table_cells import SourceChunk, by_instrument, numbers
from quantdesk.domain.market_data import Rejection
from quantdesk.domain.source_mapping import SourceKind, SourceMapping
from quantdesk.services.columns import VALUE_FIELDS, BarColumns, RawBarColumns


def raw_bars(
    chunk: SourceChunk, mapping: SourceMapping
) -> tuple[dict[str, RawBarColumns], list[Rejection]]:
    """The chunk's bars per catalog instrument id, and the rows of no mapped instrument."""
    if mapping.kind is not SourceKind.BARS:
        raise ValueError(f"raw_bars reads bars, not {mapping.kind.value}")
    groups, rejected = by_instrument(chunk, mapping)
    out: dict[str, RawBarColumns] = {}
    for instrument, group in groups.items():
        values = {f: to_float(numbers(group.cells[f])) for f in VALUE_FIELDS}
        out[instrument] = RawBarColumns(
            source_row=group.rows,
            ts_ns=group.ts_ns,
            ts_status=group.ts_status,
            values=BarColumns(ts_ns=group.ts_ns, **values),
            text_of=group.text_of,
        )
    return out, rejected
