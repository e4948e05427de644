"""The bounded document reader: every limit refuses with its reason and line, and within the
limits it reads exactly what ``json.loads`` / ``yaml.safe_load`` would."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from quantdesk.adapters.sources.documents import BoundedDocumentReader
from quantdesk.domain.documents import DocumentLimitError, DocumentLimits
from quantdesk.domain.errors import InvalidInputError, SourceReadError

READER = BoundedDocumentReader()


def refused(text: str | bytes, reason: str, reader: BoundedDocumentReader = READER) -> str:
    with pytest.raises(DocumentLimitError) as caught:
        reader.read_text(text, "doc.yaml")
    assert caught.value.reason == reason, caught.value.message
    assert caught.value.message.startswith("doc.yaml")
    return caught.value.message


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic bomb: each level lists the previous one ``width`` times (9**9 strings)."""
    lines = ['a0: &a0 "lol"']
    for level in range(1, levels + 1):
        items = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{items}]")
    return "\n".join(lines) + "\n"


# Alias expansion -------------------------------------------------------------------------------


def test_billion_laughs_is_refused_before_anything_is_expanded() -> None:
    message = refused(billion_laughs(), "too_many_nodes")
    assert "more than 100,000 values" in message
    assert message.startswith("doc.yaml line ")


def test_billion_laughs_inside_a_definition_config_names_its_line() -> None:
    text = "strategy_id: mine\nfamily: custom\nparameters:\n  config:\n" + "".join(
        f"    {line}\n" for line in billion_laughs().splitlines()
    )
    message = refused(text, "too_many_nodes")
    assert re.match(r"doc\.yaml line \d+: more than 100,000 values", message)


def test_merge_keys_cannot_multiply_either() -> None:
    lines = ["m0: &m0 {k: v}"]
    for level in range(1, 8):
        merged = ", ".join([f"*m{level - 1}"] * 10)
        lines.append(f"m{level}: &m{level} {{<<: [{merged}], k{level}: v}}")
    refused("\n".join(lines), "too_many_nodes")


def test_alias_uses_are_counted() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    assert "more than 100 aliases" in refused(text, "too_many_aliases")
    ok = READER.read_text("a: &a 1\nb: [" + ", ".join(["*a"] * 100) + "]\n", "doc.yaml")
    assert ok.data["b"] == [1] * 100


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    refused("a: &a [1, *a]\n", "too_many_nodes")


def test_aliases_cannot_nest_deeper_than_the_limit() -> None:
    """Each level is 8 deep as written, but the aliases stack them 40 deep."""
    inner = "[" * 8 + "]" * 8
    lines = [f"l0: &l0 {inner}"]
    lines += [f"l{n}: &l{n} [[[[[[[[*l{n - 1}]]]]]]]]" for n in range(1, 5)]
    refused("\n".join(lines), "nesting_too_deep")


# Nesting, size, numbers, strings -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # JSON
        "a: " + "[" * 100_000,  # YAML flow, never closed
        "".join(f"{'  ' * n}k{n}:\n" for n in range(40)),  # YAML blocks
    ],
    ids=["json", "yaml-flow", "yaml-block"],
)
def test_deep_nesting_is_refused_without_recursion(text: str) -> None:
    assert "nested more than 32 levels deep" in refused(text, "nesting_too_deep")


def test_nesting_up_to_the_limit_is_read() -> None:
    assert READER.read_text("[" * 32 + "]" * 32, "doc.json").data is not None


@pytest.mark.parametrize("text", ["x: " + "7" * 5000, '{"x": ' + "7" * 5000 + "}"])
def test_a_5000_digit_integer_is_refused_with_its_line(text: str) -> None:
    message = refused("# a comment first\n" + text, "number_too_long")
    assert message.startswith("doc.yaml line 2: ")
    assert "has more than 100 digits" in message


@pytest.mark.parametrize(
    "value", ["1e999999", "'1e999999'", "-1E+999999", "1e-999999", "1.0e+400", "0x" + "f" * 100]
)
def test_numbers_are_bounded_by_the_digits_they_stand_for(value: str) -> None:
    """PyYAML 1.1 reads ``1e999999`` as a string, but pydantic would read it as a number."""
    message = refused(f"parameters:\n  trade_size: {value}\n", "number_too_long")
    assert message.startswith("doc.yaml line 2: ")


