"""Search spaces: which parameters of a family an optimiser may change, and within what.

A space names one family and, per tunable parameter, an integer or float range (optionally
stepped or logarithmic) or a list of choices. ``default_space`` derives one from the family's
own parameter model (its pydantic bounds, ``Literal`` choices and booleans) around the
version's values, so the optimiser never proposes what the registry would refuse; a space
file narrows or widens it (``load_space``). ``apply`` turns a point of the space into a
candidate definition, validated by the family model: a point that breaks a cross-field rule
(fast >= slow) is infeasible, reported as such, never a crash.

Never tunable: the order size (``trade_size``, ``total_quantity``: risk, not signal) and
identity fields (a custom strategy's import paths and schema).
"""

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal, Self, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import (
    PARAMETER_MODELS,
    StrategyFamily,
    StrategyParameters,
)

ParamValue = bool | int | float | str | None
"""One parameter's value in a trial (what Optuna can store as a categorical choice too)."""

Params = dict[str, ParamValue]

PARAMETERS_MAX = 32
CHOICES_MAX = 64

# Sizing and identity: an optimiser that tuned these would be choosing risk or another strategy.
FIXED_PARAMETERS = frozenset(
    {
        "trade_size",
        "total_quantity",
        "side",
        "strategy_path",
        "config_path",
        "config",
        "config_schema",
    }
)


class ParameterRange(BaseModel):
    """One tunable parameter: ``int``/``float`` in ``[low, high]`` or one of ``choices``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    step: float | None = Field(default=None, gt=0)
    log: bool = False
    choices: tuple[ParamValue, ...] = Field(default=(), max_length=CHOICES_MAX)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError(f"{self.name}: a categorical parameter needs choices")
            if self.low is not None or self.high is not None or self.step is not None:
                raise ValueError(f"{self.name}: choices take no low/high/step")
            if len(set(map(repr, self.choices))) != len(self.choices):
                raise ValueError(f"{self.name}: a choice is listed twice")
            return self
        if self.choices:
            raise ValueError(f"{self.name}: a {self.kind} range takes low/high, not choices")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.name}: a {self.kind} range needs low and high")
        if self.low > self.high:
            raise ValueError(f"{self.name}: low ({self.low}) is above high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a logarithmic range needs low > 0")
        if self.log and self.step is not None:
            raise ValueError(f"{self.name}: a range is either logarithmic or stepped, not both")
        if self.kind == "int":
            for bound in (self.low, self.high, self.step):
                if bound is not None and bound != int(bound):
                    raise ValueError(f"{self.name}: an int range has whole bounds and step")
        return self

    def grid(self) -> list[ParamValue]:
        """Every value a grid search visits (float ranges need a step)."""
        if self.kind == "categorical":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            step = int(self.step or 1)
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            raise ValueError(f"{self.name}: a grid over a float range needs a step")
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]


class SearchSpace(BaseModel):
    """What one optimisation explores: a family's tunable parameters, in a fixed order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str
    parameters: tuple[ParameterRange, ...] = Field(min_length=1, max_length=PARAMETERS_MAX)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("a parameter is listed twice")
        fixed = sorted(set(names) & FIXED_PARAMETERS)
        if fixed:
            raise ValueError(f"not tunable (sizing or identity): {', '.join(fixed)}")
        return self

    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    def grid_size(self) -> int:
        size = 1
        for parameter in self.parameters:
            size *= len(parameter.grid())
        return size

    @property
    def sha256(self) -> str:
        """Digest of the canonical JSON: a resumed study must explore the same space."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Bounds:
    kind: Literal["int", "float", "categorical"]
    low: float | None = None  # inclusive (an exclusive bound is nudged inside)
    high: float | None = None
    choices: tuple[ParamValue, ...] = ()
    optional: bool = False  # None is a valid value (e.g. "no stop")


def family_model(family: str) -> type[StrategyParameters]:
    try:
        return PARAMETER_MODELS[StrategyFamily(family)]
    except ValueError:
        raise InvalidInputError(
            f"{family!r} is not a strategy family", code="unknown_family", data={"family": family}
        ) from None


def tunable_bounds(family: str) -> dict[str, Bounds]:
    """The family's tunable parameters and their bounds, from its pydantic model."""
    model = family_model(family)
    found: dict[str, Bounds] = {}
    for name, info in model.model_fields.items():
        if name in FIXED_PARAMETERS:
            continue
        bounds = _bounds_of(info.annotation, info.metadata)
        if bounds is not None:
            found[name] = bounds
    return found


