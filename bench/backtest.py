"""Backtest benchmark: quantdesk's backtest path against the raw engine and two peer frameworks.

One run, one data set, one strategy. N deterministic synthetic 1-minute bars (``gen_data.py``
of ``../shared/bench``, seed 42, bars stamped at their close) are generated once; every
participant runs the same long-only EMA(10)/EMA(50) cross on them (market orders of 100 shares
filled at the signal bar's close, no fees, 1,000,000 USD, no orders on the last bar), each in
its own fresh subprocess, one after the other (never in parallel):

==============  ===============================================================================
``raw``         NautilusTrader ``BacktestEngine`` built by hand, as a user would write it
                (``raw_nautilus.py``); no purge: the cache slows it as orders pile up
                (super-linear in the order count; ``--skip-slow`` leaves it out)
``raw-tuned``   the same engine, the strategy purging closed orders every 1,000 bars
``raw-node``    ``BacktestNode`` streaming a ``ParquetDataCatalog`` in chunks of 100,000 bars,
                with the same purge: the engine's own memory baseline
``quantdesk``   ``desk.backtests.run(request)``: request -> runner -> result with metrics,
                stored (``quantdesk_participant.py``); node streaming, purge every 1,000 minutes
``backtrader``  ``../shared/bench/run_backtrader.py`` as it is
``backtesting`` ``../shared/bench/run_backtesting.py`` (backtesting.py) as it is
==============  ===============================================================================

Measured per participant: ``bars/s`` = bars / ``run_s``, where ``run_s`` is the run alone, not
the data loading (``load_s``, reported beside it): for the raw engine ``engine.run()``
(``run_analysis=False``; the engine's default analysis is timed apart as ``analysis_s``), for
the node ``node.run()`` (it reads the catalog as it goes), for quantdesk the whole
``desk.backtests.run()`` (engine, quantdesk's analysis, the stored Parquet and HTML report;
the engine part alone is ``engine_s``), for the peers what their runners call ``run_s``.
``peak RSS`` is ``ru_maxrss`` of the participant's process at its end (MiB). Untimed setup
that needs its own process (writing the node's catalog, quantdesk's ingest) runs in a separate
subprocess first, so its memory is not counted. ``reference.py`` gives the expected trades
(closed round trips) and final equity independently of any framework.

Goals (from the issue):

* speed: quantdesk bars/s >= 0.90 x the tuned raw engine's bars/s;
* memory: quantdesk's peak RSS no higher than the node streaming run's;
* correctness: identical trade counts across all participants and the reference.

Prints a table, the goals, and a final line with one JSON object holding every figure; the
JSON is also saved to ``bench/results/backtest-<utc time>-<bars>.json`` unless ``--no-save``.

Run it with ``make bench`` (1,000,000 bars) or ``.venv/bin/python bench/backtest.py --bars N``.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS_DIR = BENCH / "results"
DEFAULT_SHARED = BENCH.parent.parent / "shared" / "bench"
PURGE_EVERY = 1_000  # bars (= simulated minutes on 1-minute bars)
CHUNK_SIZE = 100_000
SPEED_GOAL = 0.90
EQUITY_TOLERANCE = 0.01  # USD
CPU_SHARE_WARN = 0.9  # flag a run whose process got less CPU than this share of its wall time

PARTICIPANTS: dict[str, str] = {
    "raw": "raw BacktestEngine, as a user writes it",
    "raw-tuned": f"raw BacktestEngine, purge every {PURGE_EVERY:,} bars",
    "raw-node": f"raw BacktestNode streaming, chunk {CHUNK_SIZE:,}, purge",
    "quantdesk": "quantdesk desk.backtests.run()",
    "backtrader": "backtrader (shared runner)",
    "backtesting": "backtesting.py (shared runner)",
}
SLOW = frozenset({"raw"})
RUN_ORDER = ("raw-tuned", "raw-node", "quantdesk", "backtrader", "backtesting", "raw")
PEER_MODULES = {"backtrader": "backtrader", "backtesting": "backtesting"}
PEER_SCRIPTS = {"backtrader": "run_backtrader.py", "backtesting": "run_backtesting.py"}


@dataclass
class Outcome:
    """What one participant produced: its JSON record, or why there is none."""

    name: str
    record: dict[str, Any] | None = None
    note: str = ""
    prep: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


class StepFailedError(RuntimeError):
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--bars", type=int, default=1_000_000, help="synthetic bars to run on")
    parser.add_argument(
        "--only",
        type=lambda s: [name.strip() for name in s.split(",") if name.strip()],
        default=None,
        help=f"comma-separated subset of: {', '.join(PARTICIPANTS)}",
    )
    parser.add_argument(
        "--skip-slow",
        action="store_true",
        help="skip the raw engine without purging (slows down super-linearly with orders)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="use this gen_data.py Parquet file (its bars)"
    )
    parser.add_argument(
        "--shared",
        type=Path,
        default=DEFAULT_SHARED,
        help=f"the shared peer benchmark (gen_data.py, reference.py, runners); {DEFAULT_SHARED}",
    )
    parser.add_argument(
        "--timeout", type=float, default=3_600, help="seconds allowed per subprocess"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run raw-tuned, raw-node and quantdesk N times each, in rounds, and keep each "
        "one's fastest run (a shared 2-core machine varies by 10-20%% between identical runs)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--no-save", action="store_true", help=f"do not write the JSON to {RESULTS_DIR}"
    )
    args = parser.parse_args(argv)
    if args.bars < 100:
        parser.error("--bars must be >= 100")
    if args.only is not None:
        unknown = sorted(set(args.only) - set(PARTICIPANTS))
        if unknown:
            parser.error(f"--only: unknown {', '.join(unknown)} (known: {', '.join(PARTICIPANTS)})")
    for script in ("gen_data.py", "reference.py"):
        if not (args.shared / script).is_file():
            parser.error(f"{args.shared / script} not found (set --shared)")
    return args


def selected(args: argparse.Namespace) -> list[str]:
    names = [n for n in RUN_ORDER if args.only is None or n in args.only]
    if args.skip_slow:
        names = [n for n in names if n not in SLOW]
    return names


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONHASHSEED": "0", "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def run_json(cmd: list[str], timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    """Run one step in a fresh Python process; its last stdout line is a JSON object."""
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise StepFailedError(f"timed out after {timeout:.0f}s") from error
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        raise StepFailedError(f"exit code {done.returncode}: {tail}")
    record: dict[str, Any] = json.loads(lines[-1])
    return record


def importable(module: str) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        env=child_env(),
        check=False,
    )
    return probe.returncode == 0


def generate_data(shared: Path, bars: int, workdir: Path, timeout: float) -> Path:
    out = workdir / f"bars_{bars}.parquet"
    subprocess.run(
        [sys.executable, str(shared / "gen_data.py"), "--bars", str(bars), "--out", str(out)],
        env=child_env(),
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    return out


def reference(shared: Path, data: Path, timeout: float) -> dict[str, Any]:
    """reference.py's expectation for same-bar-close fills, with the number of bars."""
    record = run_json(
        [sys.executable, str(shared / "reference.py"), "--data", str(data)], timeout, cwd=shared
    )
    return {"bars": record["bars"], **record["close_fill"]}


