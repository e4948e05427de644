"""An actor keeping the bars the engine builds from ticks, as the strategies saw them.

A run on ticks has no catalog bars to mark its equity curve with or to measure execution
against: the ``-INTERNAL`` bars are made during the run by the data engine. Subscribing to
the same bar types shares the strategies' aggregators, so these are their very bars.
"""

import numpy as np
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig
from nautilus_trader.model.data import Bar, BarType

from quantdesk.services.columns import BarColumns


class BuiltBarsConfig(ActorConfig, frozen=True, kw_only=True):
    bar_types: list[str]


class BuiltBars(Actor):
    def __init__(self, config: BuiltBarsConfig) -> None:
        super().__init__(config)
        self._bar_types = [BarType.from_str(b) for b in config.bar_types]
        self._rows: dict[BarType, list[tuple[int, float, float, float, float, float]]] = {
            b: [] for b in self._bar_types
        }

    def on_start(self) -> None:
        for bar_type in self._bar_types:
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        rows = self._rows.get(bar.bar_type)
        if rows is not None:
            rows.append(
                (
                    bar.ts_init,
                    bar.open.as_double(),
                    bar.high.as_double(),
                    bar.low.as_double(),
                    bar.close.as_double(),
                    bar.volume.as_double(),
                )
            )

    def on_reset(self) -> None:
        for rows in self._rows.values():
            rows.clear()

    def columns(self) -> dict[str, BarColumns]:
        """Each bar type's bars, in the order the engine made them (its close times)."""
        out = {}
        for bar_type, rows in self._rows.items():
            if not rows:
                out[str(bar_type)] = BarColumns.empty()
                continue
            ts = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            values = np.array([r[1:] for r in rows], dtype=np.float64)
            out[str(bar_type)] = BarColumns(
                ts_ns=ts,
                open=values[:, 0].copy(),
                high=values[:, 1].copy(),
                low=values[:, 2].copy(),
                close=values[:, 3].copy(),
                volume=values[:, 4].copy(),
            )
        return out
