"""Every request field ``backtest run`` fills from a flag is named back by that flag, and a
file's errors by line, field and value."""

from typing import Any

import pytest
import typer.main

from quantdesk.bootstrap import bootstrap
from quantdesk.cli.app import create_cli
from quantdesk.cli.request_errors import (
    ERRORS_SHOWN,
    flag_of,
    parameter_flag_error,
    request_from_data,
    shorthand_error,
)
from quantdesk.domain.backtest_checks import StrategyParameterError
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.risk import RiskLimits
from quantdesk.domain.strategies.problems import InvalidDefinitionError
from quantdesk.services.shorthand import SHORTHANDS, shorthand_definitions

FILLED_FROM_FLAGS: list[tuple[Any, ...]] = [
    ("strategies", 0),
    ("start_ns",),
    ("end_ns",),
    ("seed",),
    ("label",),
    ("signals",),
    ("engine", "log_level"),
    ("risk", "on_breach"),
    *[
        ("venues", 0, field)
        for field in (
            "starting_balance",
            "default_leverage",
            "maker_fee",
            "taker_fee",
            "bar_spread",
            "base_currency",
            "oms_type",
            "account_type",
            "liquidity",
        )
    ],
]
RISK_FLAGS = [
    "max_position",
    "max_order_quantity",
    "max_order_notional",
    "max_gross_exposure",
    "max_leverage",
    "max_drawdown_pct",
    "max_daily_loss",
]


def backtest_run_options() -> set[str]:
    group = typer.main.get_command(create_cli(lambda home: bootstrap(home=home)))
    run = group.commands["backtest"].commands["run"]  # type: ignore[attr-defined]
    return {opt for param in run.params for opt in param.opts}


@pytest.mark.parametrize(
    "location", [*FILLED_FROM_FLAGS, *[("risk", "limits", name) for name in RISK_FLAGS]]
)
def test_each_field_a_flag_fills_is_named_by_an_existing_flag(location: tuple[Any, ...]) -> None:
    flag = flag_of(location)
    assert flag is not None and flag in backtest_run_options()


def test_the_risk_flags_are_limits_of_the_model() -> None:
    assert set(RISK_FLAGS) <= set(RiskLimits.model_fields)


def test_a_shorthand_parameter_is_named_as_the_param_that_set_it() -> None:
    """The runner names the family's parameter; the user typed the shorthand's name."""
    refused = StrategyParameterError(0, "trend", "fast_period", 60, "must be below slow_period")
    named = parameter_flag_error(refused, SHORTHANDS["ema_cross"].parameter_name)
    assert named.message == "--param fast=60: must be below slow_period"
    assert flag_of(("flat_at_end",)) == "--param flat_at_stop"


def test_a_shorthand_definition_refused_names_the_params() -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        shorthand_definitions(
            "sentiment_reaction", ["SYN01.SIM"], "1-MINUTE-LAST", {"entry_threshold": 5}
        )
    message = shorthand_error(caught.value).message
    assert message.startswith("--param entry_threshold: ") and "less than or equal to 1" in message


def test_a_file_names_line_field_and_value_of_every_problem() -> None:
    data = {"strategies": [], "seed": -1, "label": 5, "x": 1, "y": 2}
    with pytest.raises(InvalidInputError) as caught:
        request_from_data(data, lambda loc: f"f.yaml line {len(loc)}")
    message = caught.value.message
    assert message.startswith("5 problems:")
    assert "f.yaml line 1: seed -1: Input should be greater than or equal to 0" in message
    assert "f.yaml line 1: label 5: Input should be a valid string" in message
    assert "f.yaml line 1: strategies: List should have at least 1 item" in message


def test_only_the_first_few_problems_are_listed() -> None:
    data = {"strategies": [], **{f"k{n}": n for n in range(10)}}
    with pytest.raises(InvalidInputError) as caught:
        request_from_data(data, lambda loc: "f")
    assert f"... and {11 - ERRORS_SHOWN} more" in caught.value.message


def test_a_request_file_takes_per_class_limits_and_names_an_unknown_class() -> None:
    limits = {"asset_classes": {"future": {"max_gross_exposure": 600000}}}
    request = request_from_data(
        {"strategies": ["trend-syn01"], "risk": {"limits": limits}}, lambda loc: "f"
    )
    assert request.risk.limits.asset_classes  # type: ignore[union-attr]
    bonds = {"asset_classes": {"bonds": {"max_gross_exposure": 1}}}
    with pytest.raises(InvalidInputError) as caught:
        request_from_data(
            {"strategies": ["trend-syn01"], "risk": {"limits": bonds}},
            lambda loc: f"f.yaml line {len(loc)}",
        )
    assert "risk.limits.asset_classes.bonds" in caught.value.message
    assert "future" in caught.value.message  # the classes it takes are listed
