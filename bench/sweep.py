"""Sweep benchmark: trend-following trials per second, serial vs two workers vs a naive loop,
and the vectorised screen on the same grid.

One synthetic market (``SYN01.SIM``, 1-minute bars, seed 7, N bars) is synthesised once
(untimed). The grid is T points of the trend-following family (EMA, long/short, no stop,
trade size 100, no risk constraints): ``fast_period`` x ``slow_period`` (see ``grid``), each
point a trial whose request pins its candidate definition. Measured, one after the other in
this process (never two at once):

==============  ===============================================================================
``serial``      ``platform.research.pools.open(1, None)``: the ``InlineTrialPool`` on the warm
                trial evaluator (data read once, engine reused, nothing stored), one process;
                timed from opening the pool (the evaluator is built then) to the last outcome
``workers-2``   ``pools.open(2, None)``: the process pool, each worker building its warm
                evaluator once; timed from opening the pool (worker start included) to the
                last outcome; ``run-only`` excludes the start
``naive``       a loop calling ``platform.backtests.run(request)`` per trial: a fresh engine,
                the catalog read, the run stored with its Parquet artifacts and HTML report
                (what a user would script without the trial engine); ``--naive-trials`` of the
                points (default all, spread over the grid) give its trials/s, compared too
                with the serial trials' own ``wall_seconds`` on the same points
``screen``      ``screens.screen`` over the whole grid on the catalog's closes (trials/s =
                grid points / its wall time), then its decision-equality check: for
                ``--check`` points the screen's decisions against the engine's orders
                (``backtests.evaluate``), which must be identical
==============  ===============================================================================

The serial and two-worker outcomes must be identical (fills digests, trial by trial) and
the naive loop's runs must have the serial trials' fingerprints. Goals (issue 15): two
workers >= 1.8x serial; serial >= 2x the naive loop. The machine's load average and CPU
count are printed beside the figures: a 2-core machine shared with other work gives less.

    .venv/bin/python bench/sweep.py                   # what ``make bench`` runs (200 x 200,000)
    .venv/bin/python bench/sweep.py --quick           # 20 trials on 20,000 bars
    .venv/bin/python bench/sweep.py --trials 60 --bars 50000 --naive-trials 10
"""

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
INSTRUMENT = "SYN01.SIM"
BAR_TYPE = f"{INSTRUMENT}-1-MINUTE-LAST-EXTERNAL"
SEED = 7
GOAL_WORKERS = 1.8
GOAL_NAIVE = 2.0


def grid(trials: int) -> list[dict[str, Any]]:
    """``trials`` points: 10 fast periods (10, 15, .., 55) x as many slow periods (60, 80, ..)
    as needed, row by row; every point feasible (fast < slow)."""
    fasts = list(range(10, 60, 5))
    slows = [60 + 20 * i for i in range(math.ceil(trials / len(fasts)))]
    points = [{"fast_period": f, "slow_period": s} for s in slows for f in fasts]
    return points[:trials]


def base_definition() -> Any:
    from quantdesk.domain.strategies.definition import StrategyDefinition

    return StrategyDefinition.model_validate(
        {
            "strategy_id": "sweep-trend",
            "version": 1,
            "family": "trend_following",
            "name": "EMA cross sweep",
            "instruments": [INSTRUMENT],
            "bar_spec": "1-MINUTE-LAST",
            "parameters": {
                "fast_period": 10,
                "slow_period": 50,
                "ma_type": "ema",
                "trade_size": "100",
            },
        }
    )


