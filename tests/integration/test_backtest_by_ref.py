"""Backtests by registry reference (issue 13, item 3): the request names versions, each
strategy's data needs come from its definition, results name every strategy as id@version.

The strategies are ``custom`` definitions of the EMA cross class, so what is tested here is
the path reference -> pinned version -> plan -> engine -> attribution, not a family's logic.
"""

from pathlib import Path
from typing import Any

import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import SyntheticMarketConfig

EMA = "quantdesk.strategies.ema_cross"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three instruments, two days of 1-minute bars and their 5-minute aggregates."""
    home = tmp_path_factory.mktemp("by-ref") / "home"
    bootstrap(home=home).synthetic.synthesize(
        SyntheticMarketConfig(
            instruments=3, days=2, seed=5, bar_specs=(BarSpec.parse("5-MINUTE-LAST"),)
        )
    )
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def ema(
    strategy_id: str,
    instrument: str,
    bar_spec: str = "1-MINUTE-LAST",
    risk: dict[str, Any] | None = None,
    **params: Any,
) -> StrategyDefinition:
    config = {
        "instrument_id": instrument,
        "bar_type": f"{instrument}-{bar_spec}-EXTERNAL",
        "fast": 5,
        "slow": 20,
        "trade_size": "10",
        **params,
    }
    return parse_definition(
        {
            "strategy_id": strategy_id,
            "family": "custom",
            "name": strategy_id,
            "instruments": [instrument],
            "bar_spec": bar_spec,
            "risk": risk or {},
            "parameters": {
                "strategy_path": f"{EMA}:EmaCross",
                "config_path": f"{EMA}:EmaCrossConfig",
                "config": config,
            },
        }
    )


def register(desk: Platform, definition: StrategyDefinition) -> str:
    return desk.registry.register(definition, "tester").stored.ref


def run(desk: Platform, *refs: str, **fields: Any) -> Any:
    return desk.backtests.run(
        BacktestRequest(strategies=list(refs), engine={"log_level": "OFF"}, **fields)
    )


def test_fills_are_attributed_to_versions_and_sum_to_the_portfolio(desk: Platform) -> None:
    """Property 16: every fill belongs to one id@version; per-version PnL sums to the run's."""
    first = register(desk, ema("cross-a", "SYN01.SIM"))
    second = register(desk, ema("cross-a", "SYN01.SIM", fast=8, slow=30))
    other = register(desk, ema("cross-b", "SYN02.SIM"))
    assert (first, second, other) == ("cross-a@1", "cross-a@2", "cross-b@1")

    result = run(desk, "cross-a@1", "cross-a", "cross-b")

    assert result.request.strategies == ["cross-a@1", "cross-a@2", "cross-b@1"]  # pinned
    assert [d.version for d in result.request.pinned] == [1, 2, 1]
    names = {s.nautilus_id: s.ref for s in result.strategies}
    assert len(names) == 3
    stored = {v.ref: v.content_hash for v in desk.registry.history("cross-a")}
    assert {s.ref: s.content_hash for s in result.strategies[:2]} == stored
    fills = desk.backtests.artifacts(result.run_id).fills
    assert fills and {f.strategy_id for f in fills} <= set(names)
    by_version = {result.strategy_name(a.strategy_id): a for a in result.attribution}
    assert set(by_version) == {"cross-a@1", "cross-a@2", "cross-b@1"}
    for ref, attribution in by_version.items():
        own = [f for f in fills if names[f.strategy_id] == ref]
        assert attribution.metrics.trade_count >= 1 and own
    with pytest.raises(InvalidInputError, match="runs in several versions"):
        run(desk, "cross-a@1", "cross-a@2", risk={"constraints": {"cross-a": {"max_position": 5}}})
    total = sum(a.metrics.pnl for a in result.attribution)
    assert total == pytest.approx(result.metrics.pnl, rel=1e-9, abs=1e-6)
    assert sum(a.metrics.fees for a in result.attribution) == pytest.approx(result.metrics.fees)


