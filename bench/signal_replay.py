"""Signal replay overhead: backtest bars/s with one AI signal per 10 bars against none.

Goal (issue 5): report it. One synthetic instrument of N minute bars (seed 7) and one
``SENTIMENT`` signal per 10 bars (known 1 ms after the bar close, deterministic scores) in
the signal buffer. The same strategy runs twice per round, in turns:

``none``     ``ema_cross`` (fast 10, slow 50) subscribed to SENTIMENT, request ``signals="none"``
``signals``  the same strategy and subscription, request ``signals=["SENTIMENT"]``: every
             signal is read from the catalog, merged into the bar stream, decoded into an
             ``AISignal`` and handed to ``on_signal`` (a no-op in ``ema_cross``), so the
             trades are identical and the difference is the replay alone
``react``    ``sentiment_reaction`` (threshold 0.5, hold 30 bars) on the same signals, for
             context: a strategy that trades on them (provenance traced)

``bars/s`` is bars / the engine's wall time (``EngineFacts.bars_per_second``); ``total_s`` is
the whole ``desk.backtests.run`` (flush check, fingerprint, engine, analysis, stored run).
Best of ``--repeat`` rounds. Prints a table, the ratio, and one JSON line (also saved under
``bench/results/`` unless ``--no-save``).

    .venv/bin/python bench/signal_replay.py --bars 200000 [--repeat 3]
"""

import argparse
import json
import math
import platform
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quantdesk.adapters.nautilus.signal_store import ParquetSignalStore
from quantdesk.bootstrap import bootstrap
from quantdesk.domain.backtest import BacktestRequest
from quantdesk.domain.signals import AISignal
from quantdesk.services.platform import Platform
from quantdesk.services.shorthand import register_shorthand
from quantdesk.services.synthetic import SyntheticMarketConfig

BENCH = Path(__file__).resolve().parent
INSTRUMENT = "SYN01.SIM"
BAR_SPEC = "1-MINUTE-LAST"
MINUTE_NS = 60_000_000_000
SIGNAL_EVERY = 10


def _signals(start_ns: int, bars: int, seed: int) -> list[AISignal]:
    rng = random.Random(seed)
    made = []
    for k in range(SIGNAL_EVERY, bars + 1, SIGNAL_EVERY):
        close = start_ns + k * MINUTE_NS
        made.append(
            AISignal.model_validate(
                {
                    "signal_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "signal_type": "SENTIMENT",
                    "instrument_id": INSTRUMENT,
                    "ts_event": close,
                    "ts_init": close + 1_000_000,
                    "confidence": 0.8,
                    "value": {"kind": "sentiment", "score": round(rng.uniform(-1, 1), 6)},
                    "source_model": "bench.sentiment",
                    "provenance": {
                        "trace_id": "bench",
                        "producer": "bench",
                        "model_version": "1",
                    },
                }
            )
        )
    return made


def _request(
    desk: Platform, strategy: str, params: dict[str, Any], signals: object
) -> BacktestRequest:
    """The shorthand registered on the desk (once; unchanged content is found again)."""
    refs, options = register_shorthand(
        desk.registry, strategy, [INSTRUMENT], BAR_SPEC, params, "bench"
    )
    return BacktestRequest(strategies=refs, **options, signals=signals, engine={"log_level": "OFF"})


REACT = {"entry_threshold": 0.5, "exit_threshold": 0.1, "min_confidence": 0.0,
         "max_holding_bars": 30}  # fmt: skip
CASES: dict[str, tuple[str, dict[str, Any], object]] = {
    "none": ("ema_cross", {"signal_types": ["SENTIMENT"]}, "none"),
    "signals": ("ema_cross", {"signal_types": ["SENTIMENT"]}, ["SENTIMENT"]),
    "react": ("sentiment_reaction", REACT, ["SENTIMENT"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args()
    days = math.ceil(args.bars / 1_440)
    with tempfile.TemporaryDirectory(prefix="qd-signal-bench-") as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        config = SyntheticMarketConfig(instruments=1, days=days, seed=7)
        bootstrap(home=home).synthetic.synthesize(config)
        bars = config.bars_per_instrument
        store = ParquetSignalStore(home / "catalog")
        store.append(_signals(config.start_ns, bars, seed=11))
        signal_count = store.flush()
        setup_s = time.perf_counter() - started
        desk = bootstrap(home=home)
        requests = {name: _request(desk, *case) for name, case in CASES.items()}
        best: dict[str, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for name, request in requests.items():
                t0 = time.perf_counter()
                result = desk.backtests.run(request)
                total = time.perf_counter() - t0
                row = {
                    "bars_per_s": result.facts.bars_per_second,
                    "engine_s": result.facts.wall_seconds,
                    "total_s": total,
                    "events": result.facts.events_processed,
                    "fills": result.facts.fills,
                    "signals_consumed": result.provenance.signals_consumed
                    if result.provenance
                    else 0,
                    "fills_on_signals": result.provenance.fills_on_signals
                    if result.provenance
                    else 0,
                }
                if name not in best or row["bars_per_s"] > best[name]["bars_per_s"]:
                    best[name] = row
    ratio = best["signals"]["bars_per_s"] / best["none"]["bars_per_s"]
    print(
        f"{bars:,} bars, {signal_count:,} signals (1 per {SIGNAL_EVERY} bars), "
        f"setup {setup_s:.1f} s"
    )
    print(f"{'case':<8} {'bars/s':>10} {'engine_s':>9} {'total_s':>8} {'events':>9} {'fills':>7}")
    for name, row in best.items():
        print(
            f"{name:<8} {row['bars_per_s']:>10,.0f} {row['engine_s']:>9.2f} "
            f"{row['total_s']:>8.2f} {row['events']:>9,} {row['fills']:>7,}"
        )
    same = best["signals"]["fills"] == best["none"]["fills"]
    print(f"ratio signals/none bars/s: {ratio:.3f} (same fills: {same})")
    summary = {
        "bench": "signal_replay",
        "bars": bars,
        "signals": signal_count,
        "repeat": args.repeat,
        "ratio": ratio,
        "cases": best,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
    }
    line = json.dumps(summary)
    print(line)
    if not args.no_save:
        out = BENCH / "results"
        out.mkdir(exist_ok=True)
        (out / f"signal-replay-{datetime.now(tz=UTC):%Y%m%dT%H%M%SZ}-{bars}.json").write_text(line)


if __name__ == "__main__":
    main()
