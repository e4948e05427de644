"""Correlation shift: how much the correlation of two instruments' returns just changed.

Bars of the two instruments are paired on equal close times (bars only one of them has are
left out) and turned into log returns. At a signal's bar, ``current`` is the Pearson
correlation of the last ``window`` paired returns and ``previous`` that of the ``window``
returns before them; the value is ``change = current - previous`` (in [-2, 2]) and
``correlation = current``.

Confidence is ``1 - p`` of a two-sided Fisher z-test of ``current != previous``:
``z = (atanh(current) - atanh(previous)) / sqrt(2 / (window - 3))`` and ``p = erfc(|z| /
sqrt(2))``. It reads as "how sure the correlation really moved": near 0 for a change the
window size explains by chance, near 1 for a change it cannot. (The two windows are treated
as independent samples, as the test assumes; returns are close enough to that.) A signal is
skipped when either window has no spread (correlation undefined). Only returns up to the
signal's bar enter it.
"""

import math
from dataclasses import dataclass

import numpy as np

from quantdesk.domain.errors import InvalidInputError
from quantdesk.domain.signals import AISignal, CorrelationShiftValue, SignalType
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.ports import MarketDataCatalog
from quantdesk.services.signal_producers.base import (
    DEFAULT_LATENCY_NS,
    ProduceRequest,
    SignalStamp,
    emission_indices,
    load_closes,
    require_bars,
)

_ATANH_CLIP = 1.0 - 1e-12


@dataclass(frozen=True)
class CorrelationConfig:
    window: int = 120

    def __post_init__(self) -> None:
        if self.window < 4:
            raise ValueError("window must be at least 4 returns (the z-test needs n > 3)")


@dataclass(frozen=True, eq=False)
class CorrelationShifts:
    current: Float64Array
    previous: Float64Array
    change: Float64Array
    z: Float64Array
    p_value: Float64Array


def window_correlations(
    x: Float64Array, y: Float64Array, ends: Int64Array, window: int
) -> Float64Array:
    """Pearson correlation of ``x[e-window+1 : e+1]`` and ``y[...]`` for each end ``e``.

    Two-pass per window (means first), so the result is as exact as the data allow and
    depends only on the window's own values. NaN where a window has no spread.
    """
    if ends.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    if int(ends.min()) < window - 1 or int(ends.max()) >= x.shape[0]:
        raise ValueError("every window must lie inside the series")
    index = ends[:, None] + np.arange(1 - window, 1, dtype=np.int64)[None, :]
    a = x[index]
    b = y[index]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(denominator > 0, (a * b).sum(axis=1) / denominator, np.nan)
    out: Float64Array = np.clip(rho, -1.0, 1.0)
    return out


def fisher_z_test(
    current: Float64Array, previous: Float64Array, n_current: int, n_previous: int
) -> tuple[Float64Array, Float64Array]:
    """Two-sided test of equal correlations in two independent samples: (z, p)."""
    spread = math.sqrt(1.0 / (n_current - 3) + 1.0 / (n_previous - 3))
    z_current = np.arctanh(np.clip(current, -_ATANH_CLIP, _ATANH_CLIP))
    z_previous = np.arctanh(np.clip(previous, -_ATANH_CLIP, _ATANH_CLIP))
    z = (z_current - z_previous) / spread
    p = np.array(
        [math.erfc(abs(v) / math.sqrt(2.0)) if math.isfinite(v) else math.nan for v in z.tolist()],
        dtype=np.float64,
    )
    return z, p


def correlation_shifts(
    x: Float64Array, y: Float64Array, ends: Int64Array, window: int
) -> CorrelationShifts:
    """The pure core: shifts at each return index ``e`` (needs ``e >= 2 * window - 1``)."""
    current = window_correlations(x, y, ends, window)
    previous = window_correlations(x, y, ends - window, window)
    z, p = fisher_z_test(current, previous, window, window)
    return CorrelationShifts(current, previous, current - previous, z, p)


class CorrelationShiftProducer:
    """Correlation shifts of an instrument against another, every ``every`` bars (60)."""

    name = "correlation_shift"
    signal_type = SignalType.CORRELATION_SHIFT
    source_model = "quantdesk.correlation.fisher"
    model_version = "1"
    max_age_ns = 300_000_000_000
    latency_ns = DEFAULT_LATENCY_NS
    default_every = 60

    def __init__(self, catalog: MarketDataCatalog, config: CorrelationConfig | None = None) -> None:
        self._catalog = catalog
        self._config = config or CorrelationConfig()

    def produce(self, request: ProduceRequest) -> list[AISignal]:
        other = request.other_instrument_id
        if other is None:
            raise InvalidInputError("a correlation shift needs a second instrument (--other)")
        if other == request.instrument_id:
            raise InvalidInputError("the two instruments of a correlation shift must differ")
        window = self._config.window
        spec = request.spec()
        every = request.cadence(self.default_every)
        a = load_closes(
            self._catalog, request.instrument_id, spec, request.start_ns, request.end_ns
        )
        b = load_closes(self._catalog, other, spec, request.start_ns, request.end_ns)
        ts, in_a, in_b = np.intersect1d(a.ts_ns, b.ts_ns, assume_unique=True, return_indices=True)
        pair = f"{a.bar_type} and {b.bar_type}"
        require_bars(self.name, pair, int(ts.shape[0]), 2 * window + 1, "2 windows + 1, paired")
        x = np.diff(np.log(a.close[in_a]))
        y = np.diff(np.log(b.close[in_b]))
        bars = emission_indices(int(ts.shape[0]), 2 * window, every)
        shifts = correlation_shifts(x, y, bars - 1, window)
        inputs = (f"bar_type:{a.bar_type}", f"bar_type:{b.bar_type}")
        stamp = SignalStamp.for_run(
            self, request, {"window": window, "every": every}, inputs, int(ts[0])
        )
        signals = []
        for k, t in enumerate(bars.tolist()):
            change, current, p = (
                float(shifts.change[k]),
                float(shifts.current[k]),
                float(shifts.p_value[k]),
            )
            if not (math.isfinite(change) and math.isfinite(p)):
                continue
            signals.append(
                stamp.signal(
                    ts_event=int(ts[t]),
                    first_used_ns=int(ts[t - 2 * window]),
                    value=CorrelationShiftValue(
                        other_instrument_id=other, change=change, correlation=current
                    ),
                    confidence=1.0 - p,
                    metadata={
                        "previous_correlation": f"{shifts.previous[k]:.9g}",
                        "fisher_z": f"{shifts.z[k]:.6g}",
                        "p_value": f"{p:.6g}",
                    },
                )
            )
        return signals
