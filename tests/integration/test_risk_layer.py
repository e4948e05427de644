"""The risk layer inside real backtests: limits, drawdown controls, kill switch, ledger.

Property 34 (no order bypasses the gate), 35 (positions consistent between engine and risk
layer), 36 (limits, drawdown controls and kill switch work).
"""

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.risk_guard import PortfolioRiskGuard
from quantdesk.adapters.nautilus.warm_runner import WarmBacktestRunner
from quantdesk.bootstrap import Overrides, bootstrap
from quantdesk.domain.backtest import FillRecord, StrategySpec
from quantdesk.domain.risk import RiskEventKind
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from support.plugin_desk import check_each_plugin_set_once, plugin_settings
from support.strategy_runs import ema_specs, raw_plan, updated

MINUTE = 60_000_000_000


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("risk") / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=1, seed=9))
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(plugin_settings(market))


@pytest.fixture
def warm_desk(market: Path) -> Platform:
    """The desk on the optimiser's warm runner: every example runs on the same market, so
    from the second one on the engine is fed the data the first one read, the same objects
    in the same order (the node runner's results bit for bit, pinned by
    tests/contract/test_backtest_runner_contract.py), and the catalog is not read again."""
    settings = plugin_settings(market)
    runner = WarmBacktestRunner(ParquetCatalog(settings.catalog_dir))
    return bootstrap(settings, overrides=Overrides(runner=runner))


