"""How a PostgreSQL table of market data maps onto the catalog (issue 16's mapping file).

A mapping names one table and says which of its columns hold which fields, how its
timestamps are written, which instrument the rows are about and which rows to take. It is a
user's document: every name in it ends up in SQL, so names are plain identifiers (letters,
digits, ``_``; a schema-qualified table as ``schema.table``) quoted by the reader, never
spliced, and filters are structured comparisons whose values travel as parameters.

- ``kind``: ``bars`` (fields ``timestamp, open, high, low, close, volume``), ``trade_ticks``
  (``timestamp, price, size, aggressor_side, trade_id``), ``quote_ticks`` (``timestamp, bid,
  ask, bid_size, ask_size``), ``order_book_deltas`` (``timestamp, action, side, price, size,
  order_id, sequence``): the fields tick ingest reads from a file (a delta's flags are set by
  the migration itself: ``F_LAST`` on each event's last delta). ``columns`` maps a field to
  its column where they differ; every field of the kind must exist once mapped (checked
  against the table by the reader), except a delta's ``order_id`` and ``sequence``, which a
  table may lack: mapped to ``null``, they are 0.
- ``timestamp``: the column's ``unit`` (``timestamp`` for a SQL timestamp type, or ``s``,
  ``ms``, ``us``, ``ns`` for integers since the epoch) and, for a timestamp without a time
  zone, the ``zone`` it was written in (default: refused, as CSV ingest refuses a naive
  time; ``UTC`` or an IANA name).
- ``instrument``: either ``instrument_id`` (every row is about it) or ``column`` (the row's
  own, mapped to catalog ids by ``ids``, e.g. ``{BTCUSDT: BTCUSDT.BINANCE}``).
- ``key``: a column that, with the timestamp, orders rows uniquely (a serial id): chunks and
  watermarks rely on a total order. Default: the timestamp alone, for bars (one bar an
  instant); required for ticks, which share instants and whose order within one (a book
  event's deltas) is part of the data.
- ``filters``: ``[{column, op, value}]``, ops ``= != < <= > >= in``.
"""

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.text import is_whole_match
from quantdesk.domain.ticks import TICK_FIELDS, TickKind

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
"""A PostgreSQL identifier as a mapping may name it (63 bytes at most, no quoting needed)."""
TABLE = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,62}")
FILTERS_MAX = 20
IN_VALUES_MAX = 1_000
IDS_MAX = 10_000
CHUNK_ROWS_MAX = 1_000_000

Scalar = str | int | float | bool


class SourceKind(StrEnum):
    """What a table holds, as a mapping file names it; a tick kind is a catalog data type."""

    BARS = "bars"
    TRADE_TICKS = "trade_ticks"
    QUOTE_TICKS = "quote_ticks"
    ORDER_BOOK_DELTAS = "order_book_deltas"

    @property
    def tick_kind(self) -> TickKind | None:
        """The catalog's tick data type of the rows (None for bars)."""
        return _TICK_KINDS.get(self)


_TICK_KINDS = {
    SourceKind.TRADE_TICKS: TickKind.TRADE,
    SourceKind.QUOTE_TICKS: TickKind.QUOTE,
    SourceKind.ORDER_BOOK_DELTAS: TickKind.DELTA,
}
FIELDS: Mapping[SourceKind, tuple[str, ...]] = {
    SourceKind.BARS: ("timestamp", "open", "high", "low", "close", "volume"),
    **{
        kind: tuple(f for f in TICK_FIELDS[tick] if f != "flags")
        for kind, tick in _TICK_KINDS.items()
    },
}
NUMBER_FIELDS = frozenset(
    (
        "open",
        "high",
        "low",
        "close",
        "volume",
        "price",
        "size",
        "bid",
        "ask",
        "bid_size",
        "ask_size",
    )
)
"""Prices and sizes: read as the nearest double (the catalog stores them at a precision)."""
ABSENT_FIELDS: Mapping[SourceKind, frozenset[str]] = {
    SourceKind.ORDER_BOOK_DELTAS: frozenset({"order_id", "sequence"}),
}
"""Fields a table may lack (mapped to ``null``): their value is 0, as in a tick file."""


def _identifier(value: str) -> str:
    if not is_whole_match(IDENTIFIER, value):
        raise ValueError(
            f"{value[:80]!r} is not a column name: letters, digits and _, not starting with a "
            "digit, at most 63"
        )
    return value


