"""Hypothesis strategies for hostile CLI input files: requests, bars, signals, instruments,
strategy definitions. Most start from a valid document and break a few fields of it, so that
inputs get past the first check; the rest are random mappings, hostile texts and bytes.
"""

import csv
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import strategies as st

from support.fuzz import DAY_START_NS, HOUR_NS, STRATEGY_EXAMPLES, SYN
from support.fuzz_inputs import (
    SAFE_IMPORT_PATHS,
    csv_text,
    document_text,
    flow,
    hostile_texts,
    json_values,
    mutated,
    numbers_as_text,
    random_bytes,
    short_text,
    with_random_keys,
)
from support.signals import raw_signal

# backtest requests -----------------------------------------------------------------------------

SHORTHAND_REF = "ema_cross-syn01"
"""What the desk's shorthand backtest (``BASE_BACKTEST``) registers, so requests can name it."""
BASE_REQUEST: dict[str, Any] = {
    "start_ns": DAY_START_NS,
    "end_ns": DAY_START_NS + 3 * HOUR_NS,
    "seed": 1,
    "venues": [{"name": "SIM", "starting_balance": 1000000, "taker_fee": 0.0005}],
    "strategies": [SHORTHAND_REF],
}
OLD_STRATEGY: dict[str, Any] = {
    "strategy_path": "quantdesk.strategies.ema_cross:EmaCross",
    "config_path": "quantdesk.strategies.ema_cross:EmaCrossConfig",
    "config": {
        "instrument_id": SYN,
        "bar_type": f"{SYN}-1-MINUTE-LAST-EXTERNAL",
        "order_id_tag": "A",
        "fast": 5,
        "slow": 20,
        "trade_size": 100,
    },
}
"""An old-style strategy entry (import paths): refused by every request now, clearly."""
REQUEST_KEYS = (
    *BASE_REQUEST, "risk", "engine", "label", "signals", "limits", "constraints", "on_breach",
    "instruments", "bar_spec", "flat_at_end", "trade_until_ns", "pinned", SHORTHAND_REF,
    f"{SHORTHAND_REF}@1", f"{SHORTHAND_REF}@live",
    "flatten_on_breach", "max_order_submit_rate", "schedule", "gate", "chunk_size",
    "purge_interval_minutes", "log_level", "purge", "name", "oms_type", "account_type",
    "base_currency", "starting_balance", "default_leverage", "maker_fee", "taker_fee",
    "fill_model", "liquidity", "bar_spread", "strategy_path", "config_path", "config",
    "instrument_id", "bar_type", "order_id_tag", "fast", "slow", "trade_size", "long_only",
    "max_position", "max_order_quantity", "max_drawdown_pct", "unknown_field",
)  # fmt: skip
request_keys = st.sampled_from(REQUEST_KEYS)


def request_files() -> st.SearchStrategy[bytes]:
    """Mostly the valid request mutated; also random mappings, hostile texts, random bytes."""
    mutants = mutated(BASE_REQUEST, request_keys)
    return st.one_of(
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        with_random_keys(request_keys).flatmap(document_text),
        hostile_texts,
        random_bytes,
    )


# bar files -------------------------------------------------------------------------------------

BAR_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
timestamps_text = st.one_of(
    st.sampled_from(
        [
            "2024-01-03T00:01:00Z", "2024-01-03 00:02:00", "2024-01-03T00:03:00+05:00",
            "1704240000", "1704240060000", "1704240120000000000", "0", "-1", str(2**63),
            "2262-04-12T00:00:00Z", "1969-12-31T23:59:59Z", "9999-99-99", "2024-02-30T00:00Z",
            "", "NaT", "now", "1e999999", "2024-01-03T00:01:00.1234567891Z",
        ]
    ),
    st.integers(-(2**64), 2**64).map(str),
    short_text,
)  # fmt: skip
price_text = st.one_of(
    st.sampled_from(["100.00", "100.01", "99.5", "100.005", "-1", "0"]), numbers_as_text
)