@pytest.fixture
def vetted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plug-in check once per plug-in set, not per example: the gate, not the check, is
    under test."""
    check_each_plugin_set_once(monkeypatch)


def reckless(instrument: str, seed: int, max_size: int = 1_000, tag: str = "R") -> StrategySpec:
    return StrategySpec(
        strategy_path="support.reckless:Reckless",
        config_path="support.reckless:RecklessConfig",
        config={
            "instrument_id": instrument,
            "bar_type": f"{instrument}-1-MINUTE-LAST-EXTERNAL",
            "order_id_tag": tag,
            "seed": seed,
            "max_size": max_size,
        },
    )


def positions_after_each_fill(fills: list[FillRecord]) -> list[tuple[FillRecord, dict]]:
    book: dict[tuple[str, str], float] = defaultdict(float)
    out = []
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        book[(fill.strategy_id, fill.instrument_id)] += fill.side * fill.quantity
        out.append((fill, dict(book)))
    return out


def test_position_limit_reduces_orders(desk: Platform) -> None:
    request = raw_plan(
        [reckless("SYN01.SIM", seed=1)],
        instruments=["SYN01.SIM"],
        end_ns=DEFAULT_START_NS + 300 * MINUTE,
        risk={"limits": {"max_position": "250", "max_order_quantity": "400"}},
    )
    result = desk.backtests.run_plan(request)
    fills = desk.backtests.artifacts(result.run_id).fills
    assert fills, "the reckless strategy should trade"
    for _, book in positions_after_each_fill(fills):
        assert all(abs(q) <= 250 for q in book.values()), book
    orders: dict[str, float] = defaultdict(float)
    for fill in fills:
        orders[fill.order_id] += fill.quantity
    assert max(orders.values()) <= 400
    assert result.risk_counts.get("max_position", 0) > 0
    assert {e.kind for e in result.risk_events} >= {RiskEventKind.REDUCE}
    report = Path(desk.backtests.report_path(result.run_id)).read_text()
    assert "<h2>Risk</h2>" in report and "max_position" in report


def test_kill_switch_stops_orders_from_the_next_event_and_release_resumes(desk: Platform) -> None:
    kill, release = DEFAULT_START_NS + 100 * MINUTE, DEFAULT_START_NS + 200 * MINUTE
    request = raw_plan(
        [reckless("SYN01.SIM", seed=2, max_size=10)],
        instruments=["SYN01.SIM"],
        end_ns=DEFAULT_START_NS + 300 * MINUTE,
        risk={
            "schedule": [
                {"ts_ns": kill, "action": "kill", "reason": "desk says stop"},
                {"ts_ns": release, "action": "release"},
            ]
        },
    )
    result = desk.backtests.run_plan(request)
    stamps = np.array([f.ts_ns for f in desk.backtests.artifacts(result.run_id).fills])
    assert np.any(stamps < kill) and np.any(stamps >= release)
    assert not np.any((stamps > kill) & (stamps < release))
    kinds = [(e.kind, e.rule) for e in result.risk_events if e.rule.startswith("kill_switch")]
    assert kinds == [
        (RiskEventKind.HALT, "kill_switch_portfolio"),
        (RiskEventKind.RELEASE, "kill_switch_portfolio"),
    ]
    assert result.risk_counts.get("trading_halted", 0) >= 90  # one denial per bar halted


def test_strategy_kill_switch_leaves_others_trading(desk: Platform) -> None:
    kill = DEFAULT_START_NS + 60 * MINUTE
    request = raw_plan(
        [reckless("SYN01.SIM", 3, 10, "A"), reckless("SYN02.SIM", 4, 10, "B")],
        instruments=["SYN01.SIM", "SYN02.SIM"],
        end_ns=DEFAULT_START_NS + 180 * MINUTE,
        risk={
            "schedule": [
                {"ts_ns": kill, "action": "kill", "scope": "strategy", "target": "Reckless-A"}
            ]
        },
    )
    result = desk.backtests.run_plan(request)
    fills = desk.backtests.artifacts(result.run_id).fills
    assert not [f for f in fills if f.strategy_id == "Reckless-A" and f.ts_ns > kill]
    assert [f for f in fills if f.strategy_id == "Reckless-B" and f.ts_ns > kill]


def test_ledger_mismatch_halts_the_strategy(
    desk: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = PortfolioRiskGuard.apply_fill
    seen = [0]

    def lossy(self: PortfolioRiskGuard, strategy_id: str, instrument_id: str, fill: object) -> None:
        seen[0] += 1
        if seen[0] != 5:  # drop the fifth fill from the ledger (injected fault)
            real(self, strategy_id, instrument_id, fill)

    monkeypatch.setattr(PortfolioRiskGuard, "apply_fill", lossy)
    request = raw_plan(
        [reckless("SYN01.SIM", seed=5, max_size=10)],
        instruments=["SYN01.SIM"],
        end_ns=DEFAULT_START_NS + 200 * MINUTE,
    )
    result = desk.backtests.run_plan(request)
    mismatches = [e for e in result.risk_events if e.kind is RiskEventKind.MISMATCH]
    assert len(mismatches) == 1 and mismatches[0].strategy_id == "Reckless-R"
    fills = desk.backtests.artifacts(result.run_id).fills
    assert max(f.ts_ns for f in fills) <= mismatches[0].ts_ns


def test_drawdown_breach_allows_only_reducing_fills(desk: Platform) -> None:
    request = raw_plan(
        [reckless("SYN01.SIM", seed=6, max_size=500)],
        instruments=["SYN01.SIM"],
        end_ns=DEFAULT_START_NS + 600 * MINUTE,
        venues=[{"name": "SIM", "starting_balance": "100000", "taker_fee": "0.001"}],
        risk={"limits": {"max_drawdown_pct": "0.002"}, "on_breach": "REDUCING"},
    )
    result = desk.backtests.run_plan(request)
    breach = [
        e
        for e in result.risk_events
        if e.rule == "max_drawdown_pct" and e.kind is RiskEventKind.REDUCING
    ]
    assert breach, "fees on reckless trading must breach a 0.2% drawdown"
    after = breach[0].ts_ns
    before_fill: dict[tuple[str, str], float] = defaultdict(float)
    for fill in sorted(desk.backtests.artifacts(result.run_id).fills, key=lambda f: f.ts_ns):
        key = (fill.strategy_id, fill.instrument_id)
        new = before_fill[key] + fill.side * fill.quantity
        if fill.ts_ns > after:
            assert abs(new) <= abs(before_fill[key]) + 1e-9, (fill, before_fill[key])
        before_fill[key] = new


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    max_position=st.integers(50, 2_000),
    max_gross=st.integers(20_000, 400_000),
    leverage=st.integers(1, 5),
)
def test_property_34_no_fill_leaves_a_limit_breached(
    vetted_once: None,
    warm_desk: Platform,
    seed: int,
    max_position: int,
    max_gross: int,
    leverage: int,
) -> None:
    # Property 34: no order bypasses the risk gate (checked on the fills it let through)
    request = raw_plan(
        [reckless("SYN01.SIM", seed), reckless("SYN02.SIM", seed + 1, tag="S")],
        instruments=["SYN01.SIM", "SYN02.SIM"],
        end_ns=DEFAULT_START_NS + 60 * MINUTE,
        venues=[{"name": "SIM", "starting_balance": "100000"}],
        risk={
            "limits": {
                "max_position": str(max_position),
                "max_gross_exposure": str(max_gross),
                "max_leverage": str(leverage),
            }
        },
        engine={"log_level": "OFF"},
    )
    _, artifacts = warm_desk.backtests.evaluate_plan(request)  # the run, not stored
    closes = dict(artifacts.prices)

    def close(instrument: str, ts_ns: int, *, inclusive: bool) -> float:
        ts, px = closes[instrument]
        k = int(np.searchsorted(ts, ts_ns, side="right" if inclusive else "left")) - 1
        return float(px[k]) if k >= 0 else 0.0

    cash = 100_000.0
    slippage: dict[int, float] = defaultdict(float)  # fills a tick worse than the mark
    for fill, book in positions_after_each_fill(artifacts.fills):
        cash -= fill.side * fill.quantity * fill.price + fill.commission
        own_mark = close(fill.instrument_id, fill.ts_ns, inclusive=True)
        slippage[fill.ts_ns] += abs(fill.price - own_mark) * fill.quantity
        net: dict[str, float] = defaultdict(float)
        for (_, instrument), quantity in book.items():
            net[instrument] += quantity
        assert all(abs(q) <= max_position + 1e-9 for q in net.values())
        before = net[fill.instrument_id] - fill.side * fill.quantity
        if abs(net[fill.instrument_id]) <= abs(before):
            continue  # reducing orders may leave an exposure limit exceeded (never worse)
        # Bars of other instruments at the same timestamp may come before or after this one:
        # the gate saw one of the two marks, and its limits must hold for that one. Equity is
        # the gate's: before the engine filled part of the order a tick worse than the mark.
        holds = []
        for others_now in (False, True):
            marks = {
                i: close(i, fill.ts_ns, inclusive=i == fill.instrument_id or others_now)
                for i in net
            }
            gross = sum(abs(q) * marks[i] for i, q in net.items())
            equity = cash + sum(q * marks[i] for i, q in net.items())
            holds.append(
                gross <= max_gross * (1 + 1e-9) + 1e-6
                and gross <= leverage * (equity + slippage[fill.ts_ns]) * (1 + 1e-6) + 1e-6
            )
        assert any(holds), (fill, dict(net))


def test_gate_is_fingerprinted_and_can_be_measured_off(desk: Platform) -> None:
    on = raw_plan(
        ema_specs(["SYN01.SIM"], "1-MINUTE-LAST", {}),
        instruments=["SYN01.SIM"],
        risk={"limits": {"max_position": "1000000"}},
    )
    off = updated(on, risk=on.risk.model_copy(update={"gate": False}))
    a, b = desk.backtests.run_plan(on), desk.backtests.run_plan(off)
    assert a.fingerprint != b.fingerprint
    assert desk.backtests.artifacts(a.run_id).fills == desk.backtests.artifacts(b.run_id).fills
    assert Decimal(1) > 0
