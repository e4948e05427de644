"""Mapping files of PostgreSQL market data: what they may name (identifiers only: every name
ends up in SQL), and the refusals of everything else by field."""

from typing import Any

import pytest
from pydantic import ValidationError

from quantdesk.domain.source_mapping import SourceKind, SourceMapping
from quantdesk.domain.ticks import TickKind

BARS: dict[str, Any] = {
    "name": "btc-1m",
    "kind": "bars",
    "table": "market.bars_1m",
    "bar_spec": "1-MINUTE-LAST",
    "columns": {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"},
    "timestamp": {"column": "ts", "unit": "timestamp"},
    "instrument": {"column": "symbol", "ids": {"BTCUSDT": "BTCUSDT.BINANCE"}},
    "key": "id",
    "filters": [{"column": "symbol", "op": "in", "value": ["BTCUSDT"]}],
}


def test_a_mapping_reads_the_fields_then_the_instrument_and_the_key() -> None:
    mapping = SourceMapping.model_validate(BARS)
    assert mapping.kind is SourceKind.BARS and mapping.chunk_rows == 50_000
    assert mapping.selected() == ["ts", "o", "h", "l", "c", "v", "symbol", "id"]
    assert mapping.column_of("timestamp") == "ts" and mapping.column_of("close") == "c"
    fixed = SourceMapping.model_validate(
        {**BARS, "instrument": {"instrument_id": "BTCUSDT.BINANCE"}, "key": None, "columns": {}}
    )
    assert fixed.selected() == ["ts", "open", "high", "low", "close", "volume"]


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"table": "bars; DROP TABLE x"}, "table", "is not a table name"),
        ({"table": 'public."bars"'}, "table", "is not a table name"),
        ({"table": "a.b.c"}, "table", "is not a table name"),
        ({"key": "id desc"}, "key", "is not a column name"),
        ({"columns": {"close": "c)--"}}, "", "is not a column name"),
        ({"columns": {"price": "p"}}, "", "unknown field(s) price for bars"),
        ({"columns": {"timestamp": "t"}}, "", "under timestamp: column"),
        ({"bar_spec": None}, "", "bar_spec is given for bars"),
        ({"bar_spec": "1-FORTNIGHT-LAST"}, "bar_spec", "aggregation"),
        ({"bar_spec": "minutely"}, "bar_spec", "is not STEP-AGGREGATION-PRICE_TYPE"),
        ({"timestamp": {"column": "ts", "zone": "Mars/Olympus"}}, "timestamp.zone", "time zone"),
        ({"timestamp": {"column": "1ts"}}, "timestamp.column", "is not a column name"),
        ({"instrument": {}}, "instrument", "either instrument_id"),
        ({"instrument": {"instrument_id": "A.B", "column": "s"}}, "instrument", "either"),
        ({"instrument": {"instrument_id": "A.B", "ids": {"a": "b"}}}, "instrument", "need column"),
        ({"filters": [{"column": "s", "op": "in", "value": "x"}]}, "filters.0", "a list"),
        ({"filters": [{"column": "s", "op": "=", "value": [1]}]}, "filters.0", "one value"),
        ({"filters": [{"column": "s", "op": "like", "value": "x"}]}, "filters.0.op", ""),
        ({"chunk_rows": 0}, "chunk_rows", ""),
        ({"name": "../up"}, "name", ""),
        ({"unknown": 1}, "unknown", ""),
    ],
)
def test_what_a_mapping_may_not_name_is_refused_by_field(
    change: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        SourceMapping.model_validate({**BARS, **change})
    error = refused.value.errors()[0]
    assert ".".join(str(p) for p in error["loc"]).startswith(field)
    assert says in error["msg"]


def test_ticks_and_books_have_their_own_fields_and_no_bar_spec() -> None:
    ticks = SourceMapping.model_validate(
        {
            "name": "trades",
            "kind": "trade_ticks",
            "table": "trades",
            "columns": {"size": "qty"},
            "timestamp": {"column": "ts", "unit": "ns"},
            "instrument": {"instrument_id": "BTCUSDT.BINANCE"},
            "key": "id",
        }
    )
    assert ticks.selected() == ["ts", "price", "qty", "aggressor_side", "trade_id", "id"]
    assert ticks.kind.tick_kind is TickKind.TRADE
    with pytest.raises(ValidationError):
        SourceMapping.model_validate({**ticks.model_dump(), "bar_spec": "1-MINUTE-LAST"})
    with pytest.raises(ValidationError, match="need a key column"):
        SourceMapping.model_validate({**ticks.model_dump(), "key": None})


def test_quotes_take_the_tick_files_field_names() -> None:
    quotes = SourceMapping.model_validate(
        {
            "name": "quotes",
            "kind": "quote_ticks",
            "table": "quotes",
            "columns": {"bid": "bid_px", "ask": "ask_px"},
            "instrument": {"instrument_id": "USD/JPY.SIM"},
            "key": "id",
        }
    )
    assert quotes.fields() == {
        "timestamp": "timestamp",
        "bid": "bid_px",
        "ask": "ask_px",
        "bid_size": "bid_size",
        "ask_size": "ask_size",
    }
    with pytest.raises(ValidationError, match="unknown field"):
        SourceMapping.model_validate({**quotes.model_dump(), "columns": {"bid_price": "b"}})


def test_only_a_deltas_order_id_and_sequence_may_be_absent() -> None:
    document = {
        "name": "book",
        "kind": "order_book_deltas",
        "table": "book",
        "columns": {"order_id": None, "sequence": None},
        "instrument": {"instrument_id": "BTCUSDT.BINANCE"},
        "key": "id",
    }
    deltas = SourceMapping.model_validate(document)
    assert deltas.selected() == ["timestamp", "action", "side", "price", "size", "id"]
    assert "flags" not in deltas.fields()  # the migration sets them
    with pytest.raises(ValidationError, match="price needs a column"):
        SourceMapping.model_validate({**document, "columns": {"price": None}})
