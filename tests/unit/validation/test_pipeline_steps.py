"""The pipeline's step helpers without the engine: walk-forward efficiency, the overfitting
step's configurations and purge, the baselines' scale and holding times."""

from typing import Any

import numpy as np
import pytest

from quantdesk.domain.optimisation.space import apply
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.policy import OverfittingPolicy, ValidationPolicy
from quantdesk.services.performance import DAY_NS
from quantdesk.services.validation.baselines import holding_bars, leverage
from quantdesk.services.validation.context import ValidationContext, parameter_key
from quantdesk.services.validation.overfitting_step import configurations, purge_days
from quantdesk.services.validation.walk_forward import efficiency

HOUR_NS = 3_600_000_000_000


def context(**policy: Any) -> ValidationContext:
    definition = parse_definition(
        {
            "strategy_id": "t",
            "family": "trend_following",
            "name": "t",
            "instruments": ["SYN01.SIM"],
            "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "10"},
        }
    ).model_copy(update={"version": 1})
    return ValidationContext(
        definition=definition,
        ref="t@1",
        policy=ValidationPolicy(name="p", **policy),
        request=None,  # type: ignore[arg-type]  # these helpers never read it
        pool=None,  # type: ignore[arg-type]
        progress=None,  # type: ignore[arg-type]
    )


def test_efficiency_is_mean_oos_over_mean_is() -> None:
    assert efficiency([0.2, 0.4], [0.1, 0.05]) == pytest.approx(0.075 / 0.3)
    assert efficiency([-0.1, 0.05], [0.2, 0.2]) is None  # nothing in-sample to carry over
    assert efficiency([None, None], [0.1, 0.1]) is None
    # an out-of-sample window without a value counts as a total loss, never as a pass
    assert efficiency([0.2, 0.2], [0.2, None]) == pytest.approx((0.2 - 1.0) / 2 / 0.2)


def test_configurations_start_with_the_versions_own_and_are_distinct_and_feasible() -> None:
    ctx = context(seed=4)
    points = configurations(ctx, 12)
    assert points[0] == {} and len(points) == 12
    keys = {parameter_key(ctx.definition, p) for p in points}
    assert len(keys) == 12
    for point in points:
        apply(ctx.definition, point)  # raises for an infeasible point
    assert configurations(context(seed=4), 12) == points  # seeded
    assert configurations(context(seed=5), 12) != points


def test_the_purge_defaults_to_the_longest_holding_time_in_days() -> None:
    held = TrialOutcome(key="a", holding_ns=[DAY_NS // 2, 2 * DAY_NS + 1])
    assert purge_days(context(), [held]) == 3
    fixed = context(overfitting=OverfittingPolicy(purge_days=1))
    assert purge_days(fixed, [held]) == 1


def test_random_entries_take_the_candidates_scale_and_holding_bars() -> None:
    candidate = TrialOutcome(
        key="c",
        start_equity=1_000_000.0,
        positions_max={"SYN01.SIM": 10.0},
        holding_ns=[3 * HOUR_NS, HOUR_NS, 30 * 60 * 1_000_000_000],
    )
    assert leverage(candidate, "SYN01.SIM", 100.0) == pytest.approx(0.001)
    assert leverage(candidate, "OTHER.SIM", 100.0) == 0.0
    ts = np.arange(10, dtype=np.int64) * HOUR_NS
    assert holding_bars(candidate, ts) == [3, 1, 1]  # at least one bar