def participant_steps(
    name: str, args: argparse.Namespace, data: Path, workdir: Path
) -> tuple[list[str] | None, list[str]]:
    """(untimed preparation command or None, the measured command) of one participant."""
    py = sys.executable
    raw = [py, str(BENCH / "raw_nautilus.py")]
    if name == "raw":
        return None, [*raw, "--data", str(data)]
    if name == "raw-tuned":
        return None, [*raw, "--data", str(data), "--purge-every", str(PURGE_EVERY)]
    if name == "raw-node":
        catalog = workdir / "node-catalog"
        prep = [*raw, "--write-catalog", "--data", str(data), "--catalog", str(catalog)]
        measured = [
            *raw,
            "--node",
            "--catalog",
            str(catalog),
            "--purge-every",
            str(PURGE_EVERY),
            "--chunk-size",
            str(CHUNK_SIZE),
        ]
        return prep, measured
    if name == "quantdesk":
        home = workdir / "quantdesk-home"
        script = [py, str(BENCH / "quantdesk_participant.py")]
        prep = [*script, "ingest", "--data", str(data), "--home", str(home)]
        measured = [
            *script,
            "run",
            "--home",
            str(home),
            "--purge-minutes",
            str(PURGE_EVERY),
            "--chunk-size",
            str(CHUNK_SIZE),
        ]
        return prep, measured
    if name in PEER_SCRIPTS:
        return None, [py, str(args.shared / PEER_SCRIPTS[name]), "--data", str(data)]
    raise ValueError(name)


