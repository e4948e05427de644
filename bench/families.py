"""Bars/s and peak RSS of each of the eight strategy families, run from the registry.

One synthetic market (two instruments ``SYN01.SIM``/``SYN02.SIM``, 1-minute bars, seed 7,
N bars in total: N/2 each) is synthesised once, and each family's example definition
(``examples/strategies/*.yaml``) is registered on it: the instruments become both synthetic
ones (so every run streams the same N bars; one-instrument families trade each on its own),
the bar spec 1-minute, and signal subscriptions are dropped (no signals in this market: the
figure is the per-bar cost of the logic; the sentiment family keeps its required SENTIMENT,
receives none and only counts bars). The
regime family uses its realised-volatility regimes for the same reason. The baseline is the
EMA cross measured in the same run: the trend_following family with EMA 10/50, long only,
no stop (the old built-in ``ema_cross``), on the same bars.

Each run is ``desk.backtests.run(BacktestRequest(strategies=[ref]))`` in a fresh process
(``run_s`` = that call, analysis included; peak RSS = that process's ``ru_maxrss``). Goal
(issue 13): the slowest family within 3x of the EMA cross (ratio >= 0.33).

    .venv/bin/python bench/families.py --bars 1000000     # what ``make bench`` runs
    .venv/bin/python bench/families.py --bars 200000 --only ema_cross,mean_reversion
"""

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "strategies"
INSTRUMENTS = ["SYN01.SIM", "SYN02.SIM"]
BAR_SPEC = "1-MINUTE-LAST"
SEED = 7
BASELINE = "ema_cross"
FAMILIES = [
    "trend_following",
    "mean_reversion",
    "momentum_rotation",
    "volatility_breakout",
    "statistical_arbitrage",
    "regime_switching",
    "sentiment_reaction",
    "execution",
]
GOAL = 1 / 3


def definition_data(name: str) -> dict[str, Any]:
    """The bench's definition of ``name`` (a family or the EMA-cross baseline)."""
    if name == BASELINE:
        data: dict[str, Any] = {
            "strategy_id": "bench-ema-cross",
            "family": "trend_following",
            "name": "EMA 10/50 cross, long only (the old ema_cross)",
            "parameters": {"fast_period": 10, "slow_period": 50, "trade_size": "100"},
        }
        data["parameters"]["long_only"] = True
    else:
        data = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
        data["strategy_id"] = f"bench-{name.replace('_', '-')}"
    required = ["SENTIMENT"] if data["family"] == "sentiment_reaction" else []
    data.update(
        instruments=INSTRUMENTS,
        bar_spec=BAR_SPEC,
        signal_subscriptions=required,
        risk=data.get("risk"),
    )
    if data["family"] == "regime_switching":
        data["parameters"]["regime_source"] = "volatility"
    return {k: v for k, v in data.items() if v is not None}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(home: Path, bars: int, names: list[str]) -> dict[str, Any]:
    """Untimed: the market and one registered version per name; name -> reference."""
    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.strategies.problems import parse_definition
    from quantdesk.services.synthetic import SyntheticMarketConfig
    from quantdesk.settings import QuantdeskSettings

    # no smoke backtest per registration (a child process each): the bench times the runs
    desk = bootstrap(QuantdeskSettings(home=home, validation_smoke=False))
    days = max(1, math.ceil(bars / len(INSTRUMENTS) / 1440))
    desk.synthetic.synthesize(
        SyntheticMarketConfig(instruments=len(INSTRUMENTS), days=days, seed=SEED)
    )
    refs = {}
    for name in names:
        definition = parse_definition(definition_data(name))
        refs[name] = desk.registry.register(definition, "bench", "families bench").stored.ref
    return {"step": "prepare", "days": days, "refs": refs}


def run(home: Path, ref: str) -> dict[str, Any]:
    """Timed: one backtest of ``ref`` by registry reference."""
    from quantdesk.bootstrap import bootstrap
    from quantdesk.domain.backtest import BacktestRequest

    desk = bootstrap(home=home)
    request = BacktestRequest(strategies=[ref], engine={"log_level": "OFF"})
    started = time.perf_counter()
    result = desk.backtests.run(request)
    run_s = time.perf_counter() - started
    facts = result.facts
    return {
        "step": "run",
        "ref": ref,
        "bars": facts.bars,
        "run_s": round(run_s, 3),
        "engine_s": round(facts.wall_seconds, 3),
        "bars_per_s": round(facts.bars / run_s, 1),
        "orders": facts.orders,
        "fills": facts.fills,
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
        raise SystemExit(f"bench child {args[0]} failed:\n{done.stderr[-3000:]}")
    record: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return record


def table(rows: dict[str, dict[str, Any]]) -> str:
    base = rows[BASELINE]["bars_per_s"]
    lines = [
        f"{'strategy':<22} {'bars':>9} {'run s':>7} {'bars/s':>9} {'vs EMA':>7} "
        f"{'RSS MB':>7} {'orders':>7}",
        "-" * 74,
    ]
    for name, r in rows.items():
        lines.append(
            f"{name:<22} {r['bars']:>9,} {r['run_s']:>7.2f} {r['bars_per_s']:>9,.0f} "
            f"{r['bars_per_s'] / base:>6.2f}x {r['peak_rss_mb']:>7.0f} {r['orders']:>7,}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars in total (2 instr.)")
    parser.add_argument("--only", default="", help="comma-separated names (ema_cross always)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per child")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results")
    parser.add_argument("--step", choices=["prepare", "run"], help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ref", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step == "prepare":
        names = args.only.split(",")
        print(json.dumps(prepare(args.home, args.bars, names)), flush=True)
        return 0
    if args.step == "run":
        print(json.dumps(run(args.home, args.ref)), flush=True)
        return 0
    wanted = [n for n in args.only.split(",") if n] or FAMILIES
    unknown = sorted(set(wanted) - {*FAMILIES, BASELINE})
    if unknown:
        parser.error(f"unknown family {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    names = [BASELINE, *(n for n in wanted if n != BASELINE)]
    with tempfile.TemporaryDirectory(prefix="qd-families-") as tmp:
        home = Path(tmp) / "home"
        print(f"preparing {args.bars:,} bars and {len(names)} definitions (untimed) ...")
        refs = child(
            [
                "--step",
                "prepare",
                "--home",
                str(home),
                "--bars",
                str(args.bars),
                "--only",
                ",".join(names),
            ],
            args.timeout,
        )["refs"]
        rows: dict[str, dict[str, Any]] = {}
        for name in names:
            print(f"  {name}: running {refs[name]} ...", flush=True)
            rows[name] = child(
                ["--step", "run", "--home", str(home), "--ref", refs[name]], args.timeout
            )
    print()
    print(table(rows))
    base = rows[BASELINE]["bars_per_s"]
    slowest = min(rows, key=lambda n: rows[n]["bars_per_s"])
    worst = rows[slowest]["bars_per_s"] / base
    verdict = "MET" if worst >= GOAL else "MISSED"
    print(f"\nslowest {slowest}: {worst:.2f}x the EMA cross; goal within 3x (>= 0.33): {verdict}")
    summary = {
        "bars": args.bars,
        "slowest": slowest,
        "slowest_ratio": round(worst, 3),
        "meets_goal": worst >= GOAL,
        "rows": rows,
    }
    print(json.dumps(summary))
    if not args.no_save:
        out = ROOT / "bench" / "results"
        out.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        (out / f"families-{stamp}-{args.bars}.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
