"""Custom config schemas are hostile: no retrieval, linear-time patterns, bounded work."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.adapters.schemas.json_schema import JsonSchemaChecker
from quantdesk.domain.documents import DocumentLimits

checker = JsonSchemaChecker()
REDOS = "^(a+)+$"


def schema_refusal(schema: dict[str, object], value: object = None) -> str:
    assert checker.schema_problem(schema) is not None
    problems = checker.problems(schema, {} if value is None else value)
    assert len(problems) == 1 and problems[0][0] == "config_schema", problems
    return problems[0][1]


@pytest.mark.parametrize(
    "ref",
    [
        "http://127.0.0.1:9/s.json",
        "https://example.com/s.json#/x",
        "file:///etc/passwd",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    ],
)
def test_remote_refs_are_refused_before_any_value_reaches_them(ref: str) -> None:
    schema = {"type": "object", "properties": {"unused": {"$ref": ref}}}
    message = schema_refusal(schema)  # the config {} never reaches the $ref
    assert message == (
        f"remote $ref {ref!r} is not allowed: a config schema must be self-contained"
        " (refer to '#/$defs/...')"
    )


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "other.json"},
        {"$dynamicRef": "http://127.0.0.1:9/meta#meta"},
        {"anyOf": [{"type": "null"}, {"items": {"$ref": "../x.json"}}]},
        {"$defs": {"hidden": {"$ref": "http://127.0.0.1:9/"}}, "$ref": "#/$defs/hidden"},
        {"default": {"$ref": "http://127.0.0.1:9/"}, "$ref": "#/default"},
    ],
)
def test_every_reference_out_of_the_schema_is_refused(schema: dict[str, object]) -> None:
    assert "is not allowed: a config schema must be self-contained" in schema_refusal(schema, 1)


def test_local_refs_still_work() -> None:
    schema = {
        "$id": "http://127.0.0.1:9/s.json",  # an $id names the schema; nothing is fetched
        "$defs": {"window": {"type": "integer", "minimum": 1}},
        "type": "object",
        "properties": {"window": {"$ref": "#/$defs/window"}},
    }
    assert checker.problems(schema, {"window": 5}) == []
    assert checker.problems(schema, {"window": 0}) == [
        ("window", "0 is less than the minimum of 1")
    ]


def test_a_local_ref_to_nowhere_is_a_schema_problem() -> None:
    problems = checker.problems({"$ref": "#/$defs/missing"}, 1)
    assert problems == [
        ("config_schema", "$ref '#/$defs/missing' cannot be resolved inside the schema")
    ]


def test_other_drafts_and_nested_schema_declarations_are_refused() -> None:
    assert "is not supported" in schema_refusal(
        {"$schema": "http://json-schema.org/draft-07/schema#"}
    )
    assert "$schema inside" in schema_refusal(
        {"$defs": {"a": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}}
    )
    declared = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "integer"}
    assert checker.problems(declared, "x") == [("", "'x' is not of type 'integer'")]


def test_redos_pattern_is_refused_or_answered_at_once() -> None:
    # Python's re takes minutes on this; RE2 answers in linear time.
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": REDOS}}}
    evil = "a" * 50 + "!"
    assert checker.problems(schema, {"name": evil}) == [
        ("name", f"{evil!r} does not match {REDOS!r}")
    ]
    assert checker.problems(schema, {"name": "aaaa"}) == []


def test_patterns_properties_and_additional_properties_use_re2() -> None:
    schema = {
        "type": "object",
        "patternProperties": {REDOS: {"type": "integer"}},
        "additionalProperties": False,
    }
    evil = "a" * 50 + "!"
    assert checker.problems(schema, {"aaa": 1}) == []
    assert checker.problems(schema, {"aaa": "x"}) == [("aaa", "'x' is not of type 'integer'")]
    assert checker.problems(schema, {evil: 1}) == [
        ("", f"{evil!r} does not match any of the regexes: {REDOS!r}")
    ]
    closed = {"properties": {"a": {}}, "additionalProperties": False}
    assert checker.problems(closed, {"b": 1}) == [
        ("", "Additional properties are not allowed ('b' was unexpected)")
    ]
    names = {"propertyNames": {"pattern": "^[a-z]+$"}}
    assert checker.problems(names, {"ok": 1}) == []
    assert checker.problems(names, {"No": 1}) == [("", "'No' does not match '^[a-z]+$'")]


@pytest.mark.parametrize("pattern", [r"^(a)\1$", r"(?=a)b", r"(?<!x)y", r"(?>a+)", r"\k<n>"])
def test_patterns_without_a_time_bound_are_refused_at_registration(pattern: str) -> None:
    for schema in ({"pattern": pattern}, {"patternProperties": {pattern: {}}}):
        assert schema_refusal(schema).startswith(
            f"pattern {pattern!r} uses a construct with unbounded matching time"
            " (backreference/lookaround): not supported"
        )


def test_invalid_patterns_are_refused() -> None:
    assert schema_refusal({"pattern": "(unclosed"}).startswith(
        "pattern '(unclosed' is not a valid regular expression"
    )


def test_re2_syntax_is_the_rule() -> None:
    letters = {"type": "string", "pattern": r"^\p{L}+$"}  # RE2 has \p{L}; Python's re has not
    assert checker.problems(letters, "été") == []
    assert checker.problems(letters, "e1") == [("", "'e1' does not match '^\\\\p{L}+$'")]
    assert checker.problems({"pattern": "^a$"}, "a\n") != []  # $ is the end, as in ECMA-262


def test_unevaluated_properties_with_pattern_properties_is_refused() -> None:
    schema = {"patternProperties": {"^x": {}}, "unevaluatedProperties": False}
    assert "unevaluatedProperties together with patternProperties" in schema_refusal(schema)
    assert checker.problems({"unevaluatedProperties": False}, {"a": 1}) != []


def test_exponential_schemas_stop_after_the_step_budget() -> None:
    defs: dict[str, object] = {
        f"d{i}": {"anyOf": [{"$ref": f"#/$defs/d{i + 1}"}, {"$ref": f"#/$defs/d{i + 1}"}]}
        for i in range(30)
    }
    defs["d30"] = {"type": "string"}
    for schema in ({"$defs": defs, "$ref": "#/$defs/d0"}, {"$ref": "#"}):  # doubling, a cycle
        [(where, message)] = checker.problems(schema, 1)
        assert where == "config_schema"
        assert message.startswith("checking the config takes more than 100000 schema steps")


def test_schemas_are_bounded_like_documents() -> None:
    deep: dict[str, object] = {"type": "integer"}
    for _ in range(40):
        deep = {"items": deep}
    assert "too big" in schema_refusal(deep, [])
    small = JsonSchemaChecker(DocumentLimits(max_bytes=50))
    assert small.problems({"description": "x" * 60}, 1) == [
        ("config_schema", "the schema is larger than 50 bytes")
    ]


# Property: RE2 pattern checks agree with Python's re on patterns both read alike.
@settings(max_examples=200)
@given(
    st.sampled_from(["^[a-c]+$", "b", "^a*b?c$", "(ab|ba)+", "^$", "[^a]", "a{2,3}"]),
    st.text(alphabet="abc!", max_size=12),
)
def test_re2_agrees_with_re_on_plain_patterns(pattern: str, text: str) -> None:
    matches = re.search(pattern, text) is not None  # no newline in text: $ reads alike
    assert (checker.problems({"type": "string", "pattern": pattern}, text) == []) == matches