def test_strategies_on_different_bar_specs_share_one_run(desk: Platform) -> None:
    """A 5-minute strategy beside a 1-minute one: both bar types streamed, marks the finest."""
    register(desk, ema("slow-5m", "SYN01.SIM", "5-MINUTE-LAST"))
    register(desk, ema("fast-1m", "SYN01.SIM", "1-MINUTE-LAST", fast=4, slow=15))
    register(desk, ema("other-5m", "SYN03.SIM", "5-MINUTE-LAST"))

    result = run(desk, "slow-5m", "fast-1m", "other-5m")

    assert sorted(d.bar_type for d in result.data) == [
        "SYN01.SIM-1-MINUTE-LAST-EXTERNAL",
        "SYN01.SIM-5-MINUTE-LAST-EXTERNAL",
        "SYN03.SIM-5-MINUTE-LAST-EXTERNAL",
    ]
    assert result.instruments == ["SYN01.SIM", "SYN03.SIM"]
    assert result.facts.bars == 2 * 1440 + 2 * (2 * 288)  # two days: 1-minute + two 5-minute
    prices = desk.backtests.artifacts(result.run_id).prices
    assert len(prices["SYN01.SIM"][0]) == 2 * 1440  # marked by its finest bars
    assert len(prices["SYN03.SIM"][0]) == 2 * 288  # only 5-minute bars there
    traded = {result.strategy_name(a.strategy_id) for a in result.attribution}
    assert traded == {"slow-5m@1", "fast-1m@1", "other-5m@1"}


def test_the_same_version_twice_is_refused(desk: Platform) -> None:
    register(desk, ema("twice-a", "SYN01.SIM"))
    with pytest.raises(InvalidInputError, match=r"are both twice-a@1"):
        run(desk, "twice-a", "twice-a@1")


def test_unknown_references_are_named(desk: Platform) -> None:
    register(desk, ema("known-a", "SYN01.SIM"))
    with pytest.raises(NotFoundError, match="nothing"):
        run(desk, "known-a", "nothing")
    with pytest.raises(NotFoundError, match=r"known-a@7"):
        run(desk, "known-a@7")


def test_a_definitions_risk_binds_and_a_request_may_not_override_it(desk: Platform) -> None:
    capped = register(desk, ema("capped-b", "SYN02.SIM", risk={"max_position": "5"}))
    result = run(desk, capped)
    assert result.risk_counts.get("max_position", 0) > 0  # 10 a trade, 5 allowed
    assert {e.strategy_id for e in result.risk_events} == {result.strategies[0].nautilus_id}
    with pytest.raises(InvalidInputError, match="sets its own"):
        run(desk, capped, risk={"constraints": {"capped-b": {"max_position": "50"}}})
    free = register(desk, ema("free-b", "SYN02.SIM"))
    limited = run(desk, free, risk={"constraints": {"free-b": {"max_position": "5"}}})
    assert limited.request.risk.constraints.keys() == {"free-b@1"}  # re-keyed by version
    assert limited.risk_counts.get("max_position", 0) > 0


def test_run_options_reach_every_strategy(desk: Platform) -> None:
    register(desk, ema("flat-a", "SYN01.SIM"))
    register(desk, ema("flat-b", "SYN02.SIM"))
    result = run(desk, "flat-a", "flat-b", flat_at_end=True)
    artifacts = desk.backtests.artifacts(result.run_id)
    assert artifacts.fills and not artifacts.curve.in_market[-1]


def test_same_references_same_fingerprint_and_fills(desk: Platform) -> None:
    register(desk, ema("again-c", "SYN03.SIM"))
    a, b = run(desk, "again-c"), run(desk, "again-c@1")
    assert a.fingerprint == b.fingerprint
    assert desk.backtests.same_fills(a.run_id, b.run_id)


def test_a_strategy_id_without_a_hyphen_runs(desk: Platform) -> None:
    register(desk, ema("solo", "SYN01.SIM"))
    assert run(desk, "solo").strategies[0].ref == "solo@1"
