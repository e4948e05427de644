"""Bounded JSON reading: every hostile document is a DocumentLimitError with a reason code."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.documents import (
    DEFAULT_LIMITS,
    LIMIT_REASONS,
    DocumentLimitError,
    DocumentLimits,
    loads_json,
    loads_json_line,
)
from quantdesk.domain.errors import InvalidInputError


def refusal(text: str | bytes, limits: DocumentLimits = DEFAULT_LIMITS) -> DocumentLimitError:
    with pytest.raises(DocumentLimitError) as caught:
        loads_json(text, limits)
    assert caught.value.reason in LIMIT_REASONS
    return caught.value


def test_plain_documents_read_like_json() -> None:
    text = '{"a": [1, 2.5, "x", null, true], "b": {"c": -3}}'
    assert loads_json(text) == json.loads(text)
    assert loads_json(text.encode()) == json.loads(text)


def test_limit_error_is_an_input_error_with_reason_and_line() -> None:
    error = DocumentLimitError("m", reason="not_json", line=3, hint="h")
    assert isinstance(error, InvalidInputError)
    assert (error.message, error.reason, error.line, error.hint) == ("m", "not_json", 3, "h")


@pytest.mark.parametrize("name", ["max_bytes", "max_depth", "max_string_chars"])
@pytest.mark.parametrize("value", [0, -1])
def test_limits_must_be_positive(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=name):
        DocumentLimits(**{name: value})


def test_too_large_is_refused_before_parsing() -> None:
    limits = DocumentLimits(max_bytes=10)
    assert refusal("[" * 11, limits).reason == "too_large"  # never parsed: not "not_json"
    assert refusal('"é\u00e9éééé"', limits).reason == "too_large"  # 8 chars, 14 bytes
    assert refusal(b"[1, 2, 3, 4]", limits).reason == "too_large"


def test_100000_deep_nesting_is_refused() -> None:
    error = refusal("[" * 100_000 + "]" * 100_000)
    assert error.reason == "nesting_too_deep"
    assert "32" in error.message


def test_depth_within_interpreter_limits_is_bounded_by_the_walk() -> None:
    limits = DocumentLimits(max_depth=3)
    assert loads_json('[[{"a": 1}]]', limits) == [[{"a": 1}]]
    assert refusal('[[[{"a": 1}]]]', limits).reason == "nesting_too_deep"


def test_integer_of_5000_digits_is_refused() -> None:
    error = refusal("1" * 5000)
    assert error.reason == "number_too_long"
    assert "5000 characters" in error.message


def test_long_integer_allowed_by_limits_but_not_by_int_is_refused() -> None:
    error = refusal("[" + "7" * 5000 + "]", DocumentLimits(max_number_chars=10_000))
    assert error.reason == "number_too_long"


def test_long_float_is_refused() -> None:
    assert refusal("0." + "1" * 200).reason == "number_too_long"


@pytest.mark.parametrize("text", ["1e999", "[-1e400]", '{"x": 1.5e309}'])
def test_floats_that_overflow_are_refused(text: str) -> None:
    error = refusal(text)
    assert error.reason == "number_too_long"
    assert "is not a finite number" in error.message


def test_json_lines_are_judged_alone_with_their_number() -> None:
    assert loads_json_line(b' {"a": 1} ', 7) == {"a": 1}
    cases = {
        b'{"a": "\xff"}': "not_utf8",
        b"[" * 70_000: "line_too_long",
        b"[" * 30_000 + b"]" * 30_000: "nesting_too_deep",
        b"1" * 5000: "number_too_long",
        b"{oops": "not_json",
    }
    for line, reason in cases.items():
        with pytest.raises(DocumentLimitError) as caught:
            loads_json_line(line, 7)
        assert (caught.value.reason, caught.value.line) == (reason, 7), line[:20]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_constants_are_refused(constant: str) -> None:
    error = refusal(f'{{"x": {constant}}}')
    assert error.reason == "not_json"
    assert constant.lstrip("-") in error.message


def test_too_many_nodes() -> None:
    limits = DocumentLimits(max_nodes=5)
    assert loads_json("[1, 2, 3, 4]", limits) == [1, 2, 3, 4]
    assert refusal("[1, 2, 3, 4, 5]", limits).reason == "too_many_nodes"


def test_long_strings_and_keys() -> None:
    limits = DocumentLimits(max_string_chars=5)
    assert refusal('["abcdef"]', limits).reason == "string_too_long"
    assert refusal('{"abcdef": 1}', limits).reason == "string_too_long"
    assert loads_json('{"abcde": "vwxyz"}', limits) == {"abcde": "vwxyz"}


def test_duplicate_keys_are_refused() -> None:
    error = refusal('{"a": 1, "a": 2}')
    assert error.reason == "duplicate_key"
    assert "'a'" in error.message


def test_invalid_json_names_message_and_position() -> None:
    error = refusal('{"a": 1,\n "b": }')
    assert error.reason == "not_json"
    assert error.line == 2
    assert "line 2 column 7" in error.message


def test_invalid_utf8_bytes_are_not_json() -> None:
    error = refusal(b'{"a":\n "\xff\xfe"}')
    assert error.reason == "not_json"
    assert error.line == 2
    assert "UTF-8" in error.message


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(item) for item in value.values()), default=0)
    return 0


# Property: bounded JSON parsing agrees with json.loads within the limits.
@settings(max_examples=300)
@given(json_values, st.booleans())
def test_agrees_with_json_loads_within_limits(value: object, as_bytes: bool) -> None:
    text = json.dumps(value)
    assert depth_of(value) <= DEFAULT_LIMITS.max_depth
    parsed = loads_json(text.encode() if as_bytes else text)
    assert parsed == json.loads(text)
    assert json.dumps(parsed) == text  # same types (int stays int, float stays float)


# Property: any bytes at all give a value or a DocumentLimitError, never another exception.
@settings(max_examples=300)
@given(
    st.binary(max_size=200)
    | st.text(alphabet="[]{}\"':,0123456789.eE-+ \nNaIfinty\\u", max_size=200)
)
def test_arbitrary_input_is_a_value_or_a_limit_error(data: bytes | str) -> None:
    try:
        value = loads_json(data, DocumentLimits(max_depth=4, max_number_chars=8))
    except DocumentLimitError as error:
        assert error.reason in LIMIT_REASONS
    else:
        assert depth_of(value) <= 4
        assert not (isinstance(value, float) and math.isnan(value))
