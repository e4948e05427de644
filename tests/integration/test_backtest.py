"""Backtests on the real engine over a real catalog (Property 1: backtests run on
NautilusTrader behind quantdesk's own API; Property 7: deterministic event order)."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestResult
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.domain.errors import InvalidInputError, NotFoundError
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import DEFAULT_START_NS, SyntheticMarketConfig
from support.strategy_runs import ema_specs, raw_plan, updated

DAY_NS = 86_400_000_000_000


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic instruments, three days of minute bars, shared by the tests here."""
    home = tmp_path_factory.mktemp("market") / "home"
    bootstrap(home=home).synthetic.synthesize(SyntheticMarketConfig(instruments=2, days=3, seed=4))
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def ema_request(instruments: list[str], **params: object) -> RunPlan:
    return raw_plan(
        ema_specs(instruments, "1-MINUTE-LAST", dict(params)),
        instruments=instruments,
        engine={"log_level": "OFF"},
    )


def fills_digest(desk: Platform, result: BacktestResult) -> str:
    fills = desk.backtests.artifacts(result.run_id).fills
    return hashlib.sha256(repr(list(fills)).encode()).hexdigest()


def expected_orders(closes: np.ndarray, fast: int, slow: int, long_only: bool) -> list[int]:
    """The order sides an EMA cross must send, computed with pandas (independent of the engine)."""
    fast_ema = pd.Series(closes).ewm(span=fast, adjust=False).mean().to_numpy()
    slow_ema = pd.Series(closes).ewm(span=slow, adjust=False).mean().to_numpy()
    position, sides = 0, []
    for t in range(slow - 1, len(closes)):
        if fast_ema[t] > slow_ema[t]:
            if position < 0:
                sides.append(+1)
                position = 0
            if position == 0:
                sides.append(+1)
                position = 1
        elif position > 0:
            sides.append(-1)
            position = 0
            if not long_only:
                sides.append(-1)
                position = -1
        elif position == 0 and not long_only:
            sides.append(-1)
            position = -1
    return sides


@pytest.mark.parametrize("long_only", [True, False])
def test_ema_cross_orders_match_an_independent_count(desk: Platform, long_only: bool) -> None:
    result = desk.backtests.run_plan(
        ema_request(["SYN01.SIM"], fast=10, slow=50, long_only=long_only)
    )
    artifacts = desk.backtests.artifacts(result.run_id)
    closes = artifacts.prices["SYN01.SIM"][1]
    expected = expected_orders(closes, 10, 50, long_only)
    orders: dict[str, int] = {}
    for fill in artifacts.fills:
        orders.setdefault(fill.order_id, fill.side)
    assert list(orders.values()) == expected
    assert result.facts.orders == len(expected)
    assert result.metrics.trade_count == len(artifacts.positions)
    assert result.facts.bars == len(closes) == 3 * 1440


def test_same_request_same_fills_and_metrics(desk: Platform) -> None:
    request = ema_request(["SYN01.SIM", "SYN02.SIM"], fast=5, slow=30)
    first, second = desk.backtests.run_plan(request), desk.backtests.run_plan(request)
    assert first.run_id != second.run_id
    assert first.fingerprint == second.fingerprint
    assert fills_digest(desk, first) == fills_digest(desk, second)
    assert first.metrics == second.metrics
    assert desk.backtests.same_fills(first.run_id, second.run_id)


def test_separate_processes_give_identical_results(desk: Platform, market: Path) -> None:
    request = ema_request(["SYN02.SIM"], fast=8, slow=40)
    here = desk.backtests.run_plan(request)
    script = (
        "import sys, json, hashlib\n"
        "from quantdesk.bootstrap import bootstrap\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from support.strategy_runs import ema_specs, raw_plan\n"
        "desk = bootstrap(home=sys.argv[1])\n"
        "instruments = ['SYN02.SIM']\n"
        "plan = raw_plan(ema_specs(instruments, '1-MINUTE-LAST', json.loads(sys.argv[2])),"
        " instruments=instruments, engine={'log_level': 'OFF'})\n"
        "result = desk.backtests.run_plan(plan)\n"
        "fills = desk.backtests.artifacts(result.run_id).fills\n"
        "print(json.dumps({'fingerprint': result.fingerprint,"
        " 'fills': hashlib.sha256(repr(list(fills)).encode()).hexdigest(),"
        " 'metrics': result.metrics.model_dump(mode='json')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(market), json.dumps({"fast": 8, "slow": 40})],
        capture_output=True,
        text=True,
        check=True,
    )
    there = json.loads(done.stdout.strip().splitlines()[-1])
    assert there["fingerprint"] == here.fingerprint
    assert there["fills"] == fills_digest(desk, here)
    assert there["metrics"] == here.metrics.model_dump(mode="json")


def test_purging_closed_orders_changes_nothing(desk: Platform) -> None:
    request = ema_request(["SYN01.SIM"], fast=3, slow=12)
    purged = desk.backtests.run_plan(request)
    kept = desk.backtests.run_plan(
        updated(request, engine=request.request.engine.model_copy(update={"purge": False}))
    )
    assert purged.fingerprint == kept.fingerprint
    assert fills_digest(desk, purged) == fills_digest(desk, kept)
    assert purged.metrics == kept.metrics


