"""A definition's ``market_data`` in the registry's properties: every family, random values."""

import hashlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.market_feeds import BOOK_FAMILIES, MarketData
from quantdesk.domain.strategies.canonical import canonical_json, canonical_value
from quantdesk.domain.strategies.definition import BOOKKEEPING_FIELDS, StrategyDefinition
from quantdesk.services.translation import from_spec, to_spec
from support.definition_strategies import FAMILIES, definitions


def feeds_for(definition: StrategyDefinition) -> list[MarketData]:
    """The tick kinds the engine can build ``definition``'s bars from."""
    spec = BarSpec.parse(definition.bar_spec)
    if spec.aggregation in ("VOLUME", "VALUE"):
        return []
    if spec.price_type == "LAST":
        return [MarketData.TRADES]
    kinds = [MarketData.QUOTES]
    if definition.family.value in BOOK_FAMILIES:
        kinds.append(MarketData.BOOK)
    return kinds


@st.composite
def on_ticks(draw: st.DrawFn) -> StrategyDefinition:
    definition = draw(st.sampled_from(FAMILIES).flatmap(definitions))
    kinds = feeds_for(definition)
    if not kinds:
        return definition
    data: dict[str, Any] = {**definition.model_dump(), "market_data": draw(st.sampled_from(kinds))}
    return StrategyDefinition.model_validate(data)


# Property 10: definition -> Nautilus config -> definition is exact with market_data too
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(on_ticks())
def test_a_definition_on_ticks_round_trips_through_its_spec(
    definition: StrategyDefinition,
) -> None:
    spec = to_spec(definition)
    assert spec.config.get("market_data", "bars") == definition.market_data.value
    back = from_spec(spec)
    assert back == definition and back.content_hash == definition.content_hash


# Property 16: performance attributed to the exact definition: a definition on bars keeps the
# hash it had before market_data existed (its recipe without the field), one on ticks differs
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(FAMILIES).flatmap(definitions))
def test_adding_market_data_left_every_hash_on_bars_as_it_was(
    definition: StrategyDefinition,
) -> None:
    before = definition.model_dump(mode="python", exclude={*BOOKKEEPING_FIELDS, "market_data"})
    old_hash = hashlib.sha256(canonical_json(canonical_value(before)).encode()).hexdigest()
    assert definition.content_hash == old_hash
    for kind in feeds_for(definition):
        moved = StrategyDefinition.model_validate({**definition.model_dump(), "market_data": kind})
        assert moved.content_hash != old_hash
