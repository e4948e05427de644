"""Hypothesis strategies for hostile CLI inputs: numbers of every shape, documents, files.

Import paths in generated documents come only from ``SAFE_IMPORT_PATHS``: a fuzzer that
wrote ``os:system`` into a strategy path would be testing the plug-in guard by running it.
"""

import io
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from support.fuzz import DAY_START_NS, HOUR_NS, STRATEGY_EXAMPLES, SYN
from support.signals import raw_signal

NUMBER_SHAPES = (
    "-5", "0", "-0", "1", "0.5", "1e20", "1e30", "1e999999", "-1e999999", "1e-999999",
    "abc", "", " ", "nan", "NaN", "inf", "-inf", "Infinity", "0x10", "1_000", "1,5", "+1",
    " 1 ", "99999999999999999999999", str(2**63), str(-(2**63) - 1), "1" * 5000,
    "\u0661\u0662\u0663", "\uff11\uff12", "½", "Ⅻ", "1e", "e1", ".", "-", "true", "null",
    "0.0000000000000000000001", "[1]", "{}", "--", "-1", "2**63", "1.0.0", "\uff11e\uff15",
)  # fmt: skip
SAFE_IMPORT_PATHS = (
    "quantdesk.strategies.ema_cross:EmaCross",
    "quantdesk.strategies.ema_cross:EmaCrossConfig",
    "quantdesk.strategies.ema_cross:NoSuchClass",
    "no_such_package_fuzz.module:Thing",
    "not an import path",
    "",
    ":",
)

short_text = st.text(max_size=12)
numbers_as_text = st.one_of(
    st.sampled_from(NUMBER_SHAPES),
    st.integers().map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats().map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
flag_values = st.one_of(numbers_as_text, short_text)


class Raw(str):
    """Document text emitted verbatim (a number literal no Python value round-trips to)."""


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    short_text,
    st.sampled_from(NUMBER_SHAPES).map(Raw),
    st.sampled_from(NUMBER_SHAPES),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(short_text, inner, max_size=3)
    ),
    max_leaves=8,
)


def flow(value: Any) -> str:
    """JSON-flow text (YAML reads it too), with ``Raw`` values written as they are."""
    if isinstance(value, Raw):
        return str(value) or '""'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(str(k))}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return json.dumps(value)


def _plain(value: Any) -> Any:
    """``Raw`` values as the strings they are, for yaml.safe_dump."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, Raw) else value


@st.composite
def document_text(draw: st.DrawFn, data: Any) -> bytes:
    """A document as a user could write it: JSON flow, block YAML, or either cut short."""
    form = draw(st.sampled_from(["flow", "flow", "yaml", "cut"]))
    if form == "yaml":
        text = yaml.safe_dump(_plain(data), allow_unicode=True, sort_keys=False)
    else:
        text = flow(data)
    if form == "cut" and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    return text.encode("utf-8", "surrogatepass")


hostile_texts = st.sampled_from(
    [
        b"",
        b"\n",
        b"\xef\xbb\xbf",  # a BOM alone
        b"\xff\xfe\x00\x00",
        b"[" * 3000,
        b"{a: " * 500,
        b"a: &x [1]\nb: *x\nc: *y\n",  # an undefined alias
        b"a: 1\na: 2\n",  # a duplicate key
        b"!!python/object/apply:os.system ['true']\n",
        b"--- 1\n--- 2\n",
        b"\t- tab\n",
        b"key: \x00value\n",
        b"%YAML 9.9\n--- x\n",
        ("x: " + "9" * 5000 + "\n").encode(),
        "é: ü\n".encode("latin-1"),
    ]
)
random_bytes = st.binary(max_size=300)


plausible = st.sampled_from(  # values that often pass: the input goes on, deeper
    [1, 2, 10, 0.5, 100, "1", "0.01", True, False, "SIM", "USD", "HALTED", "NETTING", "CASH",
     "unlimited", "all", "none", "OFF", [], {}, "trend", "ema"]
)  # fmt: skip


def mutated(base: dict[str, Any], keys: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """``base`` with a few fields replaced by random values, dropped, or added."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        document = json.loads(json.dumps(base))
        for _ in range(draw(st.integers(1, 3))):
            node = document
            path = draw(st.lists(keys, min_size=1, max_size=3))
            for part in path[:-1]:
                child = node.get(part) if isinstance(node, dict) else None
                if isinstance(child, list) and child:
                    child = child[0]
                if not isinstance(child, dict):
                    break
                node = child
            if not isinstance(node, dict):
                continue
            key = path[-1]
            action = draw(st.sampled_from(["set", "set", "set", "drop"]))
            if action == "drop":
                node.pop(key, None)
            elif key in ("strategy_path", "config_path"):
                node[key] = draw(st.sampled_from(SAFE_IMPORT_PATHS))
            else:
                node[key] = draw(st.one_of(json_values, plausible))
        return document

    return build()


# backtest requests -----------------------------------------------------------------------------

