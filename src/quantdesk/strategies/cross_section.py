"""Multi-instrument families decide on complete cross-sections of bars, never on half of one.

The engine hands a strategy the bars of several instruments one by one, even when they share
a timestamp. A family trading them together (rotation, pairs) must not rank or hedge on a
mix of this minute's closes and the last minute's, so :class:`CrossSections` collects the
bars of one timestamp and releases them once every instrument's bar has arrived.

A timestamp at which some instrument has no bar (a gap: a halt, a missing row) is never
complete: it is skipped whole, for every instrument. It is not a bar of the family's clock
(lookbacks and rebalance counts advance on complete cross-sections only), so a return or a
regression always spans the same timestamps for every instrument. ``skipped`` counts them.
"""

from collections.abc import Mapping, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel


class CrossSections:
    """Collects one close per instrument per timestamp; ``add`` returns the complete ones."""

    def __init__(self, instruments: Sequence[str]) -> None:
        self._expected = frozenset(instruments)
        self._ts: int | None = None
        self._closes: dict[str, float] = {}
        self._released = False
        self.skipped = 0
        self.complete = 0

    def add(self, instrument: str, ts_ns: int, close: float) -> Mapping[str, float] | None:
        """The closes of every instrument at ``ts_ns`` once this bar completes them; else None.

        Bars come in time order; one older than the timestamp being collected, a second bar
        of an instrument at a released timestamp, or an unknown instrument is ignored.
        """
        if instrument not in self._expected:
            return None
        if self._ts is None or ts_ns > self._ts:
            if self._ts is not None and not self._released:
                self.skipped += 1
            self._ts, self._closes, self._released = ts_ns, {}, False
        elif ts_ns < self._ts or self._released:
            return None
        self._closes[instrument] = close
        if len(self._closes) < len(self._expected):
            return None
        self._released = True
        self.complete += 1
        return self._closes

    def reset(self) -> None:
        self._ts, self._closes, self._released = None, {}, False
        self.skipped = self.complete = 0


class Window:
    """The last ``size`` values of a series, as a contiguous numpy view (amortised O(1))."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer = np.empty(2 * size, dtype=np.float64)
        self._end = 0

    def append(self, value: float) -> None:
        if self._end == self._buffer.shape[0]:
            keep = self.size - 1
            self._buffer[:keep] = self._buffer[self._end - keep : self._end]
            self._end = keep
        self._buffer[self._end] = value
        self._end += 1

    @property
    def full(self) -> bool:
        return self._end >= self.size

    def values(self) -> npt.NDArray[np.float64]:
        """The last ``size`` values, oldest first (fewer before the window is full)."""
        return self._buffer[max(0, self._end - self.size) : self._end]

    def reset(self) -> None:
        self._end = 0


M = TypeVar("M", bound=BaseModel)
