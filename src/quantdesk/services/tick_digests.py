"""Digests of ticks as a migration and its verify compare them: equal digests, equal rows.

The digest covers the nanosecond timestamp and every field of the kind, bit for bit, row by
row in the rows' order; not a delta's flags, which whoever writes the deltas sets (ingest and
migration put ``F_LAST`` on each event's last delta).
"""

import hashlib

from quantdesk.domain.ticks import TickKind
from quantdesk.services.bar_batches import Digest
from quantdesk.services.tick_columns import TickColumns, value_fields
from quantdesk.services.tick_keys import row_keys


def digested_fields(kind: TickKind) -> tuple[str, ...]:
    """The fields a digest covers: all but a delta's flags (set by whoever writes them)."""
    return tuple(f for f in value_fields(kind) if f != "flags")


def tick_digest(instrument_id: str, ticks: TickColumns) -> str:
    """sha256 of an instrument's ticks: its id, then each row (``update_tick_digest``)."""
    digest = hashlib.sha256(instrument_id.encode())
    update_tick_digest(digest, ticks)
    return digest.hexdigest()


def update_tick_digest(digest: Digest, ticks: TickColumns) -> None:
    """Feed rows, in their order, into a running digest: row by row (``tick_keys.row_keys``:
    the nanosecond time, then each field, -0.0 as 0.0 as the catalog returns it), so feeding
    a day in pieces gives the digest of feeding it whole."""
    if len(ticks):
        fields = (ticks.field(name) for name in digested_fields(ticks.kind))
        digest.update(row_keys(ticks.ts_ns, *fields).tobytes())