def test_reading_whole_files_unfiltered_changes_nothing(
    desk: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog read without a range filter (the data lies inside the run) gives the run
    a filtered read gives: same fills, same metrics."""
    request = ema_request(["SYN01.SIM", "SYN02.SIM"], fast=4, slow=20)
    unfiltered = desk.backtests.run_plan(request)
    monkeypatch.setattr(ParquetCatalog, "lies_within", lambda *_: False)
    filtered = desk.backtests.run_plan(request)
    assert fills_digest(desk, unfiltered) == fills_digest(desk, filtered)
    assert unfiltered.metrics == filtered.metrics
    assert unfiltered.facts.fills > 0


def test_only_a_range_inside_the_data_is_filtered(desk: Platform) -> None:
    catalog = ParquetCatalog(desk.home / "catalog")
    bar_type = "SYN01.SIM-1-MINUTE-LAST-EXTERNAL"
    (entry,) = [e for e in catalog.entries() if e.identifier == bar_type]
    assert catalog.lies_within(bar_type, entry.first_ts, entry.last_ts)
    assert catalog.lies_within(bar_type, entry.first_ts - 1, entry.last_ts + 1)
    assert not catalog.lies_within(bar_type, entry.first_ts + 1, entry.last_ts)
    assert not catalog.lies_within(bar_type, entry.first_ts, entry.last_ts - 1)
    # and a run over part of the data reads only that part
    middle = entry.first_ts + DAY_NS
    part = desk.backtests.run_plan(
        updated(
            ema_request(["SYN01.SIM"], fast=4, slow=20),
            start_ns=middle,
            end_ns=middle + DAY_NS // 2,
        )
    )
    assert part.data[0].first_ts >= middle
    assert part.facts.bars == part.data[0].bars < entry.count


def test_attribution_sums_to_the_portfolio(desk: Platform) -> None:
    fast = ema_specs(["SYN01.SIM", "SYN02.SIM"], "1-MINUTE-LAST", {})
    slow = ema_specs(["SYN01.SIM"], "1-MINUTE-LAST", {"fast": 20, "slow": 90})
    slow = [s.model_copy(update={"config": {**s.config, "order_id_tag": "SLOW"}}) for s in slow]
    result = desk.backtests.run_plan(raw_plan(fast + slow, instruments=["SYN01.SIM", "SYN02.SIM"]))
    ids = [a.strategy_id for a in result.attribution]
    assert ids == ["EmaCross-SLOW", "EmaCross-SYN01", "EmaCross-SYN02"]
    total = sum(a.metrics.pnl for a in result.attribution)
    assert total == pytest.approx(result.metrics.pnl, rel=1e-9, abs=1e-6)
    assert sum(a.metrics.fees for a in result.attribution) == pytest.approx(result.metrics.fees)
    assert sum(a.metrics.trade_count for a in result.attribution) == result.metrics.trade_count


def test_flat_at_stop_ends_on_the_engine_balance(desk: Platform) -> None:
    request = raw_plan(
        ema_specs(["SYN01.SIM"], "1-MINUTE-LAST", {"flat_at_stop": True}),
        instruments=["SYN01.SIM"],
        venues=[{"name": "SIM", "taker_fee": "0.0005"}],
        engine={"log_level": "OFF"},
    )
    result = desk.backtests.run_plan(request)
    artifacts = desk.backtests.artifacts(result.run_id)
    assert result.metrics.fees > 0
    assert result.metrics.fees == pytest.approx(sum(f.commission for f in artifacts.fills))
    assert not artifacts.curve.in_market[-1]
    realized = sum(p.realized_pnl for p in artifacts.positions)
    assert result.metrics.pnl == pytest.approx(realized, rel=1e-9)


def test_no_data_in_range_names_the_range_there_is(desk: Platform) -> None:
    request = updated(
        ema_request(["SYN01.SIM"]),
        start_ns=DEFAULT_START_NS + 30 * DAY_NS,
        end_ns=DEFAULT_START_NS + 31 * DAY_NS,
    )
    with pytest.raises(InvalidInputError, match=r"no 1-MINUTE-LAST bars for SYN01\.SIM") as caught:
        desk.backtests.run_plan(request)
    assert caught.value.hint is not None
    assert "2024-01-01 00:01:00 to 2024-01-04 00:00:00" in caught.value.hint


def test_unknown_instrument_and_bad_parameters_are_named(desk: Platform) -> None:
    with pytest.raises(NotFoundError, match=r"NOPE\.SIM"):
        desk.backtests.run_plan(ema_request(["NOPE.SIM"]))
    with pytest.raises(InvalidInputError, match=r"unknown parameter.*fats") as caught:
        desk.backtests.run_plan(ema_request(["SYN01.SIM"], fats=3))
    assert caught.value.hint is not None and "fast" in caught.value.hint
    with pytest.raises(InvalidInputError, match="invalid parameter"):
        desk.backtests.run_plan(ema_request(["SYN01.SIM"], fast="ten"))
    with pytest.raises(InvalidInputError, match="must be shorter"):
        desk.backtests.run_plan(ema_request(["SYN01.SIM"], fast=60, slow=50))


def test_runs_are_stored_and_listed(desk: Platform) -> None:
    result = desk.backtests.run_plan(ema_request(["SYN02.SIM"]))
    assert result.run_id in [r.run_id for r in desk.backtests.results()]
    assert desk.backtests.result(result.run_id) == result
    report = Path(desk.backtests.report_path(result.run_id))
    assert report.is_file() and result.fingerprint in report.read_text()
