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
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

ParamValue = bool | int | float | str | None
"""One parameter's value in a trial (what Optuna can store as a categorical choice too)."""

Params = dict[str, ParamValue]

PARAMETERS_MAX = 32
CHOICES_MAX = 64

# Sizing and identity: an optimiser that tuned these would be choosing risk or another strategy.
FIXED_PARAMETERS = frozenset(
    {"trade_size", "total_quantity", "strategy_path", "config_path", "config", "config_schema"}
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
