"""Market-data vocabulary: bar specifications, ingest options, rejections, lineage."""

import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from quantdesk.domain.instruments import validate_instrument_id
from quantdesk.domain.text import shown

_NANOS = {
    "MILLISECOND": 1_000_000,
    "SECOND": 1_000_000_000,
    "MINUTE": 60_000_000_000,
    "HOUR": 3_600_000_000_000,
    "DAY": 86_400_000_000_000,
    "WEEK": 604_800_000_000_000,
}
_AGGREGATIONS = (*_NANOS, "TICK", "VOLUME", "VALUE")
_PRICE_TYPES = ("LAST", "BID", "ASK", "MID")
BAR_INTERVAL_MAX_NS = 3653 * _NANOS["DAY"]
"""Ten years: the longest time bar (shifting a timestamp by it stays far inside int64)."""
_BAR_SPEC = re.compile(r"([0-9]{1,9})-([A-Z]{1,20})-([A-Z]{1,10})")


class BarSpec(BaseModel):
    """``STEP-AGGREGATION-PRICE_TYPE``, e.g. ``1-MINUTE-LAST``: the engine's own notation."""

    model_config = ConfigDict(frozen=True)

    step: int = Field(gt=0)
    aggregation: str
    price_type: str

    @classmethod
    def parse(cls, text: str) -> Self:
        match = _BAR_SPEC.fullmatch(text.strip().upper())
        if match is None:
            raise ValueError(
                f"bar spec {shown(text)} is not STEP-AGGREGATION-PRICE_TYPE, e.g. 1-MINUTE-LAST"
            )
        try:
            return cls(step=int(match[1]), aggregation=match[2], price_type=match[3])
        except ValidationError as error:  # one line, as for a malformed spec
            reason = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
            raise ValueError(f"bar spec {shown(text)}: {reason}") from None

    @field_validator("aggregation")
    @classmethod
    def _check_aggregation(cls, value: str) -> str:
        if value not in _AGGREGATIONS:
            raise ValueError(f"aggregation {value!r} is not one of {', '.join(_AGGREGATIONS)}")
        return value

    @field_validator("price_type")
    @classmethod
    def _check_price_type(cls, value: str) -> str:
        if value not in _PRICE_TYPES:
            raise ValueError(f"price type {value!r} is not one of {', '.join(_PRICE_TYPES)}")
        return value

    @model_validator(mode="after")
    def _bounded_interval(self) -> Self:
        """A time bar fits many times in the valid time range (int64 ns): ten years at most."""
        interval = self.interval_ns
        if interval is not None and interval > BAR_INTERVAL_MAX_NS:
            raise ValueError(
                f"a bar of {self.step} {self.aggregation.lower()}s is longer than ten years"
            )
        return self

    @property
    def interval_ns(self) -> int | None:
        """Length of a time bar in ns; ``None`` for tick, volume and value bars."""
        unit = _NANOS.get(self.aggregation)
        return None if unit is None else self.step * unit

    def __str__(self) -> str:
        return f"{self.step}-{self.aggregation}-{self.price_type}"


def bar_type_id(instrument_id: str, spec: BarSpec) -> str:
    """Bars ingested from outside are EXTERNAL in the engine's terms."""
    return f"{validate_instrument_id(instrument_id)}-{spec}-EXTERNAL"


class TimestampFormat(StrEnum):
    AUTO = "auto"
    ISO = "iso"
    SECONDS = "s"
    MILLISECONDS = "ms"
    MICROSECONDS = "us"
    NANOSECONDS = "ns"


class TimestampAt(StrEnum):
    """Which end of the bar the source stamps; the engine wants the close."""

    OPEN = "open"
    CLOSE = "close"


BAR_FIELDS = ("timestamp", "open", "high", "low", "close", "volume")


class FileReadOptions(BaseModel):
    """What reading any market-data file needs: its column names and timestamp convention.

    Bars and ticks extend it with their own options; a subclass names its fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: Mapping[str, str] = Field(
        default_factory=dict,
        description="our field -> the file's column name, where they differ",
    )
    timestamp_format: TimestampFormat = TimestampFormat.AUTO
    assume_utc: bool = Field(
        default=False, description="treat timestamps without a zone as UTC instead of rejecting"
    )

    @classmethod
    def known_fields(cls) -> Sequence[str]:
        """The fields a column mapping may name (a subclass's; none here)."""
        return ()

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        known = cls.known_fields()
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} in column mapping; known: {known}")
        return dict(value)

    def column_for(self, field: str) -> str:
        return self.columns.get(field, field)


class BarIngestOptions(FileReadOptions):
    """How to read a bar file: column mapping, timestamp convention, rounding."""

    timestamp_at: TimestampAt = TimestampAt.CLOSE
    round_to_instrument: bool = Field(
        default=False, description="round prices/volume to the instrument's increments (reported)"
    )
    default_volume: float | None = Field(
        default=None, ge=0, description="volume to use when the file has no volume column"
    )

    @classmethod
    def known_fields(cls) -> Sequence[str]:
        return BAR_FIELDS