def request_of(definition: Any) -> Any:
    from quantdesk.domain.backtest import BacktestRequest

    return BacktestRequest.model_validate(
        {
            "strategies": [f"{definition.strategy_id}@{definition.version}"],
            "pinned": [definition.model_dump(mode="json")],
            "engine": {"log_level": "OFF"},
        }
    )


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def timed(label: str, pool_open: Any, specs: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Open a pool, run every spec, close it: wall time with and without the opening."""
    print(f"  {label}: {len(specs)} trials (load {load()}) ...", flush=True)
    started = time.perf_counter()
    pool = pool_open()
    opened = time.perf_counter()
    try:
        outcomes = pool.run(specs, on_outcome=lambda outcome: None)
    finally:
        pool.close()
    done = time.perf_counter()
    failed = [o.key for o in outcomes if not o.ok]
    if failed:
        raise SystemExit(f"{label}: trials failed: {failed[:5]} {outcomes[0].error}")
    total, run_only = done - started, done - opened
    return outcomes, {
        "trials": len(specs),
        "seconds": round(total, 3),
        "open_s": round(opened - started, 3),
        "trials_per_s": round(len(specs) / total, 3),
        "run_only_trials_per_s": round(len(specs) / run_only, 3),
        "load": load(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=200, help="grid points (trials)")
    parser.add_argument("--bars", type=int, default=200_000, help="1-minute bars of SYN01")
    parser.add_argument("--naive-trials", type=int, default=None, help="naive loop's trials")
    parser.add_argument("--check", type=int, default=3, help="points the screen is checked on")
    parser.add_argument("--quick", action="store_true", help="20 trials on 20,000 bars")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.bars = 20, 20_000
    naive_trials = min(args.trials, args.naive_trials or args.trials)

    from quantdesk.adapters.nautilus.catalog import ParquetCatalog
    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.optimisation.space import ParameterRange, SearchSpace, apply
    from quantdesk.domain.optimisation.study import Objective
    from quantdesk.domain.trials import TrialSpec
    from quantdesk.services.optimisation import screens
    from quantdesk.services.synthetic import SyntheticMarketConfig
    from quantdesk.services.trials import fills_digest
    from quantdesk.settings import QuantdeskSettings

    points = grid(args.trials)
    base = base_definition()
    candidates = [apply(base, point) for point in points]
    specs = [TrialSpec(key=f"t{i}", request=request_of(c)) for i, c in enumerate(candidates)]
    print(
        f"sweep bench: {len(specs)} trend-following trials on {args.bars:,} bars; "
        f"{os.cpu_count()} CPUs, load average {load()}"
    )
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="qd-sweep-") as tmp:
        home = Path(tmp) / "home"
        settings = QuantdeskSettings(home=home, validation_smoke=False)
        desk = bootstrap(settings)
        started = time.perf_counter()
        desk.synthetic.synthesize(
            SyntheticMarketConfig(instruments=1, days=math.ceil(args.bars / 1440), seed=SEED)
        )
        ts, closes = ParquetCatalog(settings.catalog_dir).read_closes(BAR_TYPE, 0, 2**63 - 1)
        ts, closes = ts[: args.bars], closes[: args.bars]
        end_ns = int(ts[-1])
        specs = [
            TrialSpec(key=s.key, request=s.request.model_copy(update={"end_ns": end_ns}))
            for s in specs
        ]
        print(
            f"  market: {ts.size:,} bars synthesised in {time.perf_counter() - started:.1f} s"
            " (untimed)"
        )
        try:
            pools = desk.research.pools
        except NotImplementedError:  # a research part not built yet: the pools alone
            from quantdesk.bootstrap_research import _trial_pools

            pools = _trial_pools(settings, desk)
        serial, rows["serial"] = timed("serial", lambda: pools.open(1, None), specs)
        parallel, rows["workers-2"] = timed("workers-2", lambda: pools.open(2, None), specs)
        mismatched = [
            a.key for a, b in zip(serial, parallel, strict=True) if a.fills_sha256 != b.fills_sha256
        ]
        if mismatched:
            raise SystemExit(f"two workers traded otherwise than serial: {mismatched[:5]}")

        print(f"  naive: {naive_trials} x backtests.run (load {load()}) ...", flush=True)
        started = time.perf_counter()
        fingerprints = []
        chosen = _spread(len(specs), naive_trials)
        for spec in [specs[i] for i in chosen]:
            result = desk.backtests.run(spec.request, pending=spec.request.pinned)
            fingerprints.append(result.fingerprint)
        seconds = time.perf_counter() - started
        same = sum(serial[i].wall_seconds for i in chosen)
        rows["naive"] = {
            "trials": naive_trials,
            "seconds": round(seconds, 3),
            "trials_per_s": round(naive_trials / seconds, 3),
            "serial_seconds_same_trials": round(same, 3),
            "load": load(),
        }
        wrong = [
            serial[i].key
            for i, f in zip(chosen, fingerprints, strict=True)
            if serial[i].fingerprint != f
        ]
        if wrong:
            raise SystemExit(f"naive runs differ from their trials: {wrong[:5]}")

        print(f"  screen: {len(points)} points (load {load()}) ...", flush=True)
        space = SearchSpace(
            family="trend_following",
            parameters=(
                ParameterRange(name="fast_period", kind="int", low=10, high=55, step=5),
                ParameterRange(name="slow_period", kind="int", low=60, high=2000, step=20),
            ),
        )
        started = time.perf_counter()
        screened = screens.screen(
            base, space, points, ts, closes, start_equity=1_000_000.0, objective=Objective()
        )
        seconds = time.perf_counter() - started
        checked = []
        step = max(1, len(points) // max(1, args.check))
        for index in list(range(0, len(points), step))[: args.check]:
            request = specs[index].request
            _, artifacts = desk.backtests.evaluate(request, request.pinned)
            seen: dict[str, tuple[int, int]] = {}
            for fill in artifacts.fills:
                seen.setdefault(fill.order_id, (fill.ts_ns, fill.side))
            found = screens.decisions(candidates[index], ts, closes)
            mine = [(d.ts_ns, side) for d in found for side in d.order_sides]
            if mine != list(seen.values()):
                raise SystemExit(f"screen decisions differ from the engine's at {points[index]}")
            checked.append({"point": points[index], "orders": len(mine)})
            assert fills_digest(artifacts.fills) == serial[index].fills_sha256
        rows["screen"] = {
            "trials": len(points),
            "seconds": round(seconds, 3),
            "trials_per_s": round(len(points) / seconds, 1),
            "decisions_equal": checked,
            "rank_correlation": _spearman(
                [r.value for r in screened],
                [o.metrics.sharpe if o.metrics else None for o in serial],
            ),
            "load": load(),
        }

    print()
    print(_table(rows))
    workers = rows["workers-2"]["trials_per_s"] / rows["serial"]["trials_per_s"]
    workers_run = (
        rows["workers-2"]["run_only_trials_per_s"] / rows["serial"]["run_only_trials_per_s"]
    )
    naive = rows["serial"]["trials_per_s"] / rows["naive"]["trials_per_s"]
    naive_same = rows["naive"]["seconds"] / max(rows["naive"]["serial_seconds_same_trials"], 1e-9)
    screen_x = rows["screen"]["trials_per_s"] / rows["serial"]["trials_per_s"]
    print(
        f"\n2 workers vs serial: {workers:.2f}x ({workers_run:.2f}x without starting the pools);"
        f" goal >= {GOAL_WORKERS}x: {'MET' if workers >= GOAL_WORKERS else 'MISSED'}"
    )
    print(
        f"serial vs naive loop: {naive:.2f}x ({naive_same:.2f}x on the naive loop's own "
        f"trials, by the serial trials' wall_seconds); goal >= {GOAL_NAIVE}x: "
        f"{'MET' if naive >= GOAL_NAIVE else 'MISSED'}"
    )
    print(
        f"screen vs serial: {screen_x:,.0f}x; its decisions equal the engine's orders on "
        f"{len(rows['screen']['decisions_equal'])} points; rank correlation with the engine's "
        f"Sharpe {rows['screen']['rank_correlation']}"
    )
    summary = {
        "trials": args.trials,
        "bars": int(ts.size),
        "cpus": os.cpu_count(),
        "workers_ratio": round(workers, 3),
        "workers_run_only_ratio": round(workers_run, 3),
        "naive_ratio": round(naive, 3),
        "naive_ratio_same_trials": round(naive_same, 3),
        "screen_ratio": round(screen_x, 1),
        "meets_goals": workers >= GOAL_WORKERS and naive >= GOAL_NAIVE,
        "rows": rows,
    }
    print(json.dumps(summary))
    if not args.no_save:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        (out / f"sweep-{stamp}-{args.trials}x{args.bars}.json").write_text(
            json.dumps(summary, indent=2)
        )
    return 0


def _spread(size: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(size)`` (the grid's rows differ in cost:
    the first points trade most)."""
    if count >= size:
        return list(range(size))
    return sorted({round(i * (size - 1) / max(1, count - 1)) for i in range(count)})


def _spearman(a: list[float | None], b: list[float | None]) -> float | None:
    """Rank correlation over the points both scored (ties broken by position)."""
    import numpy as np

    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if len(pairs) < 3:
        return None
    ranks = np.argsort(np.argsort(np.asarray(pairs), axis=0), axis=0).astype(float)
    return round(float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1]), 3)


def _table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'mode':<10} {'trials':>7} {'seconds':>9} {'trials/s':>10} {'load':>16}", "-" * 56]
    for name, r in rows.items():
        lines.append(
            f"{name:<10} {r['trials']:>7,} {r['seconds']:>9.2f} {r['trials_per_s']:>10,.2f} "
            f"{r['load']:>16}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
