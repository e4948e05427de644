"""Bars/s and peak RSS of a multi-asset, multi-currency run against a single-currency one.

Two markets of the same size (four instruments, ``--days`` of 1-minute bars each, seed 7):

* **multi-asset**, a USD account trading an equity (``SYN01.SIM``, USD), an FX pair quoted in
  another currency (``USD/JPY.SIM``: its PnL converted to USD at its own bars), a JPY-quoted
  future (``NIYH4.SIM``, multiplier 500: notional and PnL through the USD/JPY rate) and a call
  on the equity from the synthetic chain (delta-adjusted exposure: the gate solves its
  implied volatility and delta from its last close);
* **single-currency**, four USD equities (``SYN01..SYN04.SIM``), the baseline.

Both run the same strategy, the trend-following family's EMA 10/50 cross of one unit on each
instrument, from the registry, with the same portfolio limits (gross exposure and leverage,
so the gate values every position), each in a fresh process (``run_s`` = the backtest call,
analysis included; peak RSS = that process's ``ru_maxrss``), alternated ``--repeat`` times;
the best of each is compared. Goal (issue 17): conversion and greeks cost under 25 %, i.e.
multi-asset bars/s >= 0.75x the single-currency run's (and its peak RSS within 1 / 0.75 =
1.33x). Each run also records its CPU seconds (``cpu_s``, this process's user + system time
over the backtest call) and the load average when it started: on a shared, loaded machine the
wall clock also counts the waits for a CPU, so the CPU ratio (best of each) is printed beside.

    .venv/bin/python bench/multi_asset.py --days 30      # what ``make bench`` runs
"""

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEED = 7
GOAL = 0.75
DAY_NS = 86_400_000_000_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _definition(strategy_id: str, instruments: list[str]) -> dict[str, Any]:
    return {
        "strategy_id": strategy_id,
        "family": "trend_following",
        "name": "EMA 10/50 cross, one unit",
        "instruments": instruments,
        "bar_spec": "1-MINUTE-LAST",
        "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "1"},
    }


def prepare(home: Path, days: int, kind: str) -> dict[str, Any]:
    """Untimed: the market and one registered definition trading all of it."""
    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.strategies.problems import parse_definition
    from quantdesk.services.synthetic import SyntheticMarketConfig
    from quantdesk.settings import QuantdeskSettings

    desk = bootstrap(QuantdeskSettings(home=home, validation_smoke=False))
    if kind == "single":
        desk.synthetic.synthesize(SyntheticMarketConfig(instruments=4, days=days, seed=SEED))
        instruments = [f"SYN0{i}.SIM" for i in range(1, 5)]
    else:
        instruments = _multi_asset_market(desk, days)
    definition = parse_definition(_definition(f"bench-{kind}", instruments))
    ref = desk.registry.register(definition, "bench", "multi-asset bench").stored.ref
    return {"step": "prepare", "ref": ref, "instruments": instruments}


def _multi_asset_market(desk: Any, days: int) -> list[str]:
    """SYN01 and one call on it (synthetic chain, expiring at the end), USD/JPY and a JPY
    future made from the synthetic paths of SYN02 and SYN03, rescaled to their price levels."""
    import numpy as np

    from quantdesk.domain.contract_terms import UnderlyingClass
    from quantdesk.domain.instruments import AssetClass, InstrumentSpec
    from quantdesk.domain.market_data import BarSpec
    from quantdesk.services.columns import BarColumns, RawBarColumns
    from quantdesk.services.synthetic import (
        SyntheticMarketConfig,
        bars_fingerprint,
        generate_market,
    )
    from quantdesk.services.synthetic_options import OptionChainConfig

    desk.synthetic.synthesize(
        SyntheticMarketConfig(
            instruments=1,
            days=days,
            seed=SEED,
            options_on=("SYN01.SIM",),
            option_chain=OptionChainConfig(strikes=1, expiry_days=(days,)),
        )
    )
    market = generate_market(SyntheticMarketConfig(instruments=3, days=days, seed=SEED))
    usdjpy = InstrumentSpec(
        instrument_id="USD/JPY.SIM",
        asset_class=AssetClass.FX,
        base_currency="USD",
        currency="JPY",
        tick_size=Decimal("0.001"),
    )
    start_ns = int(market[0].bars.ts_ns[0])
    niy = InstrumentSpec(
        instrument_id="NIYH4.SIM",
        asset_class=AssetClass.FUTURE,
        underlying="NIY",
        underlying_class=UnderlyingClass.INDEX,
        currency="JPY",
        tick_size=Decimal(5),
        multiplier=Decimal(500),
        expiration_ns=start_ns + (days + 30) * DAY_NS,
        margin_init=Decimal("0.06"),
    )
    for spec, series, level in ((usdjpy, market[1], 150.0), (niy, market[2], 33_000.0)):
        bars = series.bars
        scale = level / float(bars.open[0])
        tick = float(spec.tick_size)
        digits = spec.price_precision

        def snapped(
            values: Any, tick: float = tick, scale: float = scale, digits: int = digits
        ) -> Any:
            return np.round(np.round(values * scale / tick) * tick, digits)

        rescaled = BarColumns(
            ts_ns=bars.ts_ns,
            open=snapped(bars.open),
            high=snapped(bars.high),
            low=snapped(bars.low),
            close=snapped(bars.close),
            volume=bars.volume,
        )
        desk.instruments.add(spec)
        desk.ingest.ingest_columns(
            RawBarColumns.from_bars(rescaled),
            instrument=spec,
            bar_spec=BarSpec.parse("1-MINUTE-LAST"),
            source=f"bench:multi_asset;{spec.instrument_id}",
            source_sha256=bars_fingerprint(rescaled),
            round_to_instrument=True,
        )
    call = next(
        s.instrument_id
        for s in desk.instruments.list()
        if s.asset_class is AssetClass.OPTION and s.option_kind.value == "call"
    )
    return ["SYN01.SIM", "USD/JPY.SIM", "NIYH4.SIM", call]


