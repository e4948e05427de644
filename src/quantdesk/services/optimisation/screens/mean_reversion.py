"""Mean reversion's orders from the closes (``strategies/mean_reversion``), z-scores shared.

z depends on the lookback only, so a grid computes it once per lookback, vectorised: window
sums of the closes in integer ticks (centred on the first close: z is shift- and
scale-invariant, and small integers keep the squares exact in int64). The strategy works in
the engine's 10^16 fixed-point raw integers and rounds to float once, so its z may differ
from ours in the last bits: wherever our z lies within 1e-9 of a threshold the decision
compares against, it is recomputed exactly as the strategy does (Python integers, the same
expression), so every comparison comes out as the engine's.

The rule (``reversion_step``) is path-dependent but its state changes only at few bars:
the loop jumps from one candidate bar to the next (a search in precomputed index arrays),
so a point costs its number of decisions, not its number of bars.
"""

import math

import numpy as np

from quantdesk.domain.strategies.families import MeanReversionParameters
from quantdesk.services.columns import BoolArray, Float64Array, Int64Array
from quantdesk.services.optimisation.screens.scoring import Steps, steps_of
from quantdesk.services.optimisation.screens.series import FIXED_PRECISION

NEAR = 1e-9  # a float z this close to a threshold is recomputed exactly
_INT64_SAFE = 2**62


class ZScores:
    """z of each close in its trailing window, per lookback (NaN: none yet, or std 0)."""

    def __init__(self, ticks: Int64Array, precision: int) -> None:
        self._ticks = ticks
        self._raw_scale = 10 ** (FIXED_PRECISION - precision)
        self._cache: dict[int, Float64Array] = {}
        self._exact: dict[tuple[int, int], float] = {}

    def of(self, lookback: int) -> Float64Array:
        found = self._cache.get(lookback)
        if found is None:
            found = self._compute(lookback)
            self._cache[lookback] = found
        return found

    def _compute(self, n: int) -> Float64Array:
        ticks = self._ticks
        size = int(ticks.size)
        z: Float64Array = np.full(size, np.nan)
        if size < n:
            return z
        centred = ticks - ticks[0]
        largest = int(np.abs(centred).max())
        if largest * largest * n * n >= _INT64_SAFE:  # int64 could overflow: the exact way
            for i in range(n - 1, size):
                z[i] = self._exact_z(n, i)
            return z
        ones = np.concatenate(([0], np.cumsum(centred)))
        squares = np.concatenate(([0], np.cumsum(centred * centred)))
        total = ones[n:] - ones[:-n]
        square_total = squares[n:] - squares[:-n]
        spread = n * square_total - total * total
        numerator = n * centred[n - 1 :] - total
        positive = spread > 0
        values = np.full(spread.shape, np.nan)
        values[positive] = numerator[positive] / np.sqrt(spread[positive].astype(np.float64))
        z[n - 1 :] = values
        return z

    def exact(self, lookback: int, thresholds: tuple[float, ...]) -> Float64Array:
        """z of ``lookback`` with the values near any of ``thresholds`` made the engine's."""
        z = self.of(lookback)
        near = np.zeros(z.shape, dtype=np.bool_)
        for threshold in thresholds:
            near |= np.abs(z - threshold) <= NEAR * max(1.0, abs(threshold))
        if not near.any():
            return z
        fixed = z.copy()
        for i in np.flatnonzero(near).tolist():
            fixed[i] = self._exact_z(lookback, i)
        return fixed

    def _exact_z(self, n: int, i: int) -> float:
        """The strategy's own expression on raw fixed-point integers (NaN: std 0)."""
        key = (n, i)
        if key in self._exact:
            return self._exact[key]
        scale = self._raw_scale
        window = [int(t) * scale for t in self._ticks[i - n + 1 : i + 1].tolist()]
        total = sum(window)
        spread = n * sum(v * v for v in window) - total * total
        value = math.nan if spread <= 0 else (n * window[-1] - total) / math.sqrt(spread)
        self._exact[key] = value
        return value


def steps(parameters: MeanReversionParameters, zscores: ZScores, tradable: int) -> Steps:
    """Every decision before bar ``tradable`` (``trade_until_ns``)."""
    entry, exit_, stop = parameters.entry_zscore, parameters.exit_zscore, parameters.stop_zscore
    thresholds = (entry, -entry, exit_, -exit_) + (() if stop is None else (stop, -stop))
    z = zscores.exact(parameters.lookback, thresholds)[:tradable]
    over: BoolArray = np.zeros(z.shape, dtype=np.bool_) if stop is None else np.abs(z) >= stop
    stop_long = np.zeros(z.shape, dtype=np.bool_) if stop is None else z <= -stop
    stop_short = np.zeros(z.shape, dtype=np.bool_) if stop is None else z >= stop
    opens = _Index(((z >= entry) | (z <= -entry)) & ~over)
    longs = _Index((z >= -exit_) | stop_long)  # a long closes (or stops) here
    shorts = _Index((z <= exit_) | stop_short)
    calm = _Index(np.abs(z) < entry)  # a stopped instrument may trade again
    out: list[tuple[int, int]] = []  # (bar, position after)
    side, stopped, i = 0, False, 0
    while True:
        if stopped:  # side is 0 (a stop closes); the bar that lifts it sends nothing
            j = calm.next(i)
            stopped = False
        elif side == 0:
            j = opens.next(i)
            if j is not None:
                side = -1 if z[j] >= entry else 1
                out.append((j, side))
        else:
            j = (longs if side > 0 else shorts).next(i)
            if j is not None:
                if (stop_long if side > 0 else stop_short)[j]:
                    side, stopped = 0, True
                    out.append((j, 0))
                elif not over[j] and (z[j] >= entry if side > 0 else z[j] <= -entry):
                    side = -side  # a flip
                    out.append((j, side))
                else:
                    side = 0
                    out.append((j, 0))
        if j is None:
            return steps_of(out)
        i = j + 1


class _Index:
    """The bars where a condition holds, and the first of them at or after a bar."""

    __slots__ = ("_where",)

    def __init__(self, mask: BoolArray) -> None:
        self._where = np.flatnonzero(mask)

    def next(self, start: int) -> int | None:
        k = int(np.searchsorted(self._where, start))
        return int(self._where[k]) if k < self._where.size else None
