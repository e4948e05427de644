"""Execution's slicing arithmetic, without an engine: slice count, rounding, limit prices and
the TWAP/VWAP plan."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.strategies.execution import (
    Execution,
    ExecutionConfig,
    SlicePlan,
    floor_to,
    limit_price,
    slice_count,
)


def test_slices_fall_strictly_inside_the_horizon() -> None:
    assert slice_count(120, 300) == 24
    assert slice_count(1, 60) == 1
    assert slice_count(1, 45) == 2  # at 0 s and 45 s
    assert slice_count(60, 3600) == 1


def test_limit_prices_are_passive_and_on_the_tick() -> None:
    tick = Decimal("0.01")
    assert limit_price(Decimal("100.00"), True, Decimal(5), tick) == Decimal("99.95")
    assert limit_price(Decimal("100.00"), False, Decimal(5), tick) == Decimal("100.05")
    assert limit_price(Decimal("92.51"), True, Decimal(5), tick) == Decimal("92.46")  # 92.4637
    assert limit_price(Decimal("92.51"), False, Decimal(5), tick) == Decimal("92.56")  # 92.5562
    assert limit_price(Decimal("92.51"), True, Decimal(0), tick) == Decimal("92.51")


def test_twap_plan_is_even_and_the_last_slice_completes() -> None:
    plan = SlicePlan("twap", Decimal(1000), 6, Decimal(1))
    planned = [plan.advance(k, Decimal(0)) for k in range(6)]
    assert planned == [Decimal(q) for q in (166, 333, 500, 666, 833, 1000)]


def test_vwap_plan_follows_the_volume_seen() -> None:
    plan = SlicePlan("vwap", Decimal(100), 3, Decimal(1))
    assert plan.advance(0, Decimal(10)) == Decimal(33)  # 10 / (10 + 2 * 10) of 100
    # 67 left; the mean is now 20: 30 / (30 + 1 * 20) of 67 = 40.2
    assert plan.advance(1, Decimal(30)) == Decimal(73)
    assert plan.advance(2, Decimal(1)) == Decimal(100)


# Property (execution family): whatever the volumes, a TWAP or VWAP plan never goes back,
# plans whole size increments, and its last slice brings it to the total exactly.
@settings(max_examples=200, deadline=None)
@given(
    algorithm=st.sampled_from(["twap", "vwap"]),
    total_units=st.integers(1, 100_000),
    increment=st.sampled_from([Decimal(1), Decimal("0.01"), Decimal(100)]),
    volumes=st.lists(st.integers(0, 10**7), min_size=1, max_size=40),
)
def test_plans_are_monotone_whole_increments_ending_at_the_total(
    algorithm: str, total_units: int, increment: Decimal, volumes: list[int]
) -> None:
    total = increment * total_units
    plan = SlicePlan(algorithm, total, len(volumes), increment)
    previous = Decimal(0)
    for k, volume in enumerate(volumes):
        planned = plan.advance(k, Decimal(volume))
        assert previous <= planned <= total
        assert planned % increment == 0
        previous = planned
    assert previous == total


def test_floor_to_rounds_down_to_the_increment() -> None:
    assert floor_to(Decimal("12.349"), Decimal("0.01")) == Decimal("12.34")
    assert floor_to(Decimal(199), Decimal(100)) == Decimal(100)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"algorithm": "pov"}, "participation_rate"),  # pov needs a rate
        ({"participation_rate": 0.1}, "participation_rate"),  # and only pov takes one
        ({"algorithm": "iceberg"}, "algorithm"),
        ({"side": "short"}, "side"),
        ({"limit_offset_bps": -1.0}, "limit_offset_bps"),
        ({"horizon_minutes": 0}, "horizon_minutes"),
    ],
)
def test_bad_parameters_are_named(overrides: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"algorithm": "twap", "side": "buy", **overrides}
    with pytest.raises(ParameterValueError) as error:
        Execution(
            ExecutionConfig(
                instrument_ids=["SYN01.SIM"],
                total_quantity=Decimal(100),
                **values,  # type: ignore[arg-type]
            )
        )
    assert error.value.parameter == field


def test_vwap_slices_sharing_a_bar_forecast_per_slice_time() -> None:
    # 30-second slices on minute bars: slice times 0, 1 share the first bar, 2, 3 the next
    plan = SlicePlan("vwap", Decimal(1000), 4, Decimal(1))
    assert plan.advance(1, Decimal(100)) == Decimal(500)  # 100 / (100 + 2 * 50) of 1000
    assert plan.advance(3, Decimal(100)) == Decimal(1000)
