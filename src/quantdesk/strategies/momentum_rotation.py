"""Momentum rotation: hold the instruments that rose most over the lookback, re-ranked often.

One strategy trades every instrument of the definition. Its clock is the complete
cross-section (see ``cross_section``): a timestamp counts once every instrument's bar for it
has arrived; a timestamp where one instrument has no bar is skipped whole, for all of them.
On cross-section ``k`` (0-based) each instrument's lookback return is ``close_k /
close_{k - lookback} - 1``; the first ranking is at ``k = lookback``, then one every
``rebalance_every`` cross-sections.

Ranking: return descending, ties by instrument id ascending (a total order, the same in
every run). The first ``top_n`` are held long ``trade_size`` each. With ``long_only`` off the
last ``top_n`` of the same order (the laggards, ``bottom_n = top_n``) are held short, which
needs ``2 * top_n <= instruments``; long-only needs ``top_n < instruments`` (holding all of
them is no rotation). Both are refused at construction otherwise.

A rebalance sends every exit first (instrument id order), then every entry: an instrument
whose exit the risk gate denied is not re-entered the other way. A holding kept in the same
direction is left as it is (no top-up if the gate once reduced it).
"""

from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from typing import ClassVar

from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId

from quantdesk.domain.backtest_checks import ParameterValueError
from quantdesk.domain.strategies.families import MomentumRotationParameters
from quantdesk.strategies.base import FamilyConfig, FamilyStrategy, family_parameters
from quantdesk.strategies.cross_section import CrossSections


class MomentumRotationConfig(FamilyConfig, frozen=True, kw_only=True):
    lookback: int = 1440
    rebalance_every: int = 60
    top_n: int = 1
    trade_size: Decimal
    long_only: bool = True


def rotation_targets(returns: Mapping[str, float], top_n: int, long_only: bool) -> dict[str, int]:
    """Instrument -> +1 (hold long), -1 (hold short) or 0 (flat), from lookback returns."""
    ranked = sorted(returns, key=lambda instrument: (-returns[instrument], instrument))
    targets = dict.fromkeys(ranked, 0)
    if not long_only:
        for instrument in ranked[len(ranked) - top_n :]:
            targets[instrument] = -1
    for instrument in ranked[:top_n]:
        targets[instrument] = 1
    return targets


class MomentumRotation(FamilyStrategy):
    quantity_parameters: ClassVar[frozenset[str]] = frozenset({"trade_size"})

    def __init__(self, config: MomentumRotationConfig) -> None:
        family_parameters(MomentumRotationParameters, config, "parameters")
        super().__init__(config)
        count = len(config.instrument_ids)
        if config.long_only and config.top_n >= count:
            raise ParameterValueError(
                "top_n", f"must be below the number of instruments ({count}) to rotate at all"
            )
        if not config.long_only and 2 * config.top_n > count:
            raise ParameterValueError(
                "top_n",
                f"long/short holds top_n leaders and top_n laggards: at most half of the "
                f"{count} instruments",
            )
        self._lookback = config.lookback
        self._rebalance_every = config.rebalance_every
        self._top_n = config.top_n
        self._long_only = config.long_only
        self.warmup_bars = config.lookback + 1
        self._ordered = sorted(self.instruments, key=lambda iid: iid.value)
        self._sections = CrossSections([iid.value for iid in self.instruments])
        self._closes: dict[str, deque[float]] = {
            iid.value: deque(maxlen=config.lookback + 1) for iid in self.instruments
        }
        self.rebalances = 0

    def on_start(self) -> None:
        super().on_start()
        self.subscribe_all_bars()

    def on_bar(self, bar: Bar) -> None:
        iid = self.instrument_of.get(bar.bar_type)
        if iid is None:
            return
        closes = self._sections.add(iid.value, bar.ts_event, bar.close.as_double())
        if closes is None:
            return
        for instrument, close in closes.items():
            self._closes[instrument].append(close)
        k = self._sections.complete - 1
        if k < self._lookback or (k - self._lookback) % self._rebalance_every:
            return
        if not self.may_trade(bar.ts_event):
            return
        returns = {i: history[-1] / history[0] - 1.0 for i, history in self._closes.items()}
        self._rebalance(rotation_targets(returns, self._top_n, self._long_only))

    def _rebalance(self, targets: Mapping[str, int]) -> None:
        self.rebalances += 1
        held = {iid: _sign(self.net_position(iid)) for iid in self._ordered}
        exit_denied: set[InstrumentId] = set()
        for iid in self._ordered:
            if held[iid] != 0 and held[iid] != targets[iid.value]:
                denied = self.orders_denied
                self.flatten(iid)
                if self.orders_denied != denied:
                    exit_denied.add(iid)
        for iid in self._ordered:
            target = targets[iid.value]
            if target != 0 and held[iid] != target and iid not in exit_denied:
                side = OrderSide.BUY if target > 0 else OrderSide.SELL
                self._submit_market(iid, side, self.quantity(iid))

    def on_reset(self) -> None:
        self._sections.reset()
        for history in self._closes.values():
            history.clear()
        self.rebalances = 0


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)