def run(home: Path, ref: str) -> dict[str, Any]:
    """Timed: one backtest of ``ref`` by registry reference, the gate valuing every order."""
    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.backtest import BacktestRequest

    desk = bootstrap(home=home)
    request = BacktestRequest.model_validate(
        {
            "strategies": [ref],
            "engine": {"log_level": "OFF"},
            "risk": {"limits": {"max_gross_exposure": "1000000000", "max_leverage": "100"}},
        }
    )
    load = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    result = desk.backtests.run(request)
    run_s = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started
    facts = result.facts
    return {
        "step": "run",
        "bars": facts.bars,
        "run_s": round(run_s, 3),
        "engine_s": round(facts.wall_seconds, 3),
        "bars_per_s": round(facts.bars / run_s, 1),
        "cpu_s": round(cpu_s, 3),
        "load_1m": round(load, 2),
        "orders": facts.orders,
        "fills": facts.fills,
        "end_equity": result.metrics.end_equity,
        "conversions": len(getattr(result, "conversions", None) or []),
        "risk_counts": result.risk_counts,
        "engine_rejections": len(result.engine_rejections),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def child(args: list[str], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench child {args[:2]} failed:\n{done.stderr[-3000:]}")
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=30, help="days of 1-minute bars")
    parser.add_argument("--repeat", type=int, default=2, help="alternated runs of each")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per child")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    parser.add_argument("--step", choices=["prepare", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=["single", "multi"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ref", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step == "prepare":
        print(json.dumps(prepare(args.home, args.days, args.kind)), flush=True)
        return 0
    if args.step == "run":
        print(json.dumps(run(args.home, args.ref)), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="qd-multi-asset-") as tmp:
        refs = {}
        for kind in ("single", "multi"):
            print(f"preparing the {kind} market: {args.days} days x 4 (untimed) ...", flush=True)
            home = Path(tmp) / kind
            step = ["--step", "prepare", "--kind", kind, "--home", str(home)]
            prepared = child([*step, "--days", str(args.days)], args.timeout)
            refs[kind] = (home, prepared["ref"])
            print(f"  {kind}: {', '.join(prepared['instruments'])}")
        runs: dict[str, list[dict[str, Any]]] = {"single": [], "multi": []}
        for attempt in range(args.repeat):
            for kind in ("single", "multi"):
                home, ref = refs[kind]
                record = child(["--step", "run", "--home", str(home), "--ref", ref], args.timeout)
                runs[kind].append(record)
                print(
                    f"  run {attempt + 1} {kind:>6}: {record['bars']:,} bars in "
                    f"{record['run_s']:.2f} s = {record['bars_per_s']:,.0f} bars/s, "
                    f"{record['peak_rss_mb']:.0f} MB, {record['fills']:,} fills "
                    f"(CPU {record['cpu_s']:.2f} s, load {record['load_1m']:.1f})",
                    flush=True,
                )
    best = {k: max(v, key=lambda r: r["bars_per_s"]) for k, v in runs.items()}
    speed = best["multi"]["bars_per_s"] / best["single"]["bars_per_s"]
    memory = best["multi"]["peak_rss_mb"] / best["single"]["peak_rss_mb"]
    cost = 1 / speed - 1
    cpu = min(r["cpu_s"] for r in runs["single"]) / min(r["cpu_s"] for r in runs["multi"])
    verdict = "MET" if speed >= GOAL and memory <= 1 / GOAL else "MISSED"
    print(
        f"\nmulti-asset {best['multi']['bars_per_s']:,.0f} bars/s vs single-currency "
        f"{best['single']['bars_per_s']:,.0f}: {speed:.3f}x (cost {cost:+.1%}); peak RSS "
        f"{memory:.3f}x; goal: cost < 25 % (>= {GOAL}x, RSS <= {1 / GOAL:.2f}x): {verdict}"
        f"\nby CPU seconds (best of each): {cpu:.3f}x (cost {1 / cpu - 1:+.1%})"
    )
    summary = {
        "days": args.days,
        "speed_ratio": round(speed, 3),
        "rss_ratio": round(memory, 3),
        "cpu_ratio": round(cpu, 3),
        "meets_goal": verdict == "MET",
        "best": best,
        "runs": runs,
    }
    print(json.dumps(summary))
    if not args.no_save:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        (out / f"multi-asset-{stamp}-{args.days}d.json").write_text(json.dumps(summary, indent=2))
    return 0 if math.isfinite(speed) else 1


if __name__ == "__main__":
    sys.exit(main())
