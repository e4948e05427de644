"""Space files: a user's search space in YAML, checked against the family's own bounds.

The file is read by the bounded document reader (which keeps the line of every value); here
its content becomes a ``SearchSpace`` and every refusal names the file, the line and the
field, so a typo in a 20-line file is found at a glance.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import (
    Bounds,
    ParameterRange,
    SearchSpace,
    tunable_bounds,
)
from quantdesk.domain.strategies.definition import StrategyDefinition

LineOf = Callable[[Sequence[str | int]], int]


@dataclass(frozen=True)
class SpaceFile:
    """A space file's content: the space, and a custom objective's weights if it gives any."""

    space: SearchSpace
    weights: dict[str, float]


_SPACE_KEYS = frozenset({"family", "parameters", "objective"})
_RANGE_KEYS = frozenset({"low", "high", "step", "log", "choices"})


def load_space(
    data: object,
    definition: StrategyDefinition,
    *,
    name: str = "space",
    line_of: LineOf | None = None,
) -> SpaceFile:
    """A space file (YAML read by the bounded reader), checked against the family's bounds.

    ``parameters`` maps each tuned parameter to ``{low, high[, step][, log]}`` or
    ``{choices: [...]}``; the listed parameters are the whole space (the others keep the
    version's values). ``objective: {weights: {metric: w}}`` feeds a custom objective.
    Errors name ``name`` and the line (``line_of``) of the offending field.
    """

    def fail(location: Sequence[str | int], message: str) -> InvalidInputError:
        field = ".".join(str(part) for part in location) or "(document)"
        if line_of is None:  # data, not a file (an API body, a job's payload): no lines
            return InvalidInputError(
                f"{name}: {field}: {message}",
                code="invalid_space",
                data={"file": name, "field": field},
            )
        line = line_of(location)
        return InvalidInputError(
            f"{name} line {line}: {field}: {message}",
            code="invalid_space",
            data={"file": name, "line": line, "field": field},
        )

    if not isinstance(data, Mapping):
        raise fail((), "expected a mapping with parameters (and optionally family, objective)")
    unknown = sorted(set(map(str, data)) - _SPACE_KEYS)
    if unknown:
        raise fail((unknown[0],), f"unknown key; allowed: {', '.join(sorted(_SPACE_KEYS))}")
    family = definition.family.value
    if "family" in data and data["family"] != family:
        raise fail(("family",), f"the space is for {data['family']!r}, the version is {family}")
    bounds = tunable_bounds(family)
    entries = data.get("parameters")
    if not isinstance(entries, Mapping) or not entries:
        raise fail(("parameters",), "expected a mapping of parameter names to ranges")
    ranges = [
        _range_of(str(key), entry, bounds, _under(fail, ("parameters", str(key))))
        for key, entry in entries.items()
    ]
    weights = _weights_of(data.get("objective"), fail)
    try:
        space = SearchSpace(family=family, parameters=tuple(ranges))
    except ValidationError as error:
        raise fail(("parameters",), error.errors()[0]["msg"]) from None
    return SpaceFile(space=space, weights=weights)


Fail = Callable[[Sequence[str | int], str], InvalidInputError]


def _under(fail: Fail, prefix: tuple[str | int, ...]) -> Fail:
    def nested(where: Sequence[str | int], message: str) -> InvalidInputError:
        return fail((*prefix, *where), message)

    return nested


def _range_of(key: str, entry: object, bounds: Mapping[str, Bounds], fail: Fail) -> ParameterRange:
    if key not in bounds:
        allowed = ", ".join(bounds) or "none"
        raise fail((), f"not a tunable parameter of this family; tunable: {allowed}")
    if not isinstance(entry, Mapping):
        raise fail((), "expected {low, high[, step][, log]} or {choices: [...]}")
    extra = sorted(set(map(str, entry)) - _RANGE_KEYS)
    if extra:
        raise fail((extra[0],), f"unknown key; allowed: {', '.join(sorted(_RANGE_KEYS))}")
    family_bounds = bounds[key]
    kind = "categorical" if "choices" in entry else family_bounds.kind
    if kind == "categorical" and family_bounds.kind != "categorical" and not family_bounds.optional:
        raise fail(("choices",), f"a {family_bounds.kind} parameter takes low/high")
    try:
        parameter = ParameterRange.model_validate({**entry, "name": key, "kind": kind})
    except ValidationError as error:
        first = error.errors()[0]
        where = [part for part in first["loc"] if part not in ("name", "kind")]
        raise fail(where, first["msg"].removeprefix("Value error, ")) from None
    _within(parameter, family_bounds, fail)
    return parameter


def _within(parameter: ParameterRange, bounds: Bounds, fail: Fail) -> None:
    """The family's own bounds hold: a range past them would only give refused trials."""
    if parameter.kind == "categorical":
        allowed = set(map(repr, bounds.choices)) if bounds.kind == "categorical" else set()
        for index, choice in enumerate(parameter.choices):
            if choice is None and bounds.optional:
                continue
            ok = repr(choice) in allowed
            if bounds.kind != "categorical" and isinstance(choice, int | float):
                ok = not isinstance(choice, bool) and _inside(float(choice), bounds)
            if not ok:
                raise fail(("choices", index), f"{choice!r} is not allowed for this parameter")
        return
    assert parameter.low is not None and parameter.high is not None
    assert bounds.low is not None and bounds.high is not None
    if parameter.low < bounds.low:
        raise fail(("low",), f"{parameter.low:g} is below the family's bound {bounds.low:g}")
    if parameter.high > bounds.high:
        raise fail(("high",), f"{parameter.high:g} is above the family's bound {bounds.high:g}")


def _inside(value: float, bounds: Bounds) -> bool:
    assert bounds.low is not None and bounds.high is not None
    return bounds.low <= value <= bounds.high


def _weights_of(objective: object, fail: Fail) -> dict[str, float]:
    if objective is None:
        return {}
    if not isinstance(objective, Mapping) or set(map(str, objective)) - {"weights"}:
        raise fail(("objective",), "expected {weights: {metric: weight, ...}}")
    weights = objective.get("weights")
    if not isinstance(weights, Mapping) or not weights:
        raise fail(("objective", "weights"), "expected a mapping of metric names to numbers")
    found: dict[str, float] = {}
    for metric, weight in weights.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
        ):
            raise fail(("objective", "weights", metric), "a weight is a finite number")
        found[str(metric)] = float(weight)
    return found