class TimestampColumn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str = "timestamp"
    unit: Literal["timestamp", "s", "ms", "us", "ns"] = "timestamp"
    zone: str | None = Field(
        default=None, description="the zone a timestamp without time zone was written in"
    )

    check_column = field_validator("column")(_identifier)

    @field_validator("zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value[:80]!r} is not a time zone (UTC or an IANA name)") from None
        return value


class InstrumentSource(BaseModel):
    """The rows' instrument: one for all, or a column mapped to catalog ids."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_id: str | None = Field(default=None, min_length=3, max_length=100)
    column: str | None = None
    ids: dict[str, str] = Field(default_factory=dict, max_length=IDS_MAX)

    @field_validator("column")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if (self.instrument_id is None) == (self.column is None):
            raise ValueError("give either instrument_id (every row) or column (the row's own)")
        if self.instrument_id is not None and self.ids:
            raise ValueError("ids map a column's values: they need column, not instrument_id")
        return self


class Filter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    op: Literal["=", "!=", "<", "<=", ">", ">=", "in"]
    value: Scalar | list[Scalar]

    check_column = field_validator("column")(_identifier)

    @model_validator(mode="after")
    def _value_fits_op(self) -> Self:
        if self.op == "in":
            if not isinstance(self.value, list) or not 1 <= len(self.value) <= IN_VALUES_MAX:
                raise ValueError(f"'in' takes a list of 1 to {IN_VALUES_MAX:,} values")
        elif isinstance(self.value, list):
            raise ValueError(f"{self.op!r} takes one value, not a list")
        return self


class SourceMapping(BaseModel):
    """One table of market data and how its rows become catalog records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: SourceKind
    table: str
    bar_spec: str | None = Field(default=None, max_length=40)
    columns: dict[str, str | None] = Field(default_factory=dict)
    timestamp: TimestampColumn = Field(default_factory=TimestampColumn)
    instrument: InstrumentSource
    key: str | None = None
    filters: list[Filter] = Field(default_factory=list, max_length=FILTERS_MAX)
    chunk_rows: int = Field(default=50_000, ge=1, le=CHUNK_ROWS_MAX)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        if not is_whole_match(TABLE, value):
            raise ValueError(
                f"{value[:80]!r} is not a table name: [schema.]table of letters, digits and _"
            )
        return value

    @field_validator("bar_spec")
    @classmethod
    def _bar_spec(cls, value: str | None) -> str | None:
        if value is not None:
            BarSpec.parse(value)  # its ValueError names the spec and the reason
        return value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return None if value is None else _identifier(value)

    @model_validator(mode="after")
    def _fields(self) -> Self:
        fields = FIELDS[self.kind]
        unknown = sorted(set(self.columns) - set(fields))
        if unknown:
            raise ValueError(
                f"unknown field(s) {', '.join(unknown)} for {self.kind.value}; known: "
                f"{', '.join(fields)}"
            )
        for field, column in self.columns.items():
            if column is not None:
                _identifier(column)
            elif field not in ABSENT_FIELDS.get(self.kind, ()):
                raise ValueError(
                    f"{field} needs a column: only a delta's order_id and "
                    "sequence may be null (absent from the table)"
                )
        if "timestamp" in self.columns:
            raise ValueError("the timestamp's column is given under timestamp: column")
        if (self.kind is SourceKind.BARS) != (self.bar_spec is not None):
            raise ValueError("bar_spec is given for bars, and only for bars")
        if self.kind is not SourceKind.BARS and self.key is None:
            raise ValueError(
                f"{self.kind.value} need a key column (a serial id): ticks share instants, "
                "and their order within one must be the table's, every time it is read"
            )
        return self

    def instrument_ids(self) -> list[str]:
        """The catalog instruments the mapping names (none for a column's own values)."""
        if self.instrument.instrument_id is not None:
            return [self.instrument.instrument_id]
        return sorted(set(self.instrument.ids.values()))

    def column_of(self, field: str) -> str | None:
        """The table's column holding ``field`` (None: the table has none, see ``columns``)."""
        if field == "timestamp":
            return self.timestamp.column
        return self.columns.get(field, field)

    def fields(self) -> dict[str, str]:
        """Each field the table holds -> its column, in the kind's order."""
        found = {f: self.column_of(f) for f in FIELDS[self.kind]}
        return {f: c for f, c in found.items() if c is not None}

    def selected(self) -> list[str]:
        """The columns read, in order: the kind's fields, the instrument's, the key."""
        out = list(dict.fromkeys(self.fields().values()))
        for extra in (self.instrument.column, self.key):
            if extra is not None and extra not in out:
                out.append(extra)
        return out
