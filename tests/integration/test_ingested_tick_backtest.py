"""Ticks ingested from a file are ticks the engine backtests on: a family on ``market_data:
trades`` run over trades brought in by ``data ingest trades`` fills exactly as the raw engine
running the same rule on the same catalog (Property 25 / 29: stored in the engine's format)."""

from pathlib import Path

import numpy as np

from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.domain.ticks import TickKind
from quantdesk.services.synthetic import synthetic_instrument
from support.raw_tick_cross import raw_tick_cross
from support.tick_catalog import tick_path
from support.ticks import write_rows

TICKS = 20_000


def test_a_strategy_runs_on_ingested_trade_ticks_as_the_raw_engine_does(tmp_path: Path) -> None:
    home = tmp_path / "home"
    desk = bootstrap(home=home)
    spec = synthetic_instrument(0)
    desk.instruments.add(spec)
    path = tick_path(TICKS, seed=5, mean_gap_ns=3_000_000_000)
    rows = [
        [int(ts), f"{price:.2f}", f"{size:.0f}", "BUYER" if buyer else "SELLER", f"T{i}"]
        for i, (ts, price, size, buyer) in enumerate(
            zip(path.ts_ns, path.price, path.size, path.buyer, strict=True)
        )
    ]
    header = ("timestamp", "price", "size", "aggressor_side", "trade_id")
    summary = desk.ticks.ingest(
        write_rows(tmp_path / "trades.csv", header, rows), TickKind.TRADE, spec.instrument_id
    )
    assert (summary.rows_written, summary.rows_rejected) == (TICKS, 0)
    desk.registry.register(
        parse_definition(
            {
                "strategy_id": "ingested-trend",
                "family": "trend_following",
                "name": "EMA cross on ingested ticks",
                "instruments": [spec.instrument_id],
                "market_data": "trades",
                "parameters": {
                    "fast_period": 10,
                    "slow_period": 50,
                    "trade_size": "100",
                    "long_only": True,
                },
            }
        ),
        "alice",
    )
    result = desk.backtests.run(
        BacktestRequest.model_validate(
            {"strategies": ["ingested-trend@1"], "engine": {"log_level": "OFF"}}
        )
    )
    ours = [
        (f.ts_ns, f.side, f.quantity, f.price)
        for f in desk.backtests.artifacts(result.run_id).fills
    ]
    theirs = raw_tick_cross(home / "catalog", spec.instrument_id, "1-MINUTE-LAST", "100")
    assert len(theirs) > 10
    assert ours == theirs
    assert result.facts.ticks == TICKS
    (data,) = result.data
    assert data.source_sha256  # the run's data is linked to the ingested file's lineage
    assert np.all(np.diff(path.ts_ns) > 0)