REPEATED = ("raw-tuned", "raw-node", "quantdesk")  # the ones the speed goal compares


def run_participant(
    name: str, args: argparse.Namespace, data: Path, workdir: Path, say: Callable[[str], None]
) -> Outcome:
    outcome = Outcome(name)
    if name in PEER_MODULES and not importable(PEER_MODULES[name]):
        outcome.note = f"skipped: cannot import {PEER_MODULES[name]}"
        return outcome
    prep, measured = participant_steps(name, args, data, workdir)
    started = time.perf_counter()
    try:
        if prep is not None:
            say(f"  {name}: preparing (untimed) ...")
            outcome.prep = run_json(prep, args.timeout)
        say(f"  {name}: running ...")
        outcome.record = run_json(measured, args.timeout, cwd=args.shared)
    except StepFailedError as error:
        outcome.note = f"failed: {error}"
    outcome.wall_s = time.perf_counter() - started
    return outcome


def fmt(value: Any, spec: str = ",.0f") -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


def table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = [
            f"{cell:>{widths[k]}}" if k in right else f"{cell:<{widths[k]}}"
            for k, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def results_table(outcomes: dict[str, Outcome], expected: dict[str, Any]) -> str:
    rows = [
        [
            "participant",
            "bars/s",
            "run s",
            "load s",
            "peak RSS MB",
            "trades",
            "final equity",
            "note",
        ]
    ]
    for name in PARTICIPANTS:
        outcome = outcomes.get(name)
        if outcome is None:
            continue
        r = outcome.record
        if r is None:
            rows.append([name, "-", "-", "-", "-", "-", "-", outcome.note])
            continue
        notes = []
        if "engine_s" in r:
            notes.append(f"engine only {r['engine_s']:.1f}s = {r['engine_bars_per_s']:,.0f}/s")
        if "analysis_s" in r:
            notes.append(f"+{r['analysis_s']:.1f}s default analysis")
        cpu = r.get("run_cpu_s")
        if cpu is not None and r["run_s"] > 0 and cpu / r["run_s"] < CPU_SHARE_WARN:
            notes.append(f"cpu/wall {cpu / r['run_s']:.2f}: contention?")
        if r["trades"] != expected["trades"]:
            notes.append(f"TRADES DIFFER from reference {expected['trades']:,}")
        if abs(r["final_equity"] - expected["final_equity"]) > EQUITY_TOLERANCE:
            notes.append("equity differs")
        rows.append(
            [
                name,
                fmt(r["bars_per_s"]),
                fmt(r["run_s"], ".2f"),
                fmt(r["load_s"], ".2f"),
                fmt(r["peak_rss_mb"]),
                fmt(r["trades"], ","),
                fmt(r["final_equity"], ",.2f"),
                "; ".join(notes),
            ]
        )
    rows.append(
        [
            "reference.py",
            "",
            "",
            "",
            "",
            fmt(expected["trades"], ","),
            fmt(expected["final_equity"], ",.2f"),
            "expected",
        ]
    )
    return table(rows, right={1, 2, 3, 4, 5, 6})


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a and b else None


def verdicts(outcomes: dict[str, Outcome], expected: dict[str, Any]) -> dict[str, Any]:
    def record(name: str) -> dict[str, Any] | None:
        outcome = outcomes.get(name)
        return outcome.record if outcome is not None else None

    qd, tuned, node = record("quantdesk"), record("raw-tuned"), record("raw-node")
    speed = ratio(qd and qd["bars_per_s"], tuned and tuned["bars_per_s"])
    speed_engine = ratio(qd and qd["engine_bars_per_s"], tuned and tuned["bars_per_s"])
    # context: the node streams (reads the catalog inside run_s); the raw engine loads first
    tuned_with_load = tuned and tuned["bars"] / (tuned["load_s"] + tuned["run_s"])
    speed_with_load = ratio(qd and qd["bars_per_s"], tuned_with_load)
    rss_qd = qd["peak_rss_mb"] if qd else None
    rss_node = node["peak_rss_mb"] if node else None
    counts = {n: o.record["trades"] for n, o in outcomes.items() if o.record is not None}
    equities = {n: o.record["final_equity"] for n, o in outcomes.items() if o.record is not None}
    missing = sorted(n for n, o in outcomes.items() if o.record is None)
    return {
        "speed_ratio": speed,
        "speed_ratio_engine_only": speed_engine,
        "speed_ratio_vs_tuned_load_plus_run": speed_with_load,
        "speed_goal": SPEED_GOAL,
        "meets_speed_goal": None if speed is None else speed >= SPEED_GOAL,
        "quantdesk_peak_rss_mb": rss_qd,
        "node_peak_rss_mb": rss_node,
        "rss_ratio": ratio(rss_qd, rss_node),
        "meets_rss_goal": None if rss_qd is None or rss_node is None else rss_qd <= rss_node,
        "trade_counts": counts,
        "expected_trades": expected["trades"],
        "trades_identical": bool(counts)
        and all(count == expected["trades"] for count in counts.values()),
        "final_equities": equities,
        "expected_final_equity": expected["final_equity"],
        "equity_identical": bool(equities)
        and all(abs(e - expected["final_equity"]) <= EQUITY_TOLERANCE for e in equities.values()),
        "not_measured": missing,
    }


def goal_lines(v: dict[str, Any]) -> list[str]:
    def verdict(flag: bool | None) -> str:
        return "not measured" if flag is None else ("MET" if flag else "MISSED")

    speed = v["speed_ratio"]
    engine = v["speed_ratio_engine_only"]
    with_load = v["speed_ratio_vs_tuned_load_plus_run"]
    lines = [
        f"speed  quantdesk / raw-tuned bars/s = {fmt(speed, '.3f')} "
        f"(engine only {fmt(engine, '.3f')}); goal >= {SPEED_GOAL}: "
        f"{verdict(v['meets_speed_goal'])}",
        f"       context: vs raw-tuned load + run (the node reads its data inside run s): "
        f"{fmt(with_load, '.3f')}",
        f"memory quantdesk peak RSS {fmt(v['quantdesk_peak_rss_mb'])} MB vs raw-node "
        f"{fmt(v['node_peak_rss_mb'])} MB (ratio {fmt(v['rss_ratio'], '.3f')}); goal no higher: "
        f"{verdict(v['meets_rss_goal'])}",
        f"trades {', '.join(f'{n} {c:,}' for n, c in v['trade_counts'].items()) or 'none'}; "
        f"reference {v['expected_trades']:,}; goal identical: "
        f"{verdict(v['trades_identical'] if v['trade_counts'] else None)}"
        + (f" (not measured: {', '.join(v['not_measured'])})" if v["not_measured"] else ""),
        f"equity {'identical to' if v['equity_identical'] else 'NOT identical to'} the "
        f"reference {v['expected_final_equity']:,.2f} (within {EQUITY_TOLERANCE} USD)",
    ]
    return lines


def loadavg() -> str | None:
    """The machine's 1/5/15-minute load (Linux); others' work here skews the timings."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return None


def versions() -> dict[str, str]:
    probe = (
        "import json, importlib.metadata as m\n"
        "out = {}\n"
        "for name in ('quantdesk', 'nautilus_trader', 'backtrader', 'backtesting', 'pandas'):\n"
        "    try:\n"
        "        out[name] = m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    found: dict[str, str] = json.loads(done.stdout) if done.returncode == 0 else {}
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = selected(args)
    if not names:
        print("nothing to run (check --only / --skip-slow)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    load_before = loadavg()
    workdir = Path(tempfile.mkdtemp(prefix="quantdesk-bench-bt-"))

    def say(message: str) -> None:
        print(message, flush=True)

    try:
        if args.data is not None:
            data = args.data.resolve()
            say(f"using {data}")
        else:
            say(f"generating {args.bars:,} synthetic 1-minute bars (gen_data.py, seed 42) ...")
            data = generate_data(args.shared, args.bars, workdir, args.timeout)
        expected = reference(args.shared, data, args.timeout)
        n_bars = expected["bars"]
        say(
            f"reference.py: {expected['trades']:,} trades, final equity "
            f"{expected['final_equity']:,.2f}"
        )
        say(f"participants, one fresh process each, in turn: {', '.join(names)}")
        outcomes: dict[str, Outcome] = {}
        for name in names:
            outcome = run_participant(name, args, data, workdir, say)
            outcomes[name] = outcome
            r = outcome.record
            if r is None:
                say(f"  {name}: {outcome.note}")
            else:
                say(
                    f"  {name}: {r['bars_per_s']:,.0f} bars/s, run {r['run_s']:.2f}s, "
                    f"peak RSS {r['peak_rss_mb']:,.0f} MB, {r['trades']:,} trades "
                    f"({outcome.wall_s:.0f}s wall)"
                )
        for round_ in range(2, args.repeat + 1):
            for name in [n for n in names if n in REPEATED and outcomes[n].record is not None]:
                _, measured = participant_steps(name, args, data, workdir)
                try:
                    record = run_json(measured, args.timeout, cwd=args.shared)
                except StepFailedError as error:
                    say(f"  {name} (round {round_}): failed: {error}")
                    continue
                best = outcomes[name].record
                assert best is not None
                best.setdefault("runs_bars_per_s", [best["bars_per_s"]])
                runs = [*best["runs_bars_per_s"], record["bars_per_s"]]
                if record["bars_per_s"] > best["bars_per_s"]:
                    outcomes[name].record = best = record
                best["runs_bars_per_s"] = runs
                say(f"  {name} (round {round_}): {record['bars_per_s']:,.0f} bars/s")
        if args.skip_slow and (args.only is None or "raw" in args.only):
            outcomes["raw"] = Outcome("raw", note="skipped (--skip-slow)")

        v = verdicts(outcomes, expected)
        print()
        print(f"backtest benchmark: {n_bars:,} x 1-minute bars, EMA(10)/EMA(50) long-only cross")
        print(results_table(outcomes, expected))
        print()
        for line in goal_lines(v):
            print(line)
        total_s = time.perf_counter() - started

        result: dict[str, Any] = {
            "bars": n_bars,
            **v,
            "participants": {
                name: {
                    "description": PARTICIPANTS[name],
                    **(o.record or {}),
                    **({"note": o.note} if o.note else {}),
                    **({"prep": o.prep} if o.prep else {}),
                    "subprocess_wall_s": round(o.wall_s, 2),
                }
                for name, o in outcomes.items()
            },
            "reference": expected,
            "purge_every_bars": PURGE_EVERY,
            "chunk_size": CHUNK_SIZE,
            "total_s": round(total_s, 1),
            "versions": versions(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": loadavg(),
            "at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        }
        print(
            f"whole benchmark {total_s:.0f}s; load average before {load_before}, after {loadavg()}"
        )
        if not args.no_save:
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
            path = RESULTS_DIR / f"backtest-{stamp}-{n_bars}.json"
            path.write_text(json.dumps(result, indent=2))
            print(f"saved {path}", file=sys.stderr)
        print(json.dumps(result), flush=True)
        return 0
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
