"""A backtest runner for sweeps: what one trial read, the next one does not read again.

``NautilusBacktestRunner`` builds a ``BacktestNode`` per run, which queries the catalog for
the instruments, streams the bars from Parquet, and after the run collects the whole heap
(~70 ms in a process holding the engine's modules) to hand the memory back. For a single
backtest that is right; for a worker running hundreds of trials over the same data it is the
part of each trial that does not depend on the trial. :class:`WarmBacktestRunner` keeps, per
process:

- **tapes** (:mod:`warm_tape`): the exact calls the node made on its engine (each chunk of
  data as added, after quantdesk's own transforms: open ticks for ``next_open`` venues, the
  synthesised other side of single-sided bars; each ``run``/``clear_data``/``end``), keyed by
  the catalog files (path, size, mtime), the data configs, the range, the chunk size and the
  transforms. A trial with the same key replays the tape: the engine sees the same objects in
  the same order as the node would have fed it, so fills, positions and risk events are
  bit-identical (the contract test pins this over sequences of plans);
- the instruments the node would have queried, keyed the same way;
- a full garbage collection every ``collect_every`` runs rather than after each.

The engine itself is built fresh for each trial, from the same ``BacktestRunConfig`` and in
the same order as the node builds it (strategies at construction, then venues, instruments,
then quantdesk's actors): ``BacktestEngine.reset()`` keeps state a fresh engine would not
have (the fill model's random generator is not reseeded, the risk engine keeps its trading
state after a halt, ``clear_actors`` leaves the disposed recorder's and guard's message-bus
handlers subscribed and the next-open hold's endpoint registered). Measured on the tape of
2,880 bars: build + dispose around a replay cost ~2 ms, reset + clear + re-adding the
strategies ~1 ms; reuse would save ~1 ms a trial and put identity at risk.

Runs that replay AI signals (their stream depends on the signal store, not only the catalog)
and runs without chunks (``engine.chunk_size`` None: one-shot load) go to the node runner.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from nautilus_trader.backtest.config import BacktestDataConfig, BacktestRunConfig
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from quantdesk.adapters.nautilus.backtest import (
    NautilusBacktestRunner,
    _engine_refusals,
    engine_run_of,
)
from quantdesk.adapters.nautilus.catalog import ParquetCatalog
from quantdesk.adapters.nautilus.memory import release_freed_memory
from quantdesk.adapters.nautilus.next_open import OpenTicksNode
from quantdesk.adapters.nautilus.next_open import hold_instruments as next_open_instruments
from quantdesk.adapters.nautilus.tick_feeds import bar_spreads
from quantdesk.adapters.nautilus.warm_tape import Tape, TapingEngine
from quantdesk.domain.backtest_plan import RunPlan
from quantdesk.services.ports import EngineRun

_MINUTE_NS = 60_000_000_000
_PROGRESS_STEPS = 200  # as the node runner: the recorder's progress interval
TAPE_ITEMS_MAX = 2_000_000
"""Data objects all tapes together may hold (~300 MB of bars); the oldest tapes go first.
A longer stream is not taped: it runs as on the node every time (memory bounded by chunks)."""


def cold_reason(plan: RunPlan) -> str | None:
    """Why a plan runs on the node runner rather than warm (None: it runs warm)."""
    if plan.request.replays_signals:
        return "it replays AI signals (their stream depends on the signal store)"
    if plan.request.engine.chunk_size is None:
        return "it loads its data in one shot (engine chunk_size None)"
    if plan.tick_feeds:
        return "it streams ticks or book deltas (tapes hold bars)"
    return None


class WarmBacktestRunner(NautilusBacktestRunner):
    """The node runner's results, bit for bit, without re-reading what an earlier run read.

    ``tape_items_max``: data objects the tapes may hold in all; ``collect_every``: runs
    between full garbage collections (1: after every run, as the node runner)."""

    def __init__(
        self,
        catalog: ParquetCatalog,
        *,
        tape_items_max: int = TAPE_ITEMS_MAX,
        collect_every: int = 20,
    ) -> None:
        super().__init__(catalog)
        self._tapes: OrderedDict[tuple[Any, ...], Tape] = OrderedDict()
        self._tape_items_max = tape_items_max
        self._collect_every = max(collect_every, 1)
        self._instruments: dict[tuple[Any, ...], list[Any]] = {}
        self._runs = 0
        self.warm_runs = 0  # runs that replayed a tape (for tests and benches)
        self.cold_runs = 0  # runs handed to the node runner

    def run(self, plan: RunPlan, on_progress: Callable[[int], None] | None = None) -> EngineRun:
        if cold_reason(plan) is not None:
            self.cold_runs += 1
            return super().run(plan, on_progress)
        self.check(plan)
        try:
            return self._warm_run(plan, on_progress)
        finally:
            self._runs += 1
            if self._runs % self._collect_every == 0:
                release_freed_memory()

    # the data kept between runs ----------------------------------------------------------------

    def _files(self, plan: RunPlan) -> tuple[Any, ...]:
        """What the catalog holds for the plan's bars and instruments, by file identity: an
        ingest between two trials changes it, and the tape is read again."""
        catalog = self._catalog
        paths = [p for b in plan.bar_types for p in catalog._bar_dir(b).glob("*.parquet")]
        paths += [p for i in plan.instruments for p in catalog._instrument_files(i)]
        stats = []
        for path in sorted(paths):
            stat = path.stat()
            stats.append((str(path), stat.st_size, stat.st_mtime_ns))
        return tuple(stats)

    def _keep(self, key: tuple[Any, ...], tape: Tape) -> None:
        if not tape.replayable or tape.items > self._tape_items_max:
            return
        self._tapes[key] = tape
        while sum(t.items for t in self._tapes.values()) > self._tape_items_max:
            self._tapes.popitem(last=False)

    # one run -----------------------------------------------------------------------------------

    def _warm_run(self, plan: RunPlan, on_progress: Callable[[int], None] | None) -> EngineRun:
        request = plan.request
        config = self._run_config(plan)
        spreads = bar_spreads(plan)
        fill_at = {v: request.venue(v).fill_at for v in plan.venue_names}
        opens = next_open_instruments(fill_at, plan.instruments)
        open_bars = [plan.marks[i] for i in opens]
        files = self._files(plan)
        key = (
            files,
            tuple(_config_key(c) for c in config.data),
            config.start,
            config.end,
            config.chunk_size,
            tuple(sorted((b, str(s)) for b, s in spreads.items())),
            tuple(sorted(open_bars)),
        )
        node = _WarmNode([config], spreads, open_bars, self._instruments, files)
        try:
            with _engine_refusals("building"):
                node.build()
            engine = node.get_engine(config.id)
            assert engine is not None  # built just above
            recorder, guard = self._join(plan, engine, on_progress)
            tape = self._tapes.get(key)
            started = time.perf_counter()
            with _engine_refusals("running"):
                if tape is None:
                    taping = TapingEngine(engine, self._tape_items_max)
                    _stream(node, config, taping)
                    self._keep(key, taping.tape)
                else:
                    self._tapes.move_to_end(key)
                    tape.play(engine, config.id)
                    self.warm_runs += 1
                engine.clear_data()  # as the node does after its run
            wall = time.perf_counter() - started
            result = engine.get_result()
            return engine_run_of(plan, engine, recorder, guard, int(result.iterations), wall)
        finally:
            engine = node.get_engine(config.id)
            if engine is not None:
                engine.cache.reset()
            node.dispose()


def _config_key(config: BacktestDataConfig) -> bytes:
    json: Callable[[], bytes] = config.json
    return json()


def _stream(node: "_WarmNode", config: BacktestRunConfig, engine: TapingEngine) -> None:
    """The node's own streaming (with quantdesk's transforms) into the taping engine."""
    chunk_size = config.chunk_size
    assert chunk_size is not None  # one-shot plans run cold
    node._run_streaming(config.id, engine, config.data, chunk_size, config.start, config.end)


class _KeptInstruments:
    """The node's catalog for one data config, its instrument queries answered from memory
    (per file set); everything else (the bar stream) goes to the catalog the node opens."""

    def __init__(
        self,
        config: BacktestDataConfig,
        kept: dict[tuple[Any, ...], list[Any]],
        files: tuple[Any, ...],
    ) -> None:
        self._config = config
        self._opened: ParquetDataCatalog | None = None
        self._kept = kept
        self._files = files

    @property
    def _catalog(self) -> ParquetDataCatalog:
        if self._opened is None:
            self._opened = BacktestNode.load_catalog(self._config)
        return self._opened

    def instruments(self, instrument_ids: list[str] | None = None, **kwargs: Any) -> Any:
        if kwargs:
            return self._catalog.instruments(instrument_ids=instrument_ids, **kwargs)
        key = (self._files, None if instrument_ids is None else tuple(map(str, instrument_ids)))
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = list(
                self._catalog.instruments(instrument_ids=instrument_ids) or []
            )
        return list(found)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)


class _WarmNode(OpenTicksNode):
    """The node runner's node, its catalog queries for instruments answered from memory."""

    def __init__(
        self,
        configs: list[Any],
        spreads: dict[str, Any],
        opens: Sequence[str],
        kept: dict[tuple[Any, ...], list[Any]],
        files: tuple[Any, ...],
    ) -> None:
        super().__init__(configs, spreads, opens)
        self._kept = kept
        self._files = files

    def load_catalog(self, config: BacktestDataConfig) -> Any:  # type: ignore[override]
        return _KeptInstruments(config, self._kept, self._files)
