"""Backtests on trade ticks: a registered family strategy with ``market_data: trades`` runs
on the catalog's ticks, its bars built by the engine from them, and fills as the raw engine
running the same rule on the same ticks fills; a run with no ticks is refused before it
starts; two runs are bit-identical."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest, BacktestResult
from quantdesk.domain.compatibility import Check
from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.optimisation.study import Objective, Sampler
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.domain.ticks import TickKind
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import synthetic_instrument
from quantdesk.settings import QuantdeskSettings
from support.console import Cli
from support.raw_tick_cross import raw_tick_cross
from support.signals import raw_signal
from support.tick_catalog import (
    tick_path,
    write_book_deltas,
    write_quote_ticks,
    write_trade_ticks,
)

TICKS = 30_000
SEED = 11


def definition(strategy_id: str, market_data: str, **fields: Any) -> Any:
    return parse_definition(
        {
            "strategy_id": strategy_id,
            "family": "trend_following",
            "name": "EMA cross on ticks",
            "instruments": ["SYN01.SIM"],
            "market_data": market_data,
            "parameters": {
                "fast_period": 10,
                "slow_period": 50,
                "trade_size": "100",
                "long_only": True,
            },
            **fields,
        }
    )


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ticks") / "home"
    write_trade_ticks(home, TICKS, SEED)
    desk = bootstrap(home=home)
    desk.registry.register(definition("tick-trend", "trades"), "alice")
    return home


@pytest.fixture
def desk(market: Path) -> Platform:
    return bootstrap(home=market)


def run(desk: Platform, ref: str = "tick-trend@1", **fields: Any) -> BacktestResult:
    request = BacktestRequest.model_validate(
        {"strategies": [ref], "engine": {"log_level": "OFF"}, **fields}
    )
    return desk.backtests.run(request)


def fills_of(desk: Platform, result: BacktestResult) -> list[tuple[int, int, float, float]]:
    return [
        (f.ts_ns, f.side, f.quantity, f.price)
        for f in desk.backtests.artifacts(result.run_id).fills
    ]


def test_a_family_on_trade_ticks_fills_as_the_raw_engine_on_the_same_ticks(
    desk: Platform, market: Path
) -> None:
    result = run(desk)
    ours = fills_of(desk, result)
    theirs = raw_tick_cross(market / "catalog", "SYN01.SIM", "1-MINUTE-LAST", "100")
    assert len(theirs) > 20  # the rule trades on these ticks
    assert ours == theirs
    (strategy,) = result.strategies
    assert strategy.market_data == "trades"
    assert strategy.bar_types == ["SYN01.SIM-1-MINUTE-LAST-INTERNAL"]
    (data,) = result.data
    assert (data.data_type, data.bar_type, data.bars) == ("trade_tick", "SYN01.SIM", TICKS)
    assert result.facts.ticks == TICKS and result.facts.bars == 0
    assert result.metrics.trade_count > 0


def test_two_runs_on_ticks_are_bit_identical(desk: Platform) -> None:
    first, second = run(desk), run(desk)
    assert fills_of(desk, first) == fills_of(desk, second)
    assert first.metrics == second.metrics
    assert first.fingerprint == second.fingerprint


def test_tick_bars_are_built_from_trades_too(desk: Platform, market: Path) -> None:
    desk.registry.register(definition("tick-bars", "trades", bar_spec="20-TICK-LAST"), "alice")
    result = run(desk, "tick-bars@1")
    theirs = raw_tick_cross(market / "catalog", "SYN01.SIM", "20-TICK-LAST", "100")
    assert len(theirs) > 20
    assert fills_of(desk, result) == theirs


def test_a_run_on_ticks_the_catalog_does_not_hold_is_refused_before_it_starts(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    write_quote_ticks(home, 1_000, SEED)  # quotes, not trades
    desk = bootstrap(home=home)
    desk.registry.register(definition("tick-trend", "trades"), "alice")
    with pytest.raises(InvalidInputError, match=r"no trade ticks for SYN01\.SIM in the catalog"):
        desk.backtests.run(BacktestRequest(strategies=["tick-trend@1"]))


def test_a_range_without_ticks_is_refused_naming_what_the_catalog_holds(desk: Platform) -> None:
    with pytest.raises(InvalidInputError, match="between") as error:
        run(desk, start_ns=1_600_000_000_000_000_000, end_ns=1_600_000_100_000_000_000)
    assert "30,000 trade ticks of SYN01.SIM" in str(error.value.hint)


def test_bars_and_ticks_of_one_instrument_in_one_run_are_refused(desk: Platform) -> None:
    desk.registry.register(definition("bar-trend", "bars"), "alice")
    with pytest.raises(InvalidInputError, match="one kind of market data per instrument"):
        run(desk, strategies=["tick-trend@1", "bar-trend@1"])


def register_twap_on_book(desk: Platform) -> None:
    desk.registry.register(
        parse_definition(
            {
                "strategy_id": "twap-book",
                "family": "execution",
                "name": "Buy 3,000 over 30 minutes on the book",
                "instruments": ["SYN01.SIM"],
                "bar_spec": "1-MINUTE-MID",
                "market_data": "book",
                "parameters": {
                    "algorithm": "twap",
                    "side": "buy",
                    "total_quantity": "3000",
                    "horizon_minutes": 30,
                    "slice_interval_seconds": 60,
                },
            }
        ),
        "alice",
    )


def test_the_execution_family_on_l2_deltas_fills_against_the_book(tmp_path: Path) -> None:
    home = tmp_path / "home"
    books = write_book_deltas(home, 3_600, SEED)
    desk = bootstrap(home=home)
    register_twap_on_book(desk)
    result = desk.backtests.run(
        BacktestRequest(strategies=["twap-book@1"], engine={"log_level": "OFF"})
    )
    fills = desk.backtests.artifacts(result.run_id).fills
    assert sum(f.quantity for f in fills) == 3000
    (data,) = result.data
    assert (data.data_type, data.bars) == ("order_book_delta", 3_600 * 11)
    by_order: dict[str, list[Any]] = {}
    for fill in fills:
        by_order.setdefault(fill.order_id, []).append(fill)
    # each child of 100 takes the asks of the book standing when it is sent, best first:
    # the walk computed here from the book as written
    walked = 0
    for children in by_order.values():
        ts = children[0].ts_ns
        _, (_, asks) = max(b for b in books if b[0] <= ts)
        left, expected = 100.0, []
        for price, size in asks:
            take = min(left, size)
            expected.append((price, take))
            left -= take
            if left == 0:
                break
        assert [(f.price, f.quantity) for f in children] == expected
        walked += len(children) > 1
    assert len(by_order) == 30 and walked > 0  # some children took more than one level
    (quality,) = result.execution_quality
    assert quality.filled_share == 1.0


def test_a_family_on_quote_ticks_buys_at_the_ask_and_sells_at_the_bid(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = write_quote_ticks(home, TICKS, SEED)
    desk = bootstrap(home=home)
    desk.registry.register(definition("quote-trend", "quotes", bar_spec="1-MINUTE-MID"), "alice")
    result = desk.backtests.run(
        BacktestRequest(
            strategies=["quote-trend@1"],
            engine={"log_level": "OFF"},
            venues=[{"name": "SIM", "liquidity": "unlimited"}],
        )
    )
    fills = desk.backtests.artifacts(result.run_id).fills
    assert len(fills) > 10
    bids = dict(zip(path.ts_ns.tolist(), path.price.tolist(), strict=True))
    for fill in fills:  # the quote standing when the order went: the last at or before it
        standing = path.ts_ns[path.ts_ns <= fill.ts_ns][-1]
        bid = bids[int(standing)]
        assert fill.price == (round(bid + 0.01, 2) if fill.side > 0 else bid)
    assert result.strategies[0].bar_types == ["SYN01.SIM-1-MINUTE-MID-INTERNAL"]


def test_registration_checks_a_version_on_ticks_against_its_ticks_and_smoke_runs_it(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    write_trade_ticks(home, TICKS, SEED)
    desk = bootstrap(QuantdeskSettings(home=home, validation_smoke=True))
    stored = desk.registry.register(definition("tick-trend", "trades"), "alice").stored
    report = desk.compatibility.latest(stored)
    assert report is not None and report.ok, report
    assert report.smoke_seconds is not None  # the smoke backtest ran on the ticks
    on_quotes = desk.registry.register(
        definition("quote-trend", "quotes", bar_spec="1-MINUTE-MID"), "alice"
    ).stored
    report = desk.compatibility.check(on_quotes)
    assert [p.reason for p in report.problems if p.check is Check.DATA] == [
        "no quote ticks of SYN01.SIM"
    ]


def test_book_deltas_without_event_ends_build_no_bars_and_the_run_fails_saying_so(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    write_book_deltas(home, 600, SEED, f_last=False)
    desk = bootstrap(home=home)
    register_twap_on_book(desk)
    with pytest.raises(InvalidInputError, match=r"built no SYN01\.SIM-1-MINUTE-MID") as e:
        desk.backtests.run(BacktestRequest(strategies=["twap-book@1"], engine={"log_level": "OFF"}))
    assert "F_LAST" in str(e.value.hint)


def test_validation_and_optimisation_refuse_a_version_on_ticks(desk: Platform) -> None:
    # they judge a version on the catalog's bars (screens, stress, periods): not its data
    with pytest.raises(InvalidInputError, match="validation works on versions on bars only"):
        desk.research.validation.run("tick-trend@1")
    with pytest.raises(InvalidInputError, match="optimisation works on versions on bars only"):
        desk.research.optimisation.optimize(
            "tick-trend@1", trials=2, objective=Objective(), sampler=Sampler.GRID, seed=1
        )


def test_ticks_ingested_by_quantdesk_run_as_written_with_their_lineage(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = tick_path(TICKS, SEED)
    csv = tmp_path / "trades.csv"
    pd.DataFrame(
        {
            "timestamp": path.ts_ns,
            "price": [f"{p:.2f}" for p in path.price],
            "size": path.size.astype(int),
            "aggressor_side": np.where(path.buyer, "BUYER", "SELLER"),
            "trade_id": [f"T{i}" for i in range(TICKS)],
        }
    ).to_csv(csv, index=False)
    desk = bootstrap(home=home)
    desk.instruments.add(synthetic_instrument(0))
    summary = desk.ticks.ingest(csv, TickKind.TRADE, "SYN01.SIM")
    assert summary.rows_written == TICKS
    desk.registry.register(definition("tick-trend", "trades"), "alice")
    result = run(desk)
    (data,) = result.data
    assert data.bars == TICKS and data.source_sha256  # the files' ingest is named
    (record,) = [r for r in bootstrap(home=home).catalog.lineage() if r.data_type == "trade_tick"]
    assert data.source_sha256 == [record.source_sha256]
    theirs = raw_tick_cross(home / "catalog", "SYN01.SIM", "1-MINUTE-LAST", "100")
    assert fills_of(desk, result) == theirs and len(theirs) > 20


def test_signals_replay_into_a_run_on_ticks_and_trades_follow_them(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = write_trade_ticks(home, TICKS, SEED)
    desk = bootstrap(home=home)
    every = 20 * 60_000_000_000
    stamps = range(int(path.ts_ns[0]) + every, int(path.ts_ns[-1]), every)
    lines = [
        json.dumps(
            raw_signal("SENTIMENT", "SYN01.SIM", ts, value={"score": 0.8 if k % 2 == 0 else -0.8})
        )
        for k, ts in enumerate(stamps)
    ]
    (tmp_path / "signals.jsonl").write_text("\n".join(lines) + "\n")
    desk.signals.ingest_file(tmp_path / "signals.jsonl")
    desk.registry.register(
        parse_definition(
            {
                "strategy_id": "news-ticks",
                "family": "sentiment_reaction",
                "name": "news on trades",
                "instruments": ["SYN01.SIM"],
                "market_data": "trades",
                "signal_subscriptions": ["SENTIMENT"],
                "parameters": {
                    "entry_threshold": 0.3,
                    "exit_threshold": 0.1,
                    "min_confidence": 0.0,
                    "max_holding_bars": 25,
                    "trade_size": "100",
                },
            }
        ),
        "alice",
    )
    result = run(desk, "news-ticks@1", signals=["SENTIMENT"])
    provenance = result.provenance
    assert provenance is not None and provenance.signals_replayed == len(lines)
    assert provenance.fills_on_signals > 0
    known = {t.signal_id: t.ts_init for t in provenance.traces}
    for fill in desk.backtests.artifacts(result.run_id).fills:
        if fill.signal_id is not None:  # never before the signal was known
            assert fill.ts_ns >= known[fill.signal_id]


@pytest.mark.parametrize(
    ("venue", "says"),
    [({"fill_at": "next_open"}, "fills at next_open"), ({"bar_spread": "0.01"}, "bar_spread")],
)
def test_venue_options_for_bars_are_refused_on_ticks(
    desk: Platform, venue: dict[str, str], says: str
) -> None:
    with pytest.raises(InvalidInputError, match=says):
        run(desk, venues=[{"name": "SIM", **venue}])


def test_the_cli_runs_a_definition_on_ticks_and_shows_its_ticks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_trade_ticks(home, TICKS, SEED)
    document = tmp_path / "trend-ticks.yaml"
    document.write_text(
        "strategy_id: trend-ticks\nfamily: trend_following\nname: EMA cross on trades\n"
        "instruments: [SYN01.SIM]\nbar_spec: 1-MINUTE-LAST\nmarket_data: trades\n"
        "parameters: {fast_period: 10, slow_period: 50, trade_size: '100', long_only: true}\n"
    )
    cli = Cli(home)
    cli.ok("strategy", "add", document, "--reason", "ticks")
    shown = " ".join(cli.ok("backtest", "run", "--strategy", "trend-ticks@1").split())
    assert "SYN01.SIM-1-MINUTE-LAST-INTERNAL (built from trades)" in shown
    assert "ticks (or book deltas) │ 30,000" in shown and "ticks/s" in shown
    assert "bars/s" not in shown
    on_quotes = tmp_path / "quote-trend.yaml"
    on_quotes.write_text(
        document.read_text()
        .replace("trend-ticks", "quote-trend")
        .replace("market_data: trades", "market_data: quotes")
        .replace("1-MINUTE-LAST", "1-MINUTE-MID")
    )
    cli.ok("strategy", "add", on_quotes, "--reason", "quotes")
    refused = cli.refused("backtest", "run", "--strategy", "quote-trend@1")
    assert "no quote ticks for SYN01.SIM in the catalog" in refused
