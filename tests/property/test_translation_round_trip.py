"""Property 10 and 12 at the service level: definition -> spec -> definition, every family."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.families import StrategyFamily
from quantdesk.services.translation import from_spec, nautilus_strategy_id, to_spec
from support.definition_strategies import FAMILIES, definitions

ALL = st.sampled_from([*FAMILIES, StrategyFamily.CUSTOM]).flatmap(definitions)
run_options = st.tuples(st.booleans(), st.none() | st.integers(0, 2**62))


# Property 10: definition -> Nautilus config -> definition is equal, every family, boundaries
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(ALL, run_options)
def test_definition_round_trips_through_its_spec(
    definition: StrategyDefinition, options: tuple[bool, int | None]
) -> None:
    spec = to_spec(definition, flat_at_stop=options[0], trade_until_ns=options[1])
    back = from_spec(spec)
    assert back == definition
    assert back.content_hash == definition.content_hash
    assert back.document() == definition.document()


# Property 10, per family: each of the eight gets its own >= 100 examples
@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_each_family_round_trips(data: st.DataObject) -> None:
    for family in FAMILIES:
        definition = data.draw(definitions(family))
        assert from_spec(to_spec(definition)) == definition


# Property 12: versions and audit data survive translation
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(ALL)
def test_bookkeeping_and_hash_are_recoverable_from_the_config(
    definition: StrategyDefinition,
) -> None:
    config = to_spec(definition).config
    record = json.loads(config["registry"])
    assert record["version"] == definition.version
    assert record["author"] == definition.author
    assert record["reason"] == definition.reason
    created = definition.created_at
    assert record["created_at"] == (None if created is None else created.isoformat())
    assert record["content_hash"] == definition.content_hash
    assert f"{config['strategy_id']}-{config['order_id_tag']}" == nautilus_strategy_id(definition)
    assert definition.content_hash.startswith(config["order_id_tag"])
