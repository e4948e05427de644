"""Regime prediction: a volatility x trend classifier on log returns, with class probabilities.

The model (``quantdesk.regime.vol_trend``, version 1), for the log returns ``r`` up to a bar:

- realised volatility ``rv = sqrt(mean(r^2))`` over the last ``vol_window`` returns;
- ``vol_z``: the z-score of ``log(rv)`` against the expanding mean and standard deviation
  (ddof=1) of every ``log(rv)`` so far, the current one included. High means "more volatile
  than this instrument usually is", measured only on the past;
- ``trend_z = sum(r) / (rms(r) * sqrt(trend_window))`` over the last ``trend_window`` returns:
  the drift in units of its own noise, like a t-statistic (0 when the window is flat);
- ``P(volatile) = logistic(vol_sharpness * vol_z)``, ``P(bull) = logistic(trend_sharpness *
  trend_z)``, and the four classes are their products: ``bull_quiet = P(bull) * (1 -
  P(volatile))`` and so on. That is a softmax over four logits, so the probabilities sum to 1
  (renormalised with ``math.fsum`` to stay within 1e-9).

The label is the most probable class and ``confidence`` is its probability: 0.25 means the
model cannot tell the classes apart, 1 that one class holds all the mass. Every quantity at a
bar uses only returns up to that bar (rolling sums and expanding moments are prefix sums), so
later bars never change an earlier signal. Chosen over a hidden Markov model because it needs
no fit, is cheap to recompute at every bar and can be explained in one paragraph.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from quantdesk.domain.signals import AISignal, RegimeValue, SignalType
from quantdesk.services.columns import Float64Array
from quantdesk.services.ports import MarketDataCatalog
from quantdesk.services.signal_producers.base import (
    DEFAULT_LATENCY_NS,
    ProduceRequest,
    SignalStamp,
    emission_indices,
    load_enough_closes,
)

REGIME_LABELS = ("bull_quiet", "bull_volatile", "bear_quiet", "bear_volatile")


@dataclass(frozen=True)
class RegimeConfig:
    vol_window: int = 60
    trend_window: int = 60
    min_history: int = 120  # realised-vol observations before its z-score is trusted
    vol_sharpness: float = 2.0
    trend_sharpness: float = 1.0

    def __post_init__(self) -> None:
        if self.vol_window < 2 or self.trend_window < 2 or self.min_history < 2:
            raise ValueError("vol_window, trend_window and min_history must be at least 2")
        if not (self.vol_sharpness > 0 and self.trend_sharpness > 0):
            raise ValueError("sharpness must be > 0")

    @property
    def warmup_returns(self) -> int:
        """Returns needed before the first classification (equal to its bar index)."""
        return max(self.vol_window + self.min_history - 1, self.trend_window)


@dataclass(frozen=True, eq=False)
class RegimeFeatures:
    """Per return index ``j`` (the bar ``j + 1``): NaN where the warm-up is not over."""

    vol_z: Float64Array
    trend_z: Float64Array
    probabilities: Float64Array  # shape (len, 4), columns in REGIME_LABELS order


def rolling_sum(values: Float64Array, window: int) -> Float64Array:
    """Sum of the last ``window`` values at each index (NaN before), from prefix sums."""
    prefix = np.concatenate(([0.0], np.cumsum(values)))
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= window:
        out[window - 1 :] = prefix[window:] - prefix[:-window]
    return out


def rolling_rms(values: Float64Array, window: int) -> Float64Array:
    squares = rolling_sum(values * values, window)
    out: Float64Array = np.sqrt(np.maximum(squares, 0.0) / window)
    return out


def expanding_zscore(values: Float64Array, min_count: int) -> Float64Array:
    """``(x - mean) / std(ddof=1)`` over the finite values so far, the current one included.

    ``values`` is a NaN prefix then finite values. NaN until ``min_count`` values are seen;
    0 where the history has no spread. Moments are taken around the first value to keep the
    prefix sums well conditioned.
    """
    out = np.full(values.shape[0], np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    if finite.shape[0] == 0:
        return out
    start = int(finite[0])
    x = values[start:] - values[start]
    count = np.arange(1, x.shape[0] + 1, dtype=np.float64)
    mean = np.cumsum(x) / count
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = (np.cumsum(x * x) - count * mean * mean) / (count - 1)
        std = np.sqrt(np.maximum(variance, 0.0))
        z = np.where(std > 0, (x - mean) / std, 0.0)
    z[: min_count - 1] = np.nan
    out[start:] = z
    return out


def logistic(x: Float64Array) -> Float64Array:
    out: Float64Array = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def classify_regimes(returns: Float64Array, config: RegimeConfig) -> RegimeFeatures:
    """The pure core: features and class probabilities at every return index."""
    rv = rolling_rms(returns, config.vol_window)
    with np.errstate(divide="ignore"):
        log_rv = np.log(np.maximum(rv, 1e-300))
    log_rv[np.isnan(rv)] = np.nan
    vol_z = expanding_zscore(log_rv, config.min_history)
    drift = rolling_sum(returns, config.trend_window)
    noise = rolling_rms(returns, config.trend_window) * math.sqrt(config.trend_window)
    with np.errstate(invalid="ignore", divide="ignore"):
        trend_z = np.where(noise > 0, drift / noise, 0.0)
    trend_z[np.isnan(drift)] = np.nan
    p_volatile = logistic(config.vol_sharpness * vol_z)
    p_bull = logistic(config.trend_sharpness * trend_z)
    probabilities = np.column_stack(
        (
            p_bull * (1.0 - p_volatile),
            p_bull * p_volatile,
            (1.0 - p_bull) * (1.0 - p_volatile),
            (1.0 - p_bull) * p_volatile,
        )
    )
    return RegimeFeatures(vol_z=vol_z, trend_z=trend_z, probabilities=probabilities)


def regime_value(probabilities: Float64Array) -> tuple[RegimeValue, float]:
    """The value and confidence of one row of class probabilities."""
    row = [float(p) for p in probabilities]
    total = math.fsum(row)
    row = [p / total for p in row]
    best = max(range(len(row)), key=lambda i: (row[i], -i))
    value = RegimeValue(
        label=REGIME_LABELS[best], probabilities=dict(zip(REGIME_LABELS, row, strict=True))
    )
    return value, row[best]


class RegimeProducer:
    """Regime predictions for one instrument every ``every`` bars (default 60)."""

    name = "regime"
    signal_type = SignalType.REGIME_PREDICTION
    source_model = "quantdesk.regime.vol_trend"
    model_version = "1"
    max_age_ns = 300_000_000_000  # 5 minutes between the bar close and the signal at most
    latency_ns = DEFAULT_LATENCY_NS
    default_every = 60

    def __init__(self, catalog: MarketDataCatalog, config: RegimeConfig | None = None) -> None:
        self._catalog = catalog
        self._config = config or RegimeConfig()

    def produce(self, request: ProduceRequest) -> list[AISignal]:
        config = self._config
        spec = request.spec()
        every = request.cadence(self.default_every)
        warmup = config.warmup_returns
        series = load_enough_closes(
            self._catalog, request, spec, self.name, warmup + 1, "vol window + history"
        )
        features = classify_regimes(series.log_returns(), config)
        stamp = SignalStamp.for_series(self, request, {**asdict(config), "every": every}, series)
        signals = []
        for t in emission_indices(len(series), warmup, every).tolist():
            row = features.probabilities[t - 1]
            if not bool(np.all(np.isfinite(row))):
                continue
            value, confidence = regime_value(row)
            signals.append(
                stamp.signal(
                    ts_event=int(series.ts_ns[t]),
                    first_used_ns=int(series.ts_ns[0]),
                    value=value,
                    confidence=confidence,
                    metadata={
                        "vol_z": f"{features.vol_z[t - 1]:.6g}",
                        "trend_z": f"{features.trend_z[t - 1]:.6g}",
                    },
                )
            )
        return signals