BASE_REQUEST: dict[str, Any] = {
    "instruments": [SYN],
    "bar_spec": "1-MINUTE-LAST",
    "start_ns": DAY_START_NS,
    "end_ns": DAY_START_NS + 3 * HOUR_NS,
    "seed": 1,
    "venues": [{"name": "SIM", "starting_balance": 1000000, "taker_fee": 0.0005}],
    "strategies": [
        {
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
    ],
}
REQUEST_KEYS = (
    *BASE_REQUEST, "risk", "engine", "label", "signals", "limits", "constraints", "on_breach",
    "flatten_on_breach", "max_order_submit_rate", "schedule", "gate", "chunk_size",
    "purge_interval_minutes", "log_level", "purge", "name", "oms_type", "account_type",
    "base_currency", "starting_balance", "default_leverage", "maker_fee", "taker_fee",
    "fill_model", "liquidity", "bar_spread", "strategy_path", "config_path", "config",
    "instrument_id", "bar_type", "order_id_tag", "fast", "slow", "trade_size", "long_only",
    "max_position", "max_order_quantity", "max_drawdown_pct", "unknown_field",
)  # fmt: skip
request_keys = st.sampled_from(REQUEST_KEYS)


def _with_random_keys(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(keys, json_values, max_size=6)


def request_files() -> st.SearchStrategy[bytes]:
    """Mostly the valid request mutated; also random mappings, hostile texts, random bytes."""
    mutants = mutated(BASE_REQUEST, request_keys)
    return st.one_of(
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        _with_random_keys(request_keys).flatmap(document_text),
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


@st.composite
def csv_bars(draw: st.DrawFn) -> bytes:
    """CSV with a header that may repeat, drop, rename or invent columns, and odd cells."""
    header = list(BAR_COLUMNS)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["duplicate", "drop", "rename", "upper", "shuffle"]))
        if action == "duplicate":
            header.append(draw(st.sampled_from(header or ["open"])))
        elif action == "drop" and header:
            header.pop(draw(st.integers(0, len(header) - 1)))
        elif action == "rename" and header:
            header[draw(st.integers(0, len(header) - 1))] = draw(short_text)
        elif action == "upper":
            header = [h.upper() for h in header]
        else:
            header = draw(st.permutations(header))
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 6))):
        cells = [
            draw(timestamps_text if name.lower() == "timestamp" else price_text) for name in header
        ]
        if draw(st.integers(0, 9)) == 0:
            cells = cells[: draw(st.integers(0, len(cells)))]
        lines.append(",".join(cells))
    separator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = separator.join(lines) + draw(st.sampled_from(["", separator]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, "surrogatepass")


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
    import pyarrow as pa
    import pyarrow.parquet as pq

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


@st.composite
def signal_lines(draw: st.DrawFn) -> bytes:
    """JSON lines: valid signals with fields mutated, random values, and broken lines."""
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["mutant", "mutant", "value", "bytes", "cut"]))
        if kind == "value":
            lines.append(flow(draw(json_values)).encode("utf-8", "surrogatepass"))
        elif kind == "bytes":
            lines.append(draw(st.binary(max_size=40)).replace(b"\n", b""))
        else:
            base = raw_signal(
                signal_type=draw(
                    st.sampled_from(
                        [
                            "SENTIMENT",
                            "REGIME_PREDICTION",
                            "VOLATILITY_FORECAST",
                            "CORRELATION_SHIFT",
                        ]
                    )
                ),
                instrument_id=SYN,
                ts_event=DAY_START_NS + draw(st.integers(0, 20)) * HOUR_NS,
            )
            text = flow(draw(mutated(base, st.sampled_from(SIGNAL_KEYS))))
            if kind == "cut":
                text = text[: draw(st.integers(0, len(text)))]
            lines.append(text.encode("utf-8", "surrogatepass"))
    return b"\n".join(lines) + draw(st.sampled_from([b"", b"\n"]))


def signal_files() -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        st.tuples(st.just(".jsonl"), signal_lines()),
        st.tuples(st.just(".jsonl"), signal_lines()),
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
        _with_random_keys(st.sampled_from(INSTRUMENT_KEYS)).flatmap(document_text),
        hostile_texts,
        random_bytes,
    )


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


STRATEGY_BASES = [_load(p) for p in STRATEGY_EXAMPLES]
STRATEGY_KEYS = sorted(
    {k for base in STRATEGY_BASES for k in base}
    | {k for base in STRATEGY_BASES for k in base.get("parameters", {})}
    | {"version", "author", "created_at", "reason", "signal_subscriptions", "strategy_path",
       "config_path", "config", "config_schema", "other"}
)  # fmt: skip


def strategy_files() -> st.SearchStrategy[bytes]:
    keys = st.sampled_from(STRATEGY_KEYS)
    mutants = st.sampled_from(STRATEGY_BASES).flatmap(lambda base: mutated(base, keys))
    return st.one_of(
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        mutants.flatmap(document_text),
        _with_random_keys(keys).flatmap(document_text),
        hostile_texts,
        random_bytes,
    )


refs = st.one_of(
    short_text,
    st.sampled_from(
        [
            "id@99999999999999999999999", "trend-btc@99999999999999999999999", "trend-btc@0",
            "trend-btc@-1", "trend-btc@", "@1", "@", "trend-btc\n", "trend-btc@1\n", "a" * 5000,
            "trend-btc@latest", "TREND-BTC", "trend-btc@1@2", "../../etc/passwd", "x" * 64,
            "SYN01.SIM", "SYN01.SIM\n", "syn01.sim", ".SIM", "SYN01.", "A.B.C", "*", "%", "_",
            "1e999999", "trend-btc@1e3", "trend-btc@\u0661", "20240101T000000Z", "-", "--",
            "A" * 300 + ".SIM", "SYN01." + "S" * 300, "/" * 300 + ".SIM",
        ]
    ),
    numbers_as_text,
)  # fmt: skip