def csv_bars() -> st.SearchStrategy[bytes]:
    return csv_text(
        BAR_COLUMNS, {"timestamp": timestamps_text, **dict.fromkeys(BAR_COLUMNS[1:], price_text)}
    )


parquet_columns = st.sampled_from(
    [
        ("timestamp", st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=3)),
        ("timestamp", st.just(["2024-01-03T00:01:00Z"])),
        ("open", st.floats()),
        ("high", st.text(max_size=5)),
        ("low", st.integers(-(2**63), 2**63 - 1)),
        ("close", st.booleans()),
        ("volume", st.none()),
        ("timestamp", st.integers(-(2**63), 2**63 - 1)),
        ("extra", st.binary(max_size=5)),
    ]
)


@st.composite
def parquet_bars(draw: st.DrawFn) -> bytes:
    """A small real Parquet file whose columns have random names, types and values."""
    chosen = draw(st.lists(parquet_columns, min_size=1, max_size=6))
    length = draw(st.integers(0, 4))
    table = {}
    for name, values in chosen:
        table[name] = [draw(values) for _ in range(length)]
    try:
        built = pa.table(table)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        built = pa.table({"timestamp": [[1, 2]] * length})  # a list-typed timestamp
    buffer = io.BytesIO()
    pq.write_table(built, buffer)
    return buffer.getvalue()


def bar_files() -> st.SearchStrategy[tuple[str, bytes]]:
    """(suffix, content): CSV-ish text, real Parquet, random bytes under either name."""
    return st.one_of(
        st.tuples(st.just(".csv"), csv_bars()),
        st.tuples(st.just(".csv"), csv_bars()),
        st.tuples(st.just(".parquet"), parquet_bars()),
        st.tuples(st.sampled_from([".csv", ".parquet", ".txt", ""]), random_bytes),
        st.tuples(st.just(".csv"), hostile_texts),
    )


# signal files ----------------------------------------------------------------------------------

SIGNAL_KEYS = (*raw_signal(), "score", "label", "probabilities", "annualized_volatility",
               "horizon_ns", "other_instrument_id", "change", "extra")  # fmt: skip


SIGNAL_TYPES = ("SENTIMENT", "REGIME_PREDICTION", "VOLATILITY_FORECAST", "CORRELATION_SHIFT")
JSON_COLUMNS = ("value", "provenance", "metadata")


@st.composite
def signal_records(draw: st.DrawFn) -> Any:
    """A valid signal on the desk's instrument with a few fields broken."""
    base = raw_signal(
        signal_type=draw(st.sampled_from(SIGNAL_TYPES)),
        instrument_id=SYN,
        ts_event=DAY_START_NS + draw(st.integers(0, 20)) * HOUR_NS,
    )
    return draw(mutated(base, st.sampled_from(SIGNAL_KEYS)))


@st.composite
def signal_lines(draw: st.DrawFn) -> bytes:
    """JSON lines: broken signals, random values, random bytes and lines cut short."""
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["mutant", "mutant", "value", "bytes", "cut"]))
        if kind == "value":
            lines.append(flow(draw(json_values)).encode("utf-8", "surrogatepass"))
        elif kind == "bytes":
            lines.append(draw(st.binary(max_size=40)).replace(b"\n", b""))
        else:
            text = flow(draw(signal_records()))
            if kind == "cut":
                text = text[: draw(st.integers(0, len(text)))]
            lines.append(text.encode("utf-8", "surrogatepass"))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n"]))


def _cell(value: Any) -> Any:
    """A record's value as a column holds it: JSON text for the nested ones."""
    return flow(value) if isinstance(value, dict | list) else value


@st.composite
def signal_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = draw(st.lists(signal_records(), max_size=4))
    return [
        {str(k): _cell(v) for k, v in record.items()}
        for record in records
        if isinstance(record, dict)
    ]


