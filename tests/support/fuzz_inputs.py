"""Hypothesis strategies for hostile CLI input: numbers of every shape, values, documents.

Import paths in generated documents come only from ``SAFE_IMPORT_PATHS``: a fuzzer that
wrote ``os:system`` into a strategy path would be testing the plug-in guard by running it.
"""

import copy
import json
from collections.abc import Sequence
from typing import Any

import yaml
from hypothesis import strategies as st

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
argv_text = st.text(st.characters(exclude_characters="\x00"), max_size=12)
"""Text a command line or an environment can hold: no NUL (the OS cannot pass one)."""
numbers_as_text = st.one_of(
    st.sampled_from(NUMBER_SHAPES),
    st.integers().map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats().map(repr),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
flag_values = st.one_of(numbers_as_text, argv_text)


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


PLAUSIBLE_VALUES: tuple[Any, ...] = (
    1, 2, 10, 0.5, 100, "1", "0.01", True, False, "SIM", "USD", "HALTED", "NETTING", "CASH",
    "unlimited", "all", "none", "OFF", [], {}, "trend", "ema",
)  # fmt: skip
plausible = st.sampled_from(PLAUSIBLE_VALUES).map(copy.deepcopy)
"""Values that often pass, so the input goes on, deeper. Copied: a shared [] or {} that a
later mutation writes into could come to hold itself."""


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


def with_random_keys(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping of known field names to random values."""
    return st.dictionaries(keys, json_values, max_size=6)


@st.composite
def csv_text(
    draw: st.DrawFn, columns: Sequence[str], cells: dict[str, st.SearchStrategy[str]]
) -> bytes:
    """CSV whose header may repeat, drop, rename or invent columns, with odd cells, line
    ends and encodings (``cells``: per column; others get numbers of every shape)."""
    header = list(columns)
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["duplicate", "drop", "rename", "upper", "shuffle"]))
        if action == "duplicate":
            header.append(draw(st.sampled_from(header or list(columns))))
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
        row = [draw(cells.get(name.lower(), numbers_as_text)) for name in header]
        if draw(st.integers(0, 9)) == 0:
            row = row[: draw(st.integers(0, len(row)))]
        lines.append(",".join(row))
    separator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = separator.join(lines) + draw(st.sampled_from(["", separator]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, "surrogatepass")


refs = st.one_of(
    argv_text,
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