class RejectReason(StrEnum):
    """Why a row was refused; the order is the order in which rules are checked."""

    MALFORMED_ROW = "malformed_row"
    INSTRUMENT_UNMAPPED = "instrument_unmapped"  # a table row about no mapped instrument
    TIMESTAMP_UNPARSEABLE = "timestamp_unparseable"
    TIMESTAMP_NO_TIMEZONE = "timestamp_no_timezone"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    VALUE_NOT_A_NUMBER = "value_not_a_number"
    PRICE_NOT_POSITIVE = "price_not_positive"
    VALUE_TOO_LARGE = "value_too_large"
    OHLC_INCONSISTENT = "ohlc_inconsistent"
    VOLUME_NEGATIVE = "volume_negative"
    PRICE_PRECISION = "price_precision"
    VOLUME_PRECISION = "volume_precision"
    DUPLICATE_TIMESTAMP = "duplicate_timestamp"
    OUT_OF_ORDER = "out_of_order"
    CONFLICTS_WITH_CATALOG = "conflicts_with_catalog"
    # ticks and order books (``services.tick_validation``)
    SIZE_NOT_POSITIVE = "size_not_positive"
    SIZE_NEGATIVE = "size_negative"
    SIZE_PRECISION = "size_precision"
    SIDE_INVALID = "side_invalid"
    ACTION_INVALID = "action_invalid"
    TRADE_ID_INVALID = "trade_id_invalid"
    DUPLICATE_TRADE = "duplicate_trade"
    SEQUENCE_DECREASING = "sequence_decreasing"


class ValueBounds(BaseModel):
    """The largest price and quantity the engine can store (its own limits, not ours)."""

    model_config = ConfigDict(frozen=True)

    price_max: float = Field(gt=0)
    quantity_max: float = Field(gt=0)


class Rejection(BaseModel):
    """One refused row: where it was, which field, what it held and why."""

    model_config = ConfigDict(frozen=True)

    row: int = Field(
        description="the 1-based line of a CSV file where the record starts (the header is "
        "line 1; blank lines and line breaks inside quotes count), the 1-based row in Parquet"
    )
    field: str
    value: str
    reason: RejectReason
    detail: str


def check_counts(read: int, outcomes: tuple[int, int, int], by_reason: Mapping[str, int]) -> None:
    """An ingest summary's counts add up: read = written + already present + rejected, and
    the rejections by reason to the rows rejected (``ValueError`` otherwise)."""
    if read != sum(outcomes):
        raise ValueError("ingest counts do not add up")
    if sum(by_reason.values()) != outcomes[2]:
        raise ValueError("rejections by reason do not add up")


class IngestSummary(BaseModel):
    """What one ingest did; the counts add up: read = written + already_present + rejected."""

    model_config = ConfigDict(frozen=True)

    ingest_id: str
    source: str
    instrument_id: str
    bar_type: str
    rows_read: int
    rows_written: int
    rows_already_present: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    rows_rounded: int
    first_ts: int | None
    last_ts: int | None
    files_added: list[str]
    files_replaced: list[str]
    rejects_path: str | None
    lineage_recorded: bool

    @model_validator(mode="after")
    def _counts_add_up(self) -> Self:
        check_counts(
            self.rows_read,
            (self.rows_written, self.rows_already_present, self.rows_rejected),
            self.rejected_by_reason,
        )
        return self


class CatalogFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str = Field(description="relative to the catalog root")
    sha256: str
    rows: int
    first_ts: int
    last_ts: int


class MigrationLineage(BaseModel):
    """What a migrated commit came from: which table, which read, how far it went."""

    model_config = ConfigDict(frozen=True)

    migration_id: str
    mapping: str
    mapping_sha256: str
    table: str
    query: str
    chunk: int
    watermark: str | None  # the source's last timestamp after this chunk, as text


class LineageRecord(BaseModel):
    """Where a piece of the catalog came from, precise enough to fingerprint a backtest's data."""

    model_config = ConfigDict(frozen=True)

    ingest_id: str
    source: str
    source_sha256: str
    instrument_id: str
    bar_type: str
    data_type: str = "bar"
    rows_read: int
    rows_written: int
    rows_already_present: int
    rows_rejected: int
    first_ts: int | None
    last_ts: int | None
    files_added: list[CatalogFile]
    files_replaced: list[str]
    quantdesk_version: str
    nautilus_trader_version: str
    started_at_ns: int
    finished_at_ns: int
    migration: MigrationLineage | None = None  # set when the rows came from a table


class CatalogEntry(BaseModel):
    """One series the catalog holds."""

    model_config = ConfigDict(frozen=True)

    data_type: str
    identifier: str
    instrument_id: str
    first_ts: int
    last_ts: int
    count: int
    files: int