def test_a_json_exponent_is_bounded_too() -> None:
    assert refused('{"trade_size":\n 1e999999}', "number_too_long").startswith("doc.yaml line 2")


@pytest.mark.parametrize("value", [".inf", "-.Inf", ".nan", "nan", "Infinity", "-inf"])
def test_non_finite_numbers_are_refused(value: str) -> None:
    assert "is not a finite number" in refused(f"x: {value}\n", "number_too_long")


def test_a_json_nan_is_refused() -> None:
    refused('{"x": NaN}', "number_too_long")


def test_sensible_numbers_are_read() -> None:
    data = READER.read_text("a: 1.5e-10\nb: 12345678901234567890\nc: '0.01'\n", "d").data
    assert data == {"a": 1.5e-10, "b": 12345678901234567890, "c": "0.01"}
    assert READER.read_text('{"a": 1e5, "b": 2}', "d").data == {"a": 100000.0, "b": 2}


def test_long_strings_are_refused() -> None:
    small = BoundedDocumentReader(DocumentLimits(max_string_chars=10))
    refused("a: abcdefghijk\n", "string_too_long", small)
    refused('{"a": "abcdefghijk"}', "string_too_long", small)
    assert small.read_text("a: abcdefghij\n", "d").data == {"a": "abcdefghij"}


def test_a_document_larger_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: [" + "1, " * 400_000 + "1]\n")
    with pytest.raises(DocumentLimitError) as caught:
        READER.read_file(path)
    assert caught.value.reason == "too_large"
    assert caught.value.message == f"{path}: larger than 1,000,000 bytes"
    refused("x" * 1_000_001, "too_large")


def test_many_small_values_are_bounded() -> None:
    text = "[" + ",".join(["0"] * 100_001) + "]"
    refused(text, "too_many_nodes")
    refused(text.replace(",", "\n,"), "too_many_nodes")  # as YAML flow with lines too


def test_values_are_counted_as_json_counts_them_keys_aside() -> None:
    reader = BoundedDocumentReader(DocumentLimits(max_nodes=1000))
    many = {f"k{n}": n for n in range(600)}  # 601 values, 1,201 with the keys
    assert reader.read_text(json.dumps(many), "d").data == many
    assert reader.read_text(yaml.safe_dump(many), "d").data == many


# Duplicate keys --------------------------------------------------------------------------------


def test_a_duplicate_yaml_key_names_both_lines() -> None:
    text = (
        "strategy_id: trend\n"  # 1
        "parameters:\n"  # 2
        "  slow_period: 50\n"  # 3
        "  fast: 10\n"  # 4
        "  ma_type: ema\n"  # 5
        "  # the same key again\n"  # 6
        "  fast: 40\n"  # 7
    )
    message = refused(text, "duplicate_key")
    assert message == "doc.yaml line 7: key 'fast' repeats the key on line 4"


def test_quoting_does_not_hide_a_duplicate() -> None:
    assert "line 2: key 'a' repeats the key on line 1" in refused("a: 1\n'a': 2\n", "duplicate_key")


@pytest.mark.parametrize("text", ["1: a\n0x1: b\n", "yes: 1\ntrue: 2\n"])
def test_keys_that_would_collide_in_the_data_are_duplicates(text: str) -> None:
    assert "repeats the key on line 1" in refused(text, "duplicate_key")


def test_a_duplicate_json_key_names_both_lines() -> None:
    message = refused('{\n  "tick_size": 0.01,\n  "tick_size": 0.5\n}', "duplicate_key")
    assert message == "doc.yaml line 3: key 'tick_size' repeats the key on line 2"


def test_merged_keys_may_be_overridden() -> None:
    text = "base: &b {fast: 10, slow: 50}\nmine:\n  <<: *b\n  fast: 20\n"
    assert READER.read_text(text, "d").data["mine"] == {"fast": 20, "slow": 50}


