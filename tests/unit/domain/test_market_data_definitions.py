"""A definition's ``market_data``: old definitions hash as before, the rules hold, and the
translation to the engine's config and back is exact."""

import pytest
from pydantic import ValidationError

from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import MarketData, feed_bar_type
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.translation import from_spec, to_spec
from support.registry import trend

TREND_HASH = "84a8bc715bab61550a224cfc16beadedb5dec4aaecdc88edb5072c9436ebc900"
"""``support.registry.trend()``'s content hash before ``market_data`` existed."""


def test_a_definition_on_bars_hashes_as_before_market_data_existed() -> None:
    definition = trend()
    assert definition.market_data is MarketData.BARS
    assert "market_data" not in definition.content()
    assert definition.content_hash == TREND_HASH
    explicit = StrategyDefinition.model_validate({**definition.document(), "market_data": "bars"})
    assert explicit.content_hash == TREND_HASH


def test_trades_is_part_of_what_a_definition_is() -> None:
    on_trades = trend().model_validate({**trend().document(), "market_data": "trades"})
    assert on_trades.content()["market_data"] == "trades"
    assert on_trades.content_hash != TREND_HASH


def test_translation_round_trips_and_leaves_bars_specs_as_they_were() -> None:
    bars = trend().model_copy(update={"version": 1})
    assert "market_data" not in to_spec(bars).config
    on_trades = StrategyDefinition.model_validate(
        {**bars.document(), "market_data": "trades", "version": 1}
    )
    spec = to_spec(on_trades)
    assert spec.config["market_data"] == "trades"
    back = from_spec(spec)
    assert back == on_trades and back.content_hash == on_trades.content_hash


@pytest.mark.parametrize(
    ("market_data", "bar_spec", "family", "says"),
    [
        ("trades", "1-MINUTE-MID", "trend_following", "needs price type LAST"),
        ("quotes", "1-MINUTE-LAST", "trend_following", "BID or ASK or MID"),
        ("trades", "1000-VOLUME-LAST", "trend_following", "volume bars are not supported"),
        ("book", "1-MINUTE-MID", "trend_following", "execution family only"),
        ("ticks", "1-MINUTE-LAST", "trend_following", "market_data"),
    ],
)
def test_market_data_the_engine_cannot_build_bars_from_is_refused(
    market_data: str, bar_spec: str, family: str, says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        StrategyDefinition.model_validate(
            {**trend().document(), "market_data": market_data, "bar_spec": bar_spec}
        )


def test_bars_built_from_ticks_are_internal() -> None:
    spec = BarSpec.parse("1-MINUTE-LAST")
    assert feed_bar_type("SYN01.SIM", spec, "bars") == "SYN01.SIM-1-MINUTE-LAST-EXTERNAL"
    assert feed_bar_type("SYN01.SIM", spec, "trades") == "SYN01.SIM-1-MINUTE-LAST-INTERNAL"