def _bounds_of(annotation: Any, metadata: Sequence[Any]) -> Bounds | None:
    optional = False
    args = get_args(annotation)
    if get_origin(annotation) in (UnionType, Union) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            return None
        annotation, optional = rest[0], True
    if annotation is bool:
        return Bounds("categorical", choices=(False, True), optional=optional)
    if get_origin(annotation) is Literal:
        return Bounds("categorical", choices=tuple(get_args(annotation)), optional=optional)
    if annotation not in (int, float):
        return None
    kind: Literal["int", "float"] = "int" if annotation is int else "float"
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low = float(item.gt) + (1 if kind == "int" else _EXCLUSIVE)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high = float(item.lt) - (1 if kind == "int" else _EXCLUSIVE)  # type: ignore[arg-type]
    if low is None or high is None:
        return None  # unbounded: no sensible default range
    return Bounds(kind, low, high, optional=optional)


_EXCLUSIVE = 1e-6
_INT_STEPS = 10  # a default int range has at most ~11 grid values
_FLOAT_STEPS = 8


def default_space(definition: StrategyDefinition) -> SearchSpace:
    """A sensible space around the version's values: x0.5 .. x2 within the family's bounds
    (numbers), every choice (Literals, booleans); parameters left None are not tuned."""
    values = definition.parameters.model_dump()
    ranges: list[ParameterRange] = []
    for name, bounds in tunable_bounds(definition.family.value).items():
        value = values.get(name)
        if bounds.kind == "categorical":
            choices = _feasible_choices(definition, name, bounds.choices, value)
            if len(choices) > 1:
                ranges.append(ParameterRange(name=name, kind="categorical", choices=choices))
            continue
        if value is None or isinstance(value, bool):
            continue
        ranges.append(_numeric_default(name, bounds, float(value)))
    if not ranges:
        raise InvalidInputError(
            f"the {definition.family.value} family has no tunable parameters to derive a "
            "search space from",
            hint="give a space file naming the parameters and their ranges",
            code="no_search_space",
            data={"family": definition.family.value},
        )
    return SearchSpace(family=definition.family.value, parameters=tuple(ranges))


def _feasible_choices(
    definition: StrategyDefinition, name: str, choices: tuple[ParamValue, ...], value: object
) -> tuple[ParamValue, ...]:
    """The choices the version admits with its other values unchanged: a mode switch that
    needs another field (a fixed hedge ratio, a POV rate) would only yield infeasible trials."""
    if value is None:
        return ()
    kept: list[ParamValue] = []
    for choice in choices:
        try:
            apply(definition, {name: choice})
        except InvalidInputError:
            continue
        kept.append(choice)
    return tuple(kept)


def _numeric_default(name: str, bounds: Bounds, value: float) -> ParameterRange:
    assert bounds.low is not None and bounds.high is not None
    if value > 0:
        low, high = max(bounds.low, value / 2), min(bounds.high, value * 2)
    else:  # zero (or negative): a quarter of the bounds' width from the low end
        low = max(bounds.low, value)
        high = min(bounds.high, low + (bounds.high - bounds.low) / 4)
    if bounds.kind == "int":
        lo, hi = math.ceil(low), max(math.ceil(low), math.floor(high))
        whole = max(1, math.ceil((hi - lo) / _INT_STEPS))
        hi = lo + whole * ((hi - lo) // whole)
        return ParameterRange(name=name, kind="int", low=lo, high=hi, step=whole)
    if high <= low:
        return ParameterRange(name=name, kind="float", low=low, high=low)
    step = _nice((high - low) / _FLOAT_STEPS)
    start = _nice_floor(low, step, bounds.low)
    end = max(start, round(start + step * math.floor((high - start) / step + 1e-9), 10))
    return ParameterRange(name=name, kind="float", low=start, high=end, step=step)


def _nice(raw: float) -> float:
    """The 1-2-5 step at or below ``raw`` (grids of round numbers)."""
    magnitude = 10.0 ** math.floor(math.log10(raw))
    factor = next((f for f in (5.0, 2.0) if f * magnitude <= raw), 1.0)
    return round(factor * magnitude, 12)


def _nice_floor(low: float, step: float, bound: float) -> float:
    """``low`` rounded up to a multiple of ``step`` (never below the family's bound)."""
    return round(max(bound, float(math.ceil(low / step - 1e-9)) * step), 10)


def apply(definition: StrategyDefinition, params: Mapping[str, ParamValue]) -> StrategyDefinition:
    """The candidate definition with ``params`` set, checked by the family's rules.

    Keeps id, version and bookkeeping (its content hash differs, which tells trials apart).
    An infeasible point raises ``InvalidInputError`` with code ``infeasible``.
    """
    values = {**definition.parameters.model_dump(), **params}
    try:
        return StrategyDefinition.model_validate({**definition.model_dump(), "parameters": values})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "parameters"
        raise InvalidInputError(
            f"infeasible parameters {dict(params)}: {where}: {first['msg']}",
            code="infeasible",
            data={"field": where},
        ) from None
