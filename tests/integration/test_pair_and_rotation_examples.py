"""Property 11 from the shipped example definitions: the rotation and the pair, translated as
the registry would, backtest on the synthetic market, trade, keep their own risk constraints,
and the pair consumes the CORRELATION_SHIFT signals it subscribes to."""

import json
from pathlib import Path

import pytest
import yaml

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.services.platform import Platform
from quantdesk.services.signal_producers import ProduceRequest
from quantdesk.services.synthetic import SyntheticMarketConfig
from quantdesk.services.translation import nautilus_strategy_id, to_spec
from support.family_markets import joined_closes, positions
from support.strategy_runs import run_specs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "strategies"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("examples")
    home = base / "home"
    desk = bootstrap(home=home)
    desk.synthetic.synthesize(SyntheticMarketConfig(instruments=3, days=3, seed=4))
    produced = desk.producers.produce(
        "correlation", ProduceRequest(instrument_id="SYN01.SIM", other_instrument_id="SYN02.SIM")
    )
    signals = base / "shifts.jsonl"
    signals.write_text("\n".join(s.canonical_json() for s in produced) + "\n")
    desk.signals.ingest_file(signals)
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def example(name: str) -> StrategyDefinition:
    data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return StrategyDefinition.model_validate({**data, "version": 1})


@pytest.mark.parametrize("name", ["momentum_rotation", "statistical_arbitrage"])
def test_the_example_trades_within_its_constraints(desk: Platform, name: str) -> None:
    definition = example(name)
    strategy = nautilus_strategy_id(definition)
    instruments = list(definition.instruments)
    subscribed = [s.value for s in definition.signal_subscriptions]
    result = run_specs(
        desk,
        [to_spec(definition)],
        instruments=instruments,
        risk={"constraints": {strategy: json.loads(definition.risk.model_dump_json())}},
        signals=subscribed or "none",
    )
    artifacts = desk.backtests.artifacts(result.run_id)
    assert result.facts.fills > 0
    assert {f.strategy_id for f in artifacts.fills} == {strategy}
    held = positions(artifacts.fills, instruments, joined_closes(artifacts, instruments).index)
    limit = definition.risk.max_position
    assert limit is not None
    assert (held.abs().to_numpy() <= float(limit)).all()
    if definition.risk.long_only:
        assert (held.to_numpy() >= 0).all()
    if subscribed:
        assert result.provenance is not None
        assert result.provenance.signals_consumed > 0


@pytest.mark.parametrize("name", ["momentum_rotation", "statistical_arbitrage"])
def test_no_orders_from_trade_until_and_flat_at_stop(desk: Platform, name: str) -> None:
    definition = example(name)
    instruments = list(definition.instruments)
    plain = run_specs(desk, [to_spec(definition)], instruments=instruments)
    fills = desk.backtests.artifacts(plain.run_id).fills
    until = fills[len(fills) // 2].ts_ns + 1
    spec = to_spec(definition, flat_at_stop=True, trade_until_ns=until)
    result = run_specs(desk, [spec], instruments=instruments)
    artifacts = desk.backtests.artifacts(result.run_id)
    last = int(joined_closes(artifacts, instruments).index[-1])
    late = [f for f in artifacts.fills if f.ts_ns >= until]
    assert all(f.ts_ns == last for f in late)  # only the flattening at stop
    assert [f for f in artifacts.fills if f.ts_ns < until] == [f for f in fills if f.ts_ns < until]
    end = positions(artifacts.fills, instruments, joined_closes(artifacts, instruments).index)
    assert (end.iloc[-1] == 0).all()
