"""The rotation's decision rule and its refusals, without an engine."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.strategies.cross_section import CrossSections, Window
from quantdesk.strategies.momentum_rotation import (
    MomentumRotation,
    MomentumRotationConfig,
    rotation_targets,
)

NAMES = [f"I{k:02d}.SIM" for k in range(8)]
returns_maps = st.dictionaries(
    st.sampled_from(NAMES), st.sampled_from([-0.02, -0.01, 0.0, 0.01, 0.02]), min_size=2
)


# Property 11: the rotation holds the top_n by return (ties by id), shorts the bottom_n
@settings(max_examples=200)
@given(returns_maps, st.integers(1, 4), st.booleans())
def test_targets_hold_the_leaders_and_short_the_laggards(
    returns: dict[str, float], top_n: int, long_only: bool
) -> None:
    top_n = min(top_n, len(returns) // 2)
    if top_n == 0:
        return
    targets = rotation_targets(returns, top_n, long_only)
    longs = [i for i, t in targets.items() if t > 0]
    shorts = [i for i, t in targets.items() if t < 0]
    assert len(longs) == top_n
    assert len(shorts) == (0 if long_only else top_n)
    for leader in longs:
        for other in set(returns) - set(longs):
            assert (returns[leader], other) > (returns[other], leader)
    for laggard in shorts:
        for other in set(returns) - set(shorts):
            assert (returns[laggard], other) < (returns[other], laggard)
    # the order the returns are given in changes nothing
    assert rotation_targets(dict(reversed(returns.items())), top_n, long_only) == targets


def test_ties_go_to_the_smaller_instrument_id() -> None:
    returns = {"B.SIM": 0.01, "A.SIM": 0.01, "C.SIM": 0.01, "D.SIM": 0.01}
    assert rotation_targets(returns, 1, False) == {
        "A.SIM": 1,
        "B.SIM": 0,
        "C.SIM": 0,
        "D.SIM": -1,
    }


def config(**overrides: object) -> MomentumRotationConfig:
    values: dict[str, object] = {
        "instrument_ids": ["A.SIM", "B.SIM", "C.SIM"],
        "trade_size": 100,
        "lookback": 20,
        **overrides,
    }
    return MomentumRotationConfig(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"top_n": 3}, "top_n"),
        ({"top_n": 2, "long_only": False}, "top_n"),
        ({"lookback": 5}, "lookback"),
        ({"rebalance_every": 0}, "rebalance_every"),
        ({"trade_size": 0}, "trade_size"),
        ({"instrument_ids": []}, "instrument_ids"),
    ],
)
def test_a_config_the_model_refuses_is_refused_naming_the_field(
    overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(ParameterValueError) as refused:
        MomentumRotation(config(**overrides))
    assert refused.value.parameter == field


def test_a_cross_section_is_released_once_complete_and_a_gap_skips_it() -> None:
    sections = CrossSections(["A", "B"])
    assert sections.add("A", 1, 10.0) is None
    assert sections.add("B", 1, 20.0) == {"A": 10.0, "B": 20.0}
    assert sections.add("B", 1, 21.0) is None  # a second bar of a released timestamp
    assert sections.add("A", 2, 11.0) is None  # B has no bar at 2: never complete
    assert sections.add("B", 3, 22.0) is None
    assert sections.add("A", 3, 12.0) == {"B": 22.0, "A": 12.0}
    assert (sections.complete, sections.skipped) == (2, 1)
    assert sections.add("A", 2, 13.0) is None  # older than the one collected


def test_a_window_keeps_the_last_values_in_order() -> None:
    window = Window(3)
    for value in range(10):
        window.append(float(value))
        assert window.values().tolist() == [float(v) for v in range(max(0, value - 2), value + 1)]
    assert window.full
