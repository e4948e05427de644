"""Turning what a user types into a backtest request."""

import pytest

from quantdesk.cli.backtest_refs import params_of as _params
from quantdesk.cli.timestamps import parse_utc
from quantdesk.domain.errors import InvalidInputError


def test_params_are_json_values_or_text() -> None:
    assert _params(["fast=10", "ratio=0.5", "long_only=true", "name=abc", "empty="]) == {
        "fast": 10,
        "ratio": 0.5,
        "long_only": True,
        "name": "abc",
        "empty": "",
    }
    with pytest.raises(InvalidInputError, match="NAME=VALUE"):
        _params(["fast"])


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-01-01", 1_704_067_200_000_000_000),
        ("2024-01-01T00:01Z", 1_704_067_260_000_000_000),
        ("2024-01-01T02:01:00.000001+02:00", 1_704_067_260_000_001_000),
    ],
)
def test_times_are_utc_nanoseconds(text: str, ns: int) -> None:
    assert parse_utc(text, "--start") == ns


@pytest.mark.parametrize("text", ["2024-01-01T09:30", "yesterday"])
def test_times_need_a_zone_and_a_format(text: str) -> None:
    with pytest.raises(InvalidInputError, match="--start"):
        parse_utc(text, "--start")


@pytest.mark.parametrize(
    "text", ["1969-12-31T23:59:59Z", "2262-04-11", "9999-12-31T00:00Z", "0001-01-01T00:00Z"]
)
def test_times_outside_the_engine_range_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="outside the valid time range"):
        parse_utc(text, "--start")


def test_the_last_day_of_the_range_is_accepted() -> None:
    assert parse_utc("2262-04-10", "--end") == 9_223_200_000_000_000_000
