"""The warm runner is the node runner, bit for bit, over a sequence of different plans.

One ``WarmBacktestRunner`` runs a sequence of plans (families, parameters, ranges, seeds of
a slipping fill model, chunk sizes, next-open fills, risk limits that deny and halt), then the
same plans again in another order, so most runs replay a tape recorded by an earlier one and
follow runs that left different state behind. Each run's ``EngineRun`` must equal the node
runner's on the same plan in everything but wall time.
"""

from pathlib import Path
from typing import Any

import pytest

from quantdesk.adapters.nautilus.backtest import NautilusBacktestRunner
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.warm_runner import WarmBacktestRunner, cold_reason
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.services.platform import Platform
from quantdesk.services.ports import EngineRun
from quantdesk.services.synthetic import SyntheticMarketConfig
from support.trial_specs import candidate, pinned_request

DAY_NS = 86_400_000_000_000
START_NS = 1_704_067_200_000_000_000  # the synthetic market's first day


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Platform:
    home = tmp_path_factory.mktemp("warm") / "home"
    platform = bootstrap(home=home)
    platform.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=3))
    return platform


def plan(desk: Platform, family: str, params: dict[str, Any], **fields: Any) -> RunPlan:
    risk = fields.pop("strategy_risk", None)
    definition = candidate(family, risk=risk, **params)
    request = pinned_request(definition, **fields)
    service = desk.backtests
    return service.prepare_plan(service.plan(request, request.pinned))[0]


def slipping(seed: int) -> dict[str, Any]:
    return {"seed": seed, "venues": [{"name": "SIM", "fill_model": {"prob_slippage": 0.5}}]}


def plans(desk: Platform) -> list[RunPlan]:
    return [
        plan(desk, "trend_following", {"fast_period": 10, "slow_period": 50}),
        plan(desk, "trend_following", {"fast_period": 5, "slow_period": 30, "ma_type": "sma"}),
        plan(desk, "mean_reversion", {"lookback": 60, "entry_zscore": 2.0}),
        plan(desk, "mean_reversion", {"lookback": 30, "entry_zscore": 1.5}, **slipping(7)),
        plan(desk, "trend_following", {"fast_period": 10}, **slipping(8)),
        plan(desk, "trend_following", {"fast_period": 10}, **slipping(7)),
        plan(  # a later part of the range, in chunks of 500 bars
            desk,
            "trend_following",
            {"fast_period": 8},
            start_ns=START_NS + DAY_NS // 2,
            engine={"chunk_size": 500},
        ),
        plan(  # reduced to its limit, halted on a tiny drawdown, denied after
            desk,
            "trend_following",
            {"fast_period": 5, "slow_period": 20},
            risk={"limits": {"max_drawdown_pct": "0.00005"}, "on_breach": "HALTED"},
            strategy_risk={"max_position": "50"},
        ),
        plan(
            desk,
            "mean_reversion",
            {"lookback": 40},
            venues=[{"name": "SIM", "fill_at": "next_open"}],
        ),
        plan(desk, "trend_following", {"fast_period": 12}, engine={"chunk_size": None}),
    ]


def comparable(run: EngineRun) -> dict[str, Any]:
    return {
        "fills": list(run.fills),
        "positions": list(run.positions),
        "events_processed": run.events_processed,
        "orders": run.orders,
        "balances": run.balances,
        "risk_events": run.risk_events,
        "signal_uses": run.signal_uses,
        "signal_decisions": run.signal_decisions,
        "engine_rejections": run.engine_rejections,
        "orders_accepted": run.orders_accepted,
    }


def test_warm_runs_equal_node_runs_over_a_sequence(desk: Platform) -> None:
    catalog = ParquetCatalog(desk.home / "catalog")
    node = NautilusBacktestRunner(catalog)
    warm = WarmBacktestRunner(catalog)
    sequence = plans(desk)
    expected = [comparable(node.run(p)) for p in sequence]
    # the plans test what they are meant to: trades, denials, a halt, slippage draws
    assert all(e["fills"] for e in expected)
    kinds = {event.kind.value for e in expected for event in e["risk_events"]}
    assert {"deny", "halt"} <= kinds
    assert expected[4]["fills"] != expected[5]["fills"]  # the seed decides slippage
    order = [*range(len(sequence)), 5, 0, 9, 7, 3, 8, 1, 6, 4, 2]
    for index in order:
        assert comparable(warm.run(sequence[index])) == expected[index], index
    assert warm.cold_runs == 2  # the one-shot plan, twice
    assert warm.warm_runs >= 8  # the rest of the second pass replayed a tape


def test_cold_reasons(desk: Platform) -> None:
    assert cold_reason(plan(desk, "trend_following", {})) is None
    one_shot = plan(desk, "trend_following", {}, engine={"chunk_size": None})
    assert cold_reason(one_shot) is not None and "one shot" in str(cold_reason(one_shot))


def test_a_changed_catalog_is_read_again(desk: Platform, tmp_path: Path) -> None:
    """A tape is keyed by the catalog's files: bars written after it was recorded are read."""
    home = tmp_path / "home"
    other = bootstrap(home=home)
    other.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=1, seed=3))
    catalog = ParquetCatalog(home / "catalog")
    warm = WarmBacktestRunner(catalog)
    first = plan(other, "trend_following", {"fast_period": 5, "slow_period": 20})
    warm.run(first)
    other.synthetic.synthesize(SyntheticMarketConfig(instruments=1, days=2, seed=3))
    second = plan(other, "trend_following", {"fast_period": 5, "slow_period": 20})
    assert second.request.end_ns != first.request.end_ns
    node = NautilusBacktestRunner(catalog)
    assert comparable(warm.run(second)) == comparable(node.run(second))
    assert warm.warm_runs == 0


def test_a_stream_longer_than_the_tapes_may_hold_runs_untaped(desk: Platform) -> None:
    catalog = ParquetCatalog(desk.home / "catalog")
    warm = WarmBacktestRunner(catalog, tape_items_max=1_000)  # the run streams 2,880 bars
    chunked = plan(desk, "trend_following", {"fast_period": 7}, engine={"chunk_size": 500})
    expected = comparable(NautilusBacktestRunner(catalog).run(chunked))
    assert comparable(warm.run(chunked)) == expected
    assert comparable(warm.run(chunked)) == expected
    assert warm.warm_runs == 0 and warm.cold_runs == 0


def test_multi_instrument_families(tmp_path: Path) -> None:
    """Three instruments streamed together: the bars of one time keep the node's order."""
    home = tmp_path / "home"
    other = bootstrap(home=home)
    other.synthetic.synthesize(SyntheticMarketConfig(instruments=3, days=2, seed=5))
    catalog = ParquetCatalog(home / "catalog")
    node, warm = NautilusBacktestRunner(catalog), WarmBacktestRunner(catalog)
    service = other.backtests
    sequence = []
    for family in ("momentum_rotation", "statistical_arbitrage"):
        request = pinned_request(candidate(family, instruments=None))
        sequence.append(service.prepare_plan(service.plan(request, request.pinned))[0])
    expected = [comparable(node.run(p)) for p in sequence]
    assert all(e["fills"] for e in expected)
    for index in (0, 1, 0, 1):
        assert comparable(warm.run(sequence[index])) == expected[index]
    assert warm.warm_runs == 2
