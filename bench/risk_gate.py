"""Risk-gate benchmark: the same EMA(10)/EMA(50) backtest with quantdesk's gate on and off.

The gate sits in front of every order (``QuantdeskStrategy.submit`` -> the
``PortfolioRiskGuard`` actor -> ``domain.risk.check_order``). "On" sets generous limits that
never bind (so every order pays for valuing the book and every rule, and is approved as
sent); "off" is ``risk.gate = false`` (orders approved at the door, for measurement only).
Both runs read the same ingested bars, each in a fresh process; the goal is that the gate
costs at most 5% of bars/s. Prints a table and a final JSON line.

    .venv/bin/python bench/risk_gate.py --bars 1000000
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "bench"
GENEROUS = {
    "max_position": "1000000000",
    "max_order_quantity": "1000000000",
    "max_order_notional": "1000000000000",  # also the engine's own per-order notional check
    "max_gross_exposure": "1000000000000",
    "max_net_exposure": "1000000000000",
    "max_leverage": "1000000",
    "max_drawdown_pct": "0.99",
    "max_daily_loss_pct": "0.99",
}
RUN = """
import json, resource, sys, time
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.services.shorthand import register_shorthand
from quantdesk.adapters.nautilus import risk_guard
home, gate, limits = sys.argv[1], sys.argv[2] == "on", json.loads(sys.argv[3])
spent = [0.0, 0]  # seconds inside the risk layer's handlers (gate, fills, checks), orders
def timed(name, counts):
    handler = getattr(risk_guard.PortfolioRiskGuard, name)
    def run(self, message):
        started = time.perf_counter()
        handler(self, message)
        spent[0] += time.perf_counter() - started
        spent[1] += counts
    setattr(risk_guard.PortfolioRiskGuard, name, run)
timed("_gate", 1)
timed("_on_fill", 0)
timed("_on_check", 0)
desk = bootstrap(home=home)
(entry,) = [e for e in desk.catalog.entries("AAPL.XNAS")]
refs, options = register_shorthand(desk.registry, "ema_cross", ["AAPL.XNAS"], "1-MINUTE-LAST",
    {"fast": 10, "slow": 50, "trade_size": 100, "long_only": True, "trade_until_ns": entry.last_ts},
    "bench")
request = BacktestRequest(strategies=refs, **options,
    venues=[{"name": "XNAS", "account_type": "CASH", "starting_balance": "1000000"}],
    risk={"gate": gate, "limits": limits if gate else {}},
    engine={"log_level": "OFF", "purge_interval_minutes": 1000})
started = time.perf_counter()
result = desk.backtests.run(request)
seconds = time.perf_counter() - started
print(json.dumps({"gate": "on" if gate else "off", "bars": result.facts.bars,
    "run_s": seconds, "engine_s": result.facts.wall_seconds,
    "bars_per_s": result.facts.bars / seconds, "trades": result.metrics.trade_count,
    "risk_events": len(result.risk_events), "orders": spent[1], "gate_s": spent[0],
    "gate_us_per_order": spent[0] / max(spent[1], 1) * 1e6,
    "gate_share": spent[0] / result.facts.wall_seconds,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="alternate on/off N times, best")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="quantdesk-bench-gate-") as tmp:
        data, home = Path(tmp) / "bars.parquet", Path(tmp) / "home"
        subprocess.run(
            [python, str(SHARED / "gen_data.py"), "--bars", str(args.bars), "--out", str(data)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                python,
                str(HERE / "quantdesk_participant.py"),
                "ingest",
                "--data",
                str(data),
                "--home",
                str(home),
            ],
            check=True,
            capture_output=True,
        )
        runs: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
        for _ in range(args.repeat):
            for gate in ("off", "on"):
                done = subprocess.run(
                    [python, "-c", RUN, str(home), gate, json.dumps(GENEROUS)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                runs[gate].append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"  gate {gate}: {runs[gate][-1]['bars_per_s']:,.0f} bars/s", flush=True)
    best = {gate: max(r, key=lambda x: x["bars_per_s"]) for gate, r in runs.items()}
    cost = 1 - best["on"]["bars_per_s"] / best["off"]["bars_per_s"]
    print(f"\nrisk gate benchmark: {args.bars:,} bars, EMA(10)/EMA(50), best of {args.repeat}")
    print(f"{'gate':<6}{'bars/s':>10}{'run s':>8}{'engine s':>10}{'trades':>8}{'events':>8}")
    for gate in ("off", "on"):
        r = best[gate]
        print(
            f"{gate:<6}{r['bars_per_s']:>10,.0f}{r['run_s']:>8.2f}{r['engine_s']:>10.2f}"
            f"{r['trades']:>8,}{r['risk_events']:>8}"
        )
    verdict = "MET" if cost <= 0.05 else "MISSED"
    print(f"gate cost: {cost * 100:.1f}% of bars/s (goal <= 5%): {verdict}")
    # The same cost without the noise of comparing two processes: the time spent inside the
    # gate handler, as a share of each run's engine time (off = the bare approve path).
    share = {gate: min(r["gate_share"] for r in rs) for gate, rs in runs.items()}
    per_order = {gate: min(r["gate_us_per_order"] for r in rs) for gate, rs in runs.items()}
    inside = share["on"] - share["off"]
    print(
        f"risk layer time inside the run (gate, fills, checks): {per_order['on']:.1f} us/order on, "
        f"{per_order['off']:.1f} us/order off; share of engine time {share['on'] * 100:.1f}% "
        f"vs {share['off'] * 100:.1f}%: the gate costs {inside * 100:.1f}% "
        f"(goal <= 5%): {'MET' if inside <= 0.05 else 'MISSED'}"
    )
    same = best["on"]["trades"] == best["off"]["trades"]
    print(f"trades identical with the gate on and off: {same}")
    summary = {
        "bars": args.bars,
        "cost": round(cost, 4),
        "cost_inside_run": round(inside, 4),
        "gate_us_per_order": {k: round(v, 2) for k, v in per_order.items()},
        "goal": 0.05,
        "meets_goal": cost <= 0.05,
        "trades_identical": same,
        "runs": runs,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
