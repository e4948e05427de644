"""Signal replay in backtests: ``AISignalData`` interleaved with the bars by ``ts_init``.

NautilusTrader 1.221.0 streams catalog data (``chunk_size`` set) through its Rust backend,
which reads only its own types: a custom-data ``BacktestDataConfig`` fails there with
"unsupported `data_cls` for Rust parquet". :class:`SignalReplayNode` therefore takes the
signal configs out of the list the node streams, loads them with the node's own
``load_data_config`` (the PyArrow path, where ``filter_expr`` selects signal types) and
merges them into the engine's stream chunk by chunk, with the same result as a one-shot run:

- a chunk gets the signals stamped strictly before its last bar; a signal stamped at that
  very time waits for the next chunk, which may hold more bars of the same time;
- the engine sorts a chunk stably by ``ts_init`` with the bars added first, so at equal
  times bars come before signals (a view formed on a bar is acted on after that bar);
- signals at equal times keep ``signal_id`` order; the ones after the last bar (up to the
  run's end) get a final step.

It also reads whole what needs no filter: when no market data config is bounded (the runner
leaves bounds off when the data lies inside the run's range), the stream is queried without the
run's start and end, which then bound the engine alone. The rows are the same; the filtered
query held ~16 MB more all through a 1M-bar run in chunks of 100,000.

This relies on two non-public methods of ``BacktestNode`` (``_run_streaming``,
``_run_oneshot``), pinned by the engine version quantdesk requires and covered by tests.
"""

from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, Generic, TypeVar

from nautilus_trader.backtest.config import BacktestDataConfig
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.model.data import CustomData
from nautilus_trader.model.identifiers import ClientId

from quantdesk.adapters.nautilus.signal_data import SIGNAL_CLIENT_ID, AISignalData

T = TypeVar("T")


class SignalFeed(Generic[T]):
    """Signals in delivery order, handed out in steps of the market stream (pure logic)."""

    def __init__(self, items: Sequence[T], ts_init: Callable[[T], int]) -> None:
        self._items = list(items)
        self._stamps = [ts_init(item) for item in self._items]
        if any(a > b for a, b in pairwise(self._stamps)):
            raise ValueError("signals must be sorted by ts_init")
        self._next = 0

    def __len__(self) -> int:
        return len(self._items)

    def before(self, ts_ns: int) -> list[T]:
        """The signals not yet handed out stamped strictly before ``ts_ns``."""
        end = max(bisect_left(self._stamps, ts_ns, lo=self._next), self._next)
        taken = self._items[self._next : end]
        self._next = end
        return taken

    def rest(self) -> list[T]:
        taken = self._items[self._next :]
        self._next = len(self._items)
        return taken


def merged_order(
    chunks: Sequence[Sequence[int]], signals: Sequence[int], streaming: bool
) -> list[tuple[str, int]]:
    """The delivery order of bar and signal stamps, as the node below feeds the engine.

    Pure mirror of :class:`_MergingEngine` for tests: each step is sorted stably with the
    bars first, exactly as ``BacktestEngine.add_data(sort=True)`` does.
    """
    feed = SignalFeed(list(signals), lambda ts: ts)
    order: list[tuple[str, int]] = []
    if not streaming:
        step = [("bar", ts) for chunk in chunks for ts in chunk] + [
            ("signal", ts) for ts in feed.rest()
        ]
        return sorted(step, key=lambda item: item[1])
    for chunk in chunks:
        if not chunk:
            continue
        step = [("bar", ts) for ts in chunk] + [("signal", ts) for ts in feed.before(max(chunk))]
        order.extend(sorted(step, key=lambda item: item[1]))
    order.extend(("signal", ts) for ts in feed.rest())
    return order