# Lines, errors ---------------------------------------------------------------------------------


def test_locations_map_to_their_lines() -> None:
    yaml_doc = READER.read_text("\na: 1\nb:\n  - x\n  - c: 2\n    d: [3, 4]\n", "d")
    assert yaml_doc.line_of(()) == 2
    assert yaml_doc.line_of(("b", 1, "d")) == 6
    assert yaml_doc.line_of(("b", 1, "zz", 0)) == 5  # the deepest part the document has
    json_doc = READER.read_text('{"a": 1,\n "b": [\n  "x",\n  {"c": 2}]}', "d")
    assert json_doc.line_of(("b",)) == 2
    assert json_doc.line_of(("b", 1, "c")) == 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 2020-02-30\n", r"line 1: .*day is out of range"),
        ("a: !!int twelve\n", r"line 1: .*invalid literal"),
        ("a: !!python/object/apply:os.system [echo]\n", r"line 1: .*python/object"),
        ("a: [1, 2\nb: 3\n", r"line 2: not valid YAML or JSON"),
        ("? [a, b]\n: 1\n", r"line 1: .*unhashable"),
        ("a: !!timestamp\n", r"line 1: .*cannot read ''"),  # PyYAML: AttributeError
        ("? !!set\n", r"line 1: not valid YAML or JSON"),
        ("é: 1\nb: \x07\n", r"line 2: not valid YAML or JSON: character #x0007: control"),
    ],
)
def test_bad_yaml_is_an_invalid_input_error_with_its_line(text: str, expected: str) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        READER.read_text(text, "doc.yaml")


def test_unreadable_and_undecodable_files(tmp_path: Path) -> None:
    with pytest.raises(SourceReadError, match="cannot be read"):
        READER.read_file(tmp_path / "missing.yaml")
    with pytest.raises(SourceReadError, match="cannot be read"):
        READER.read_file(tmp_path)
    with pytest.raises(InvalidInputError, match=r"line 2: not UTF-8 text"):
        READER.read_text(b"a: 1\nb: \xff\n", "doc.yaml")


def test_an_empty_document_has_no_data() -> None:
    assert READER.read_text("# nothing\n", "d").data is None


# Properties ------------------------------------------------------------------------------------


def _not_number_like(text: str) -> bool:
    """Number-like strings are bounded as numbers (pydantic would read them as numbers)."""
    stripped = text.strip()
    return not stripped[:1] or (
        stripped[0] not in "0123456789+-." and stripped.lower() not in {"nan", "inf", "infinity"}
    )


_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=20).filter(
    _not_number_like
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(min_value=-1e80, max_value=1e80, allow_nan=False).filter(
        lambda x: x == 0 or abs(x) > 1e-80
    )
    | _TEXT
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=25,
)


def typed(value: Any) -> Any:
    """``value`` with each scalar's type beside it, so 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


# Property: bounded reading is lossless within the limits
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=_DOCUMENTS)
@example(document=1e-05)  # YAML 1.1 would read the JSON text 1e-05 as a string
@example(document={"a": [1e50, -2.5e-7]})
def test_within_the_limits_the_reader_reads_what_json_and_yaml_read(document: Any) -> None:
    as_json = json.dumps(document, indent=1)
    assert typed(READER.read_text(as_json, "d.json").data) == typed(json.loads(as_json))
    as_yaml = yaml.safe_dump(document, allow_unicode=True)
    assert typed(READER.read_text(as_yaml, "d.yaml").data) == typed(yaml.safe_load(as_yaml))


_YAML_ISH = st.text(st.sampled_from(list("{}[]:,-?&*!|>'\"%@#` \n\t\\ae01.+_<~")), max_size=200)


# Property: whatever the bytes, the reader returns data or raises InvalidInputError, nothing else
@settings(max_examples=300, deadline=None)
@given(content=st.binary(max_size=300) | _YAML_ISH.map(str.encode))
def test_any_bytes_are_read_or_refused_as_invalid_input(content: bytes) -> None:
    try:
        READER.read_text(content, "random.yaml")
    except InvalidInputError as error:
        assert error.message.startswith("random.yaml")
