"""``JsonSchemaChecker``: the ``ConfigSchemaChecker`` port on the ``jsonschema`` package.

A custom definition's ``config_schema`` is written by whoever registers it, so it is hostile:

- it never makes us fetch or read anything. ``jsonschema`` resolves a ``$ref`` to
  ``http://...`` by a GET and ``file://...`` by reading the file; here the registry of
  schemas retrieves nothing at all, and every ``$ref``/``$dynamicRef`` must be a local
  ``#...`` fragment, checked before the schema is used;
- its regular expressions run on RE2 (linear time); a pattern RE2 cannot run is refused;
- it is bounded like any document (depth, values, size), and checking a value against it
  stops after a budget of keyword steps.
"""

import json
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from quantdesk.adapters.schemas.linear_keywords import (
    PatternError,
    StepBudgetError,
    linear_validator_class,
    pattern_problem,
    regex_format,
    reset_budget,
    with_budget,
)
from quantdesk.domain.documents import (
    DEFAULT_LIMITS,
    DocumentLimitError,
    DocumentLimits,
    check_shape,
)

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef")
DEFAULT_STEP_BUDGET = 100_000
"""Keyword evaluations allowed for one check: far above any real config, far below hours."""

_LinearValidator = linear_validator_class()
_SCHEMA_FORMATS = FormatChecker(formats=())
_SCHEMA_FORMATS.checks("regex", raises=PatternError)(regex_format)


def _retrieve_nothing(uri: str) -> Any:
    """The registry's only way to find a schema it was not given: there is none."""
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


_NO_RETRIEVAL: Registry[Any] = Registry(retrieve=_retrieve_nothing)  # type: ignore[call-arg]


class JsonSchemaChecker:
    """Draft 2020-12. Reports every violation, by JSON path, most specific first.

    A schema that breaks a rule above is one problem at ``config_schema``, whatever the value.
    """

    def __init__(
        self, limits: DocumentLimits = DEFAULT_LIMITS, step_budget: int = DEFAULT_STEP_BUDGET
    ) -> None:
        self._limits = limits
        self._budget = step_budget

    def problems(self, schema: Mapping[str, object], value: object) -> list[tuple[str, str]]:
        schema = dict(schema)
        refusal = self.schema_problem(schema)
        if refusal is not None:
            return [("config_schema", refusal)]
        schema.pop("$schema", None)  # checked above; the validator class is chosen here
        validator = _LinearValidator(schema, registry=_NO_RETRIEVAL)
        token = with_budget(self._budget)
        try:
            errors = sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
        except Unresolvable as error:
            return [
                ("config_schema", f"$ref {_ref_of(error)} cannot be resolved inside the schema")
            ]
        except PatternError as error:
            return [("config_schema", str(error))]
        except (StepBudgetError, RecursionError):
            return [
                (
                    "config_schema",
                    f"checking the config takes more than {self._budget} schema steps"
                    " (a $ref cycle or deeply nested anyOf/oneOf): simplify the schema",
                )
            ]
        finally:
            reset_budget(token)
        return [("/".join(str(p) for p in error.path), error.message) for error in errors]

    def schema_problem(self, schema: Mapping[str, object]) -> str | None:
        """Why ``schema`` may not be used at all, or None: checked before any value meets it."""
        try:
            check_shape(schema, self._limits)
            size = len(json.dumps(schema))
        except DocumentLimitError as error:
            return f"the schema is too big: {error.message}"
        if size > self._limits.max_bytes:
            return f"the schema is larger than {self._limits.max_bytes} bytes"
        declared = schema.get("$schema", DRAFT_2020_12)
        if not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12:
            return f"$schema {declared!r} is not supported: a config schema is draft 2020-12"
        for problem in _keyword_problems(schema):
            return problem
        try:
            Draft202012Validator.check_schema(schema, format_checker=_SCHEMA_FORMATS)
        except SchemaError as error:
            return f"not a valid JSON schema: {error.message}"
        return None


def _keyword_problems(schema: Mapping[str, object]) -> Iterator[str]:
    """Walks every mapping in the schema (without recursion), data keywords included.

    Data is walked too because a ``$ref`` pointer may turn any part of the schema (even a
    ``default``) into a schema; a ``$ref`` string inside a ``const`` is refused with the rest.
    """
    has_pattern_properties = has_unevaluated = False
    stack: list[object] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for keyword in REFERENCE_KEYWORDS:
            target = node.get(keyword)
            if isinstance(target, str) and not target.startswith("#"):
                kind = "remote" if ":" in target.split("/")[0] else "external"
                yield (
                    f"{kind} {keyword} {target!r} is not allowed:"
                    " a config schema must be self-contained (refer to '#/$defs/...')"
                )
        if node is not schema and isinstance(node.get("$schema"), str):
            yield "$schema inside a config schema is not supported: all of it is draft 2020-12"
        pattern = node.get("pattern")
        if isinstance(pattern, str) and (problem := pattern_problem(pattern)) is not None:
            yield problem
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict):
            has_pattern_properties = True
            for key in patterns:
                if (problem := pattern_problem(key)) is not None:
                    yield problem
        has_unevaluated = has_unevaluated or "unevaluatedProperties" in node
        stack.extend(node.values())
    if has_pattern_properties and has_unevaluated:
        yield (
            "unevaluatedProperties together with patternProperties is not supported"
            " (its pattern matching cannot be bounded): use additionalProperties"
        )


def _ref_of(error: Unresolvable) -> str:
    ref = str(getattr(error, "ref", ""))
    return repr("#" + ref if ref.startswith("/") or not ref else ref)
