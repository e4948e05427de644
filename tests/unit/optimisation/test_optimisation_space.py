"""Search spaces: defaults derived from each family's bounds around the version's values,
space files checked line by line against those bounds, candidates checked by the family."""

from pathlib import Path

import pytest
import yaml

from quantdesk.adapters.sources.documents import BoundedDocumentReader
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.space import (
    FIXED_PARAMETERS,
    ParameterRange,
    SearchSpace,
    apply,
    default_space,
    tunable_bounds,
)
from quantdesk.domain.optimisation.space_file import load_space
from quantdesk.domain.strategies.definition import StrategyDefinition

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def example(family: str) -> StrategyDefinition:
    text = (EXAMPLES / "strategies" / f"{family}.yaml").read_text()
    return StrategyDefinition.model_validate(yaml.safe_load(text))


FAMILIES = sorted(
    p.stem
    for p in (EXAMPLES / "strategies").glob("*.yaml")
    if yaml.safe_load(p.read_text())["family"] != "custom"  # no default space: a space file
)


@pytest.mark.parametrize("family", FAMILIES)
def test_default_space_lies_within_the_family_bounds_around_the_version(family: str) -> None:
    definition = example(family)
    space = default_space(definition)
    bounds = tunable_bounds(family)
    values = definition.parameters.model_dump()
    assert space.family == family
    assert not set(space.names()) & FIXED_PARAMETERS
    for parameter in space.parameters:
        limit = bounds[parameter.name]
        if parameter.kind == "categorical":
            assert set(parameter.choices) <= set(limit.choices)
            assert values[parameter.name] in parameter.choices
            continue
        assert limit.low is not None and limit.high is not None
        assert parameter.low is not None and parameter.high is not None
        assert limit.low <= parameter.low <= parameter.high <= limit.high
        value = float(values[parameter.name])
        # a sub-range around the version's value, not the family's whole range
        assert parameter.low <= value * 1.0001 + 1e-9
        assert parameter.high >= value * 0.5 - 1e-9
        assert parameter.high - parameter.low <= max(2 * value, 1.0) * 1.5
        assert 2 <= len(parameter.grid()) <= 25


def test_trend_defaults_are_a_sub_range_never_the_whole_bound() -> None:
    space = {p.name: p for p in default_space(example("trend_following")).parameters}
    assert (space["fast_period"].low, space["fast_period"].high) == (5, 19)
    assert (space["slow_period"].low, space["slow_period"].high) == (25, 97)
    assert "trade_size" not in space


def test_a_mode_switch_that_is_always_infeasible_is_not_tuned() -> None:
    # statistical arbitrage: hedge_ratio 'fixed' needs fixed_hedge_ratio, which the version lacks
    names = default_space(example("statistical_arbitrage")).names()
    assert "hedge_ratio" not in names and "fixed_hedge_ratio" not in names
    # execution: side is direction, not a parameter; pov needs a participation rate
    execution = {p.name: p for p in default_space(example("execution")).parameters}
    assert "side" not in execution and "total_quantity" not in execution
    assert execution["algorithm"].choices == ("twap", "vwap")


def test_apply_sets_the_parameters_and_refuses_an_infeasible_point() -> None:
    definition = example("trend_following")
    candidate = apply(definition, {"fast_period": 12, "ma_type": "sma"})
    assert candidate.parameters.model_dump()["fast_period"] == 12
    assert candidate.version == definition.version
    assert candidate.content_hash != definition.content_hash
    with pytest.raises(InvalidInputError) as refused:
        apply(definition, {"fast_period": 60, "slow_period": 50})
    assert refused.value.code == "infeasible"
    assert "slow_period" in refused.value.message


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def read(tmp_path: Path, text: str, family: str = "trend_following") -> object:
    document = BoundedDocumentReader().read_file(write(tmp_path, text))
    return load_space(document.data, example(family), name=document.name, line_of=document.line_of)


def test_a_space_file_replaces_the_defaults_and_carries_custom_weights(tmp_path: Path) -> None:
    loaded = read(
        tmp_path,
        "family: trend_following\n"
        "parameters:\n"
        "  fast_period: {low: 3, high: 20, step: 1}\n"
        "  ma_type: {choices: [ema, sma]}\n"
        "objective:\n"
        "  weights: {sharpe: 1.0, max_drawdown: -2}\n",
    )
    assert loaded.space.names() == ["fast_period", "ma_type"]  # type: ignore[attr-defined]
    assert loaded.weights == {"sharpe": 1.0, "max_drawdown": -2.0}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "parameters:\n  fast_period: {low: 3, high: 20}\n  slow_period: {low: 1, high: 9}\n",
            3,
            "below the family's bound 3",
        ),
        (
            "parameters:\n  fast_period: {low: 3, high: 20}\n  trade_size: {low: 1, high: 2}\n",
            3,
            "not a tunable parameter",
        ),
        ("parameters:\n  ma_type:\n    choices: [ema, spline]\n", 3, "'spline' is not allowed"),
        ("parameters:\n  fast_period: {low: 30, high: 20}\n", 2, "above high"),
        ("parameters:\n  fast_period: {low: 3, hgh: 20}\n", 2, "unknown key"),
        (
            "family: mean_reversion\nparameters:\n  fast_period: {low: 3, high: 20}\n",
            1,
            "the space is for 'mean_reversion'",
        ),
        (
            "parameters:\n  fast_period: {low: 3, high: 20}\nobjective:\n  weights: {sharp: 1}\n",
            4,
            None,
        ),
    ],
)
def test_space_file_errors_name_the_line_and_field(
    tmp_path: Path, text: str, line: int, words: str | None
) -> None:
    try:
        loaded = read(tmp_path, text)
    except InvalidInputError as error:
        assert error.code == "invalid_space"
        assert f"line {line}:" in error.message
        assert words is not None and words in error.message
        assert error.data["line"] == line
        return
    # unknown metric names are the objective's to refuse (Objective validates weights)
    assert words is None
    assert loaded.weights == {"sharp": 1.0}  # type: ignore[attr-defined]


def test_a_float_grid_needs_a_step_and_a_space_names_a_parameter_once() -> None:
    with pytest.raises(ValueError, match="needs a step"):
        ParameterRange(name="x", kind="float", low=0.5, high=1.0).grid()
    with pytest.raises(ValueError, match="listed twice"):
        SearchSpace(
            family="trend_following",
            parameters=(
                ParameterRange(name="fast_period", kind="int", low=2, high=5),
                ParameterRange(name="fast_period", kind="int", low=2, high=6),
            ),
        )
    assert ParameterRange(name="x", kind="float", low=0.5, high=1.0, step=0.25).grid() == [
        0.5,
        0.75,
        1.0,
    ]
