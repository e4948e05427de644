"""Tick vocabulary: trade ticks, quote ticks and L2 order-book deltas, their options and results.

The numeric codes are the engine's own (``AggressorSide``, ``OrderSide``, ``BookAction``,
``RecordFlag``), so columns carry them unchanged from validation to the catalog.
"""

from collections.abc import Mapping, Sequence
from enum import IntEnum, StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantdesk.domain.market_data import FileReadOptions, check_counts


class TickKind(StrEnum):
    """The catalog's tick data types, for ingest and runs alike: the value is the catalog's
    folder and ``CatalogEntry.data_type`` (the engine's class name, snake case). What a
    strategy runs on is :class:`~quantdesk.domain.market_feeds.MarketData`, mapped to these
    by ``market_feeds.tick_kind``."""

    TRADE = "trade_tick"
    QUOTE = "quote_tick"
    DELTA = "order_book_delta"

    @property
    def noun(self) -> str:
        """Short, as the ingest commands name them: ``trades``, ``quotes``, ``deltas``."""
        return _NOUNS[self]

    @property
    def long_noun(self) -> str:
        """As a run's messages name them: ``trade ticks``, ``order-book deltas``."""
        return _LONG_NOUNS[self]


_NOUNS = {TickKind.TRADE: "trades", TickKind.QUOTE: "quotes", TickKind.DELTA: "deltas"}
_LONG_NOUNS = {
    TickKind.TRADE: "trade ticks",
    TickKind.QUOTE: "quote ticks",
    TickKind.DELTA: "order-book deltas",
}


class AggressorSide(IntEnum):
    NO_AGGRESSOR = 0
    BUYER = 1
    SELLER = 2


class BookSide(IntEnum):
    """The side of a book order; ``NO_SIDE`` only on a CLEAR."""

    NO_SIDE = 0
    BUY = 1
    SELL = 2


class BookAction(IntEnum):
    ADD = 1
    UPDATE = 2
    DELETE = 3
    CLEAR = 4


F_LAST = 128
"""The engine's end-of-event flag; its batching closes a batch only on ``flags == F_LAST``."""
FLAGS_MAX = 255
INVALID_CODE = -1
"""The code a reader gives a side or action cell it does not recognise."""
TRADE_ID_MAX_CHARS = 36
"""The engine's limit (``TradeId``); it must also be printable ASCII (others abort the engine)."""

AGGRESSOR_NAMES: Mapping[str, AggressorSide] = {
    "BUYER": AggressorSide.BUYER,
    "BUY": AggressorSide.BUYER,
    "B": AggressorSide.BUYER,
    "1": AggressorSide.BUYER,
    "SELLER": AggressorSide.SELLER,
    "SELL": AggressorSide.SELLER,
    "S": AggressorSide.SELLER,
    "2": AggressorSide.SELLER,
    "NO_AGGRESSOR": AggressorSide.NO_AGGRESSOR,
    "NONE": AggressorSide.NO_AGGRESSOR,
    "0": AggressorSide.NO_AGGRESSOR,
}
BOOK_SIDE_NAMES: Mapping[str, BookSide] = {
    "BUY": BookSide.BUY,
    "BID": BookSide.BUY,
    "B": BookSide.BUY,
    "1": BookSide.BUY,
    "SELL": BookSide.SELL,
    "ASK": BookSide.SELL,
    "A": BookSide.SELL,
    "S": BookSide.SELL,
    "2": BookSide.SELL,
    "NO_SIDE": BookSide.NO_SIDE,
    "NO_ORDER_SIDE": BookSide.NO_SIDE,
    "NONE": BookSide.NO_SIDE,
    "0": BookSide.NO_SIDE,
}
BOOK_ACTION_NAMES: Mapping[str, BookAction] = {
    **{action.name: action for action in BookAction},
    **{str(int(action)): action for action in BookAction},
}
"""Names a file may use (case-insensitive), engine names and codes first."""

TICK_FIELDS: Mapping[TickKind, tuple[str, ...]] = {
    TickKind.TRADE: ("timestamp", "price", "size", "aggressor_side", "trade_id"),
    TickKind.QUOTE: ("timestamp", "bid", "ask", "bid_size", "ask_size"),
    TickKind.DELTA: (
        "timestamp",
        "action",
        "side",
        "price",
        "size",
        "order_id",
        "sequence",
        "flags",
    ),
}
OPTIONAL_FIELDS: Mapping[TickKind, tuple[str, ...]] = {
    TickKind.TRADE: (),
    TickKind.QUOTE: ("bid_size", "ask_size"),  # given by default_size when absent
    TickKind.DELTA: ("order_id", "sequence", "flags"),  # 0 when absent
}


class TickIngestOptions(FileReadOptions):
    """How to read a tick file: column mapping, timestamps, defaults, chunk size."""

    default_size: float | None = Field(
        default=None, ge=0, description="quote bid/ask size when the file has no size columns"
    )
    chunk_rows: int = Field(
        default=100_000, ge=1, le=10_000_000, description="rows validated and staged at a time"
    )

    @classmethod
    def known_fields(cls) -> Sequence[str]:
        return sorted({f for fields in TICK_FIELDS.values() for f in fields})


class TickWarningKind(StrEnum):
    CROSSED_BOOK = "crossed_book"  # best bid >= best ask after an event's deltas
    CROSSED_QUOTE = "crossed_quote"  # bid > ask


class TickWarning(BaseModel):
    """A kept row that looks wrong: reported, never dropped (the venue may really do it)."""

    model_config = ConfigDict(frozen=True)

    row: int
    ts: int
    kind: TickWarningKind
    detail: str


class TickIngestSummary(BaseModel):
    """What one tick ingest did; read = written + already_present + rejected."""

    model_config = ConfigDict(frozen=True)

    ingest_id: str
    source: str
    instrument_id: str
    data_type: TickKind
    rows_read: int
    rows_written: int
    rows_already_present: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    warnings_by_kind: dict[str, int]
    first_warnings: list[TickWarning] = Field(description="the first few, in file order")
    chunks: int
    first_ts: int | None
    last_ts: int | None
    files_added: list[str]
    rejects_path: str | None
    warnings_path: str | None
    lineage_recorded: bool

    @model_validator(mode="after")
    def _counts_add_up(self) -> Self:
        check_counts(
            self.rows_read,
            (self.rows_written, self.rows_already_present, self.rows_rejected),
            self.rejected_by_reason,
        )
        return self
