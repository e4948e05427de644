"""Time to write a long run's HTML report (the issue's "under 5 s" for 1,000,000 bars).

The tests check what keeps this bounded (lines thinned, markers capped, the page the same
size whatever the run's length); how long it takes depends on the machine, so it is here.

    .venv/bin/python bench/report.py [--points 1000000] [--fills 20000] [--repeat 3]
"""

import argparse
import io
import json
import time

import numpy as np

from quantdesk.adapters.reporting.html_report import HtmlReportRenderer
from quantdesk.domain.backtest import (
    BacktestRequest,
    BacktestResult,
    DataUsed,
    EngineFacts,
    FillRecord,
    RunStatus,
    StrategyAttribution,
)
from quantdesk.services.performance import EquityCurve, compute_metrics
from quantdesk.services.ports import RunArtifacts

T0 = 1_704_067_260_000_000_000  # 2024-01-01T00:01:00Z
MINUTE = 60_000_000_000
INSTRUMENT = "SYN01.SIM"


def synthetic_run(points: int, fills: int) -> tuple[BacktestResult, RunArtifacts]:
    """A run of ``points`` minute bars with ``fills`` fills spread over it (seed 1)."""
    rng = np.random.default_rng(1)
    ts = T0 + np.arange(points, dtype=np.int64) * MINUTE
    equity = 1_000_000.0 + rng.normal(0, 50, points).cumsum()
    close = 100.0 + rng.normal(0, 0.1, points).cumsum()
    at = np.linspace(0, points - 1, fills).astype(np.int64)
    records = [
        FillRecord(
            ts_ns=int(ts[i]),
            strategy_id="EmaCross-SYN01",
            instrument_id=INSTRUMENT,
            order_id=f"O-{n}",
            trade_id=f"T-{n}",
            position_id="P-1",
            side=1 if n % 2 == 0 else -1,
            quantity=10.0,
            price=float(close[i]),
            commission=0.1,
            commission_currency="USD",
        )
        for n, i in enumerate(at)
    ]
    curve = EquityCurve(ts_ns=ts, equity=equity, in_market=np.ones(points, dtype=np.bool_))
    metrics = compute_metrics(curve, [], records, 1_000_000.0)
    result = BacktestResult(
        run_id="20240101T000100Z-bench000",
        status=RunStatus.COMPLETED,
        fingerprint="0" * 64,
        request=BacktestRequest(
            strategies=["bench-ema@1"], start_ns=int(ts[0]), end_ns=int(ts[-1])
        ),
        instruments=[INSTRUMENT],
        started_at_ns=T0,
        finished_at_ns=T0,
        data=[
            DataUsed(
                bar_type=f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL",
                first_ts=int(ts[0]),
                last_ts=int(ts[-1]),
                bars=points,
                file_sha256=[],
                source_sha256=[],
            )
        ],
        metrics=metrics,
        attribution=[
            StrategyAttribution(
                strategy_id="EmaCross-SYN01", instruments=[INSTRUMENT], metrics=metrics
            )
        ],
        facts=EngineFacts(
            nautilus_trader_version="-",
            quantdesk_version="-",
            bars=points,
            events_processed=points,
            orders=fills,
            fills=fills,
            positions_closed=0,
            wall_seconds=1.0,
            bars_per_second=float(points),
        ),
    )
    artifacts = RunArtifacts(
        fills=records, positions=[], curve=curve, prices={INSTRUMENT: (ts, close)}
    )
    return result, artifacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the fastest is reported")
    args = parser.parse_args()
    result, artifacts = synthetic_run(args.points, args.fills)
    renderer = HtmlReportRenderer()
    seconds = []
    size = 0
    for _ in range(args.repeat):
        page = io.StringIO()
        started = time.perf_counter()
        renderer.write(result, artifacts, page)
        seconds.append(time.perf_counter() - started)
        size = len(page.getvalue().encode())
    best = min(seconds)
    print(f"report of {args.points:,} points, {args.fills:,} fills: {best:.2f} s, {size:,} bytes")
    figures = {"points": args.points, "fills": args.fills, "best_s": best, "runs_s": seconds}
    print(json.dumps({**figures, "page_bytes": size, "goal_s": 5.0, "met": best < 5.0}))


if __name__ == "__main__":
    main()
