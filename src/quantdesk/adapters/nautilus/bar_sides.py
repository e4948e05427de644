"""Single-sided bars made tradable: the other side synthesised with the venue's spread.

The engine makes a market from BID (or ASK) bars only together with the other side's bars
of the same time; alone they leave every market order rejected with "no market"
(nautilus-notes §9.1, §10). With a venue ``bar_spread``, each streamed BID bar gets an ASK
bar shifted up by the spread (an ASK bar a BID bar shifted down), added just before it: the
engine pairs them into quotes (open, high, low, close), so a market buy fills at the ask and
a sell at the bid, of the bar that was just seen. Strategies still see only the bars asked for.
"""

from decimal import Decimal
from typing import Any

from nautilus_trader.backtest.config import BacktestDataConfig
from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import FIXED_SCALAR, Price

from quantdesk.adapters.nautilus.signal_replay import SignalReplayNode

_SIDES = {"BID": "ASK", "ASK": "BID"}


def companion(bar_type: str) -> str | None:
    """The other side's bar type of a BID or ASK bar type, None for LAST and MID."""
    for side, other in _SIDES.items():
        marker = f"-{side}-"
        if marker in bar_type:
            return bar_type.replace(marker, f"-{other}-")
    return None


class QuoteSidesNode(SignalReplayNode):
    """``SignalReplayNode`` whose engine receives, before each single-sided bar, the other side.

    ``spreads`` maps a streamed bar type to its spread (price units, >= 0).
    """

    def __init__(self, configs: list[Any], spreads: dict[str, Decimal]) -> None:
        super().__init__(configs=configs)
        self._sides: dict[BarType, tuple[BarType, int]] = {}
        for bar_type, spread in spreads.items():
            other = companion(bar_type)
            if other is None:
                continue
            raw = int(spread * Decimal(int(FIXED_SCALAR)))
            self._sides[BarType.from_str(bar_type)] = (
                BarType.from_str(other),
                raw if "-BID-" in bar_type else -raw,
            )

    def _run_streaming(
        self,
        run_config_id: str,
        engine: BacktestEngine,
        data_configs: list[BacktestDataConfig],
        chunk_size: int,
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> None:
        target: Any = _CompanionBars(engine, self._sides) if self._sides else engine
        super()._run_streaming(run_config_id, target, data_configs, chunk_size, start, end)

    def _run_oneshot(
        self,
        run_config_id: str,
        engine: BacktestEngine,
        data_configs: list[BacktestDataConfig],
        start: str | int | None = None,
        end: str | int | None = None,
    ) -> None:
        target: Any = _CompanionBars(engine, self._sides) if self._sides else engine
        super()._run_oneshot(run_config_id, target, data_configs, start, end)


class _CompanionBars:
    """Stands in for the engine: each single-sided bar goes in right after its other side
    (the engine sorts stably by ``ts_init``, so the pair stays in that order)."""

    def __init__(self, engine: Any, sides: dict[BarType, tuple[BarType, int]]) -> None:
        self._engine = engine
        self._sides = sides

    def add_data(
        self,
        data: list[Any],
        client_id: Any = None,
        validate: bool = True,
        sort: bool = True,
    ) -> None:
        out: list[Any] = []
        sides = self._sides
        for item in data:
            side = sides.get(item.bar_type) if type(item) is Bar else None
            if side is not None:
                out.append(_shifted(item, *side))
            out.append(item)
        self._engine.add_data(data=out, client_id=client_id, validate=validate, sort=sort)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _shifted(bar: Bar, bar_type: BarType, raw: int) -> Bar:
    precision = bar.open.precision
    return Bar(
        bar_type,
        Price.from_raw(bar.open.raw + raw, precision),
        Price.from_raw(bar.high.raw + raw, precision),
        Price.from_raw(bar.low.raw + raw, precision),
        Price.from_raw(bar.close.raw + raw, precision),
        bar.volume,
        bar.ts_event,
        bar.ts_init,
    )
