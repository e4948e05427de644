"""Default search spaces only propose what the family's own bounds allow.

Property: every point sampled from the default space of any example strategy is either a
valid parameter set of its family (the candidate definition validates, with exactly those
values) or reported infeasible (``InvalidInputError`` code ``infeasible``) for a cross-field
rule (fast below slow, exit below entry, ...), never for a single field out of its bounds.
"""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import ParameterRange, ParamValue, apply, default_space
from quantdesk.domain.strategies.definition import StrategyDefinition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"
DEFINITIONS = [
    StrategyDefinition.model_validate({**yaml.safe_load(p.read_text()), "version": 1})
    for p in sorted(EXAMPLES.glob("*.yaml"))
    if yaml.safe_load(p.read_text())["family"] != "custom"  # no default space: a space file
]


def values_of(parameter: ParameterRange) -> st.SearchStrategy[ParamValue]:
    if parameter.kind == "categorical":
        return st.sampled_from(parameter.choices)
    assert parameter.low is not None and parameter.high is not None
    if parameter.step is not None:
        grid = parameter.grid()
        return st.sampled_from(grid)
    if parameter.kind == "int":
        return st.integers(int(parameter.low), int(parameter.high))
    return st.floats(parameter.low, parameter.high, allow_nan=False)


@st.composite
def points(draw: st.DrawFn) -> tuple[StrategyDefinition, dict[str, ParamValue]]:
    definition = draw(st.sampled_from(DEFINITIONS))
    space = default_space(definition)
    return definition, {p.name: draw(values_of(p)) for p in space.parameters}


# Property: a default space's point is a valid parameter set or infeasible by a cross-field rule
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points())
def test_every_point_of_a_default_space_is_valid_or_reported_infeasible(
    point: tuple[StrategyDefinition, dict[str, ParamValue]],
) -> None:
    definition, params = point
    try:
        candidate = apply(definition, params)
    except InvalidInputError as error:
        assert error.code == "infeasible"
        assert error.data["field"] == "parameters", error.message  # not a single-field bound
        return
    values = candidate.parameters.model_dump()
    for name, value in params.items():
        assert values[name] == value
    assert candidate.strategy_id == definition.strategy_id
    assert candidate.family is definition.family