@st.composite
def signal_csv(draw: st.DrawFn) -> bytes:
    """The CSV layout: broken signals as rows, or a header with random cells under it."""
    if draw(st.booleans()):
        columns = [str(k) for k in raw_signal()]
        cells = {
            "signal_type": st.sampled_from(SIGNAL_TYPES),
            "instrument_id": st.sampled_from([SYN, "", "X.SIM", "syn01.sim"]),
            **dict.fromkeys(JSON_COLUMNS, json_values.map(flow)),
        }
        return draw(csv_text(columns, cells))
    rows = draw(signal_rows())
    header = sorted({k for row in rows for k in row}) or ["signal_id"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogatepass")


@st.composite
def signal_parquet(draw: st.DrawFn) -> bytes:
    """The Parquet layout: broken signals as rows (as text when the types do not agree)."""
    rows = draw(signal_rows())
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        table = pa.Table.from_pylist([{k: str(v) for k, v in row.items()} for row in rows])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def signal_files() -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        st.tuples(st.sampled_from([".jsonl", ".ndjson", ".json"]), signal_lines()),
        st.tuples(st.just(".jsonl"), signal_lines()),
        st.tuples(st.just(".csv"), signal_csv()),
        st.tuples(st.just(".parquet"), signal_parquet()),
        st.tuples(st.sampled_from([".jsonl", ".csv", ".parquet", ".json", ""]), random_bytes),
        st.tuples(st.just(".csv"), csv_bars()),
        st.tuples(st.just(".parquet"), parquet_bars()),
        st.tuples(st.just(".jsonl"), hostile_texts),
    )


# instrument and strategy files -----------------------------------------------------------------

BASE_INSTRUMENT = {
    "instrument_id": "FZ1.SIM",
    "asset_class": "equity",
    "currency": "USD",
    "tick_size": "0.01",
}
INSTRUMENT_KEYS = (*BASE_INSTRUMENT, "base_currency", "settlement_currency", "size_increment",
                   "lot_size", "multiplier", "is_inverse", "margin_init", "margin_maint",
                   "maker_fee", "taker_fee", "instruments", "other")  # fmt: skip


def instrument_files() -> st.SearchStrategy[bytes]:
    mutants = mutated(BASE_INSTRUMENT, st.sampled_from(INSTRUMENT_KEYS))
    return st.one_of(
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        st.lists(mutants, max_size=3).flatmap(document_text),
        mutants.map(lambda m: {"instruments": [m]}).flatmap(document_text),
        with_random_keys(st.sampled_from(INSTRUMENT_KEYS)).flatmap(document_text),
        hostile_texts,
        random_bytes,
    )


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


CUSTOM_DEFINITION: dict[str, Any] = {
    "strategy_id": "custom-fuzz",
    "family": "custom",
    "name": "a built-in class as a custom definition",
    "instruments": [SYN],
    "parameters": {
        "strategy_path": SAFE_IMPORT_PATHS[0],
        "config_path": SAFE_IMPORT_PATHS[1],
        "config": {"fast": 5, "slow": 20, "trade_size": 1},
        "config_schema": {
            "type": "object",
            "properties": {"fast": {"type": "integer", "minimum": 1}, "name": {"pattern": "^a+$"}},
        },
    },
}
STRATEGY_BASES = [_load(p) for p in STRATEGY_EXAMPLES] + [CUSTOM_DEFINITION]
STRATEGY_KEYS = sorted(
    {k for base in STRATEGY_BASES for k in base}
    | {k for base in STRATEGY_BASES for k in base.get("parameters", {})}
    | {k for k in CUSTOM_DEFINITION["parameters"]}
    | {"version", "author", "created_at", "reason", "signal_subscriptions", "type",
       "properties", "pattern", "$ref", "$id", "minimum", "other"}
)  # fmt: skip


def strategy_files() -> st.SearchStrategy[bytes]:
    keys = st.sampled_from(STRATEGY_KEYS)
    mutants = st.sampled_from(STRATEGY_BASES).flatmap(lambda base: mutated(base, keys))
    return st.one_of(
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        with_random_keys(keys).flatmap(document_text),
        hostile_texts,
        random_bytes,
    )
