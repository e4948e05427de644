"""Sentiment reaction's rule for one score, and its config checks (the registry's names)."""

from decimal import Decimal

import pytest

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.strategies.families import SentimentReactionParameters
from quantdesk.strategies.sentiment_reaction import (
    SentimentReaction,
    SentimentReactionConfig,
    sentiment_target,
)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.5, 1),
        (0.9, 1),
        (-0.5, -1),
        (-1.0, -1),
        (0.49, None),
        (-0.2, None),
        (0.1, 0),
        (-0.1, 0),
        (0.0, 0),
    ],
)
def test_entry_and_exit_thresholds_are_inclusive(score: float, expected: int | None) -> None:
    assert sentiment_target(score, 0.5, 0.1) == expected


def test_the_config_has_the_models_fields_and_defaults() -> None:
    config = SentimentReactionConfig(instrument_ids=["SYN01.SIM"], trade_size=Decimal(5))
    model = SentimentReactionParameters(trade_size=Decimal(5))
    assert {
        name: getattr(config, name) for name in SentimentReactionParameters.model_fields
    } == model.model_dump()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("exit_threshold", 0.5),
        ("entry_threshold", 0.0),
        ("min_confidence", 1.5),
        ("max_holding_bars", 0),
    ],
)
def test_bad_parameters_are_named(field: str, value: object) -> None:
    with pytest.raises(ParameterValueError) as error:
        SentimentReaction(
            SentimentReactionConfig(
                instrument_ids=["SYN01.SIM"],
                trade_size=Decimal(5),
                **{field: value},  # type: ignore[arg-type]
            )
        )
    assert error.value.parameter == field