class SignalReplayNode(BacktestNode):
    """A ``BacktestNode`` that replays ``AISignalData`` configs in streaming and one-shot runs."""

    def _run_streaming(
        self,
        run_config_id: str,
        engine: BacktestEngine,
        data_configs: list[BacktestDataConfig],
        chunk_size: int,
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> None:
        market, feed = self._split(data_configs, start, end)
        target: Any = engine
        query_start, query_end = start, end
        if all(c.start_time is None and c.end_time is None for c in market):
            target, query_start, query_end = _EngineBounds(engine, start, end), None, None
        if feed is not None:
            target = _MergingEngine(target, feed, streaming=True)
        super()._run_streaming(run_config_id, target, market, chunk_size, query_start, query_end)

    def _run_oneshot(
        self,
        run_config_id: str,
        engine: BacktestEngine,
        data_configs: list[BacktestDataConfig],
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> None:
        market, feed = self._split(data_configs, start, end)
        target = engine if feed is None else _MergingEngine(engine, feed, streaming=False)
        super()._run_oneshot(run_config_id, target, market, start, end)

    def _split(
        self,
        data_configs: list[BacktestDataConfig],
        start: str | int | None,
        end: str | int | None,
    ) -> tuple[list[BacktestDataConfig], "SignalFeed[CustomData] | None"]:
        market = [c for c in data_configs if c.data_type is not AISignalData]
        signal_configs = [c for c in data_configs if c.data_type is AISignalData]
        if not signal_configs:
            return market, None
        loaded: list[CustomData] = []
        for config in signal_configs:
            if config.client_id != SIGNAL_CLIENT_ID:
                raise ValueError(f"signal data configs need client_id={SIGNAL_CLIENT_ID!r}")
            loaded.extend(self.load_data_config(config, start, end).data)
        loaded.sort(key=lambda d: (d.ts_init, d.data.signal_id))
        return market, SignalFeed(loaded, lambda d: d.ts_init)


class _EngineBounds:
    """Stands in for the engine when the stream is read whole: the run's bounds still apply."""

    def __init__(self, engine: BacktestEngine, start: str | int | None, end: str | int | None):
        self._engine = engine
        self._start = start
        self._end = end

    def run(self, **kwargs: Any) -> None:
        self._engine.run(**{**kwargs, "start": self._start, "end": self._end})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class _MergingEngine:
    """Stands in for the engine inside the node's run loop; adds signals before each step."""

    def __init__(self, engine: Any, feed: SignalFeed[CustomData], *, streaming: bool) -> None:
        self._engine = engine
        self._feed = feed
        self._streaming = streaming
        self._horizon: int | None = None  # last market ts_init added since the last step
        self._run_kwargs: dict[str, Any] = {}
        self._client = ClientId(SIGNAL_CLIENT_ID)
        # Strategies subscribe at start, before the first signal may be due: the data client
        # has to exist by then (the engine makes it on the first custom data it is given).
        engine._add_data_client_if_not_exists(self._client)

    def add_data(
        self,
        data: list[Any],
        client_id: ClientId | None = None,
        validate: bool = True,
        sort: bool = True,
    ) -> None:
        self._engine.add_data(data=data, client_id=client_id, validate=validate, sort=sort)
        if data:
            last = max(d.ts_init for d in data)
            self._horizon = last if self._horizon is None else max(self._horizon, last)

    def run(self, **kwargs: Any) -> None:
        self._run_kwargs = kwargs
        if not self._streaming:
            due = self._feed.rest()
        elif self._horizon is not None:
            due = self._feed.before(self._horizon)
        else:
            due = []
        self._horizon = None
        if due:
            self._engine.add_data(data=due, client_id=self._client, validate=False, sort=True)
        self._engine.run(**kwargs)

    def end(self) -> None:
        rest = self._feed.rest()
        if rest and self._streaming:
            self._engine.clear_data()
            self._engine.add_data(data=rest, client_id=self._client, validate=False, sort=True)
            self._engine.run(**self._run_kwargs)
        self._engine.end()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)
