"""JSON-schema keywords that cannot run away: RE2 patterns and a budget of keyword steps.

``jsonschema`` matches ``pattern``, ``patternProperties`` (and ``additionalProperties``, which
consults them) with Python's backtracking ``re``: ``^(a+)+$`` against thirty ``a``s and a
``b`` takes minutes. Here they run on RE2, whose matching time is linear in the text; a
pattern RE2 cannot run that way (backreferences, lookaround) is refused, never run.

Every keyword evaluation also spends steps of a per-check budget, so a schema whose
``$ref``/``anyOf`` structure multiplies work (each level doubling it) stops with a clear
error instead of running for hours.
"""

from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

import re2  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator, ValidationError, validators

Keyword = Callable[[Any, Any, Any, Mapping[str, Any]], Iterator[ValidationError] | None]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr


class PatternError(ValueError):
    """A pattern RE2 refuses; the message says why, for the author of the schema."""


class StepBudgetError(Exception):
    """The budget of keyword steps ran out before the check finished."""


_budget: ContextVar[list[int]] = ContextVar("schema_step_budget")


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used (RE2 cannot compile it), or None when it can."""
    try:
        _compiled(pattern)
    except PatternError as error:
        return str(error)
    return None


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    try:
        return re2.compile(pattern.encode("utf-8"), _OPTIONS)
    except UnicodeEncodeError:
        raise PatternError(f"pattern {pattern!r} is not valid Unicode text") from None
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args else "refused"
        raise PatternError(_explain(pattern, reason)) from None


def _explain(pattern: str, reason: str) -> str:
    backreference = reason.startswith("invalid escape sequence: \\") and reason[-1:] in (
        "123456789kg"
    )
    if backreference or reason.startswith("invalid perl operator"):
        return (
            f"pattern {pattern!r} uses a construct with unbounded matching time"
            f" (backreference/lookaround): not supported ({reason})"
        )
    if "too large" in reason or "repetition size" in reason:
        return f"pattern {pattern!r} is too large for the linear-time regex engine ({reason})"
    return f"pattern {pattern!r} is not a valid regular expression ({reason})"


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text`` (JSON schema's unanchored rule)."""
    encoded = text.encode("utf-8", "surrogatepass")  # JSON strings may hold lone surrogates
    return _compiled(pattern).search(encoded) is not None


def regex_format(instance: object) -> bool:
    """The ``regex`` format, as RE2 reads it (used when checking a schema's own patterns)."""
    if isinstance(instance, str):
        _compiled(instance)
    return True


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        key
        for key in instance
        if key not in known and not any(search(pattern, key) for pattern in patterns)
    ]
    if validator.is_type(additional, "object"):
        for key in extras:
            yield from validator.descend(instance[key], additional, path=key)
    elif additional is False and extras:
        names = ", ".join(repr(key) for key in sorted(extras))
        if patterns:
            yield ValidationError(
                f"{names} {'does' if len(extras) == 1 else 'do'} not match any of the regexes:"
                f" {', '.join(repr(p) for p in sorted(patterns))}"
            )
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({names} {verb} unexpected)"
            )


REFERENCE_STEPS = 10
"""A ``$ref`` costs ten steps: resolving it and switching schema is ten times a keyword."""


def _budgeted(keyword: Keyword, cost: int) -> Keyword:
    def step(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Any:
        remaining = _budget.get()
        remaining[0] -= cost
        if remaining[0] < 0:
            raise StepBudgetError
        return keyword(validator, value, instance, schema)

    return step


def linear_validator_class() -> Any:
    """Draft 2020-12 with RE2 patterns and every keyword spending one step of the budget."""
    keywords: dict[str, Keyword] = dict(Draft202012Validator.VALIDATORS)
    keywords.update(
        pattern=_pattern,
        patternProperties=_pattern_properties,
        additionalProperties=_additional_properties,
    )
    budgeted = {
        name: _budgeted(fn, REFERENCE_STEPS if name in ("$ref", "$dynamicRef") else 1)
        for name, fn in keywords.items()
    }
    return validators.extend(Draft202012Validator, budgeted)  # type: ignore[no-untyped-call]


def with_budget(steps: int) -> Any:
    """Set the step budget for the checks that follow in this context; returns the token."""
    return _budget.set([steps])


def reset_budget(token: Any) -> None:
    _budget.reset(token)
