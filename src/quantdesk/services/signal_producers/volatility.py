"""Volatility forecasts: EWMA (RiskMetrics) and GARCH(1,1), annualised, with a horizon.

Both model zero-mean log returns per bar. Annualised volatility is
``sqrt(mean forecast variance per bar over the horizon * bars per year)``, bars per year from
the bar spec assuming continuous trading (``periods_per_year`` overrides it for session
markets). The horizon is ``horizon_bars`` bars (``horizon_ns`` in the value).

- EWMA: ``v[j] = lam * v[j-1] + (1 - lam) * r[j]^2``, ``v[0] = r[0]^2``: the variance expected
  for the next return after seeing ``r[0..j]``; flat over any horizon. ``confidence = 1 -
  lam^n`` for ``n`` returns seen: the share of the EWMA's weight that rests on observed data
  rather than on the seed.
- GARCH(1,1): parameters are fitted by maximum likelihood (port ``GarchFitter``, the ``arch``
  package) on the last ``fit_window`` returns up to the signal's bar only. Fitting is the slow
  part (tens of ms), so the model is refitted every ``refit_every`` signals; between refits the
  last fitted parameters filter the variance forward through the new returns, so every signal
  still reflects every return up to its bar. The trade-off: parameters can be up to
  ``refit_every * every`` bars old; a rolling rather than expanding window keeps each fit
  bounded in time and lets parameters follow regime changes. The h-step forecast is
  ``E[s2(t+k)] = omega + (alpha + beta) * E[s2(t+k-1)]``. ``confidence = min(1, n_fit /
  fit_window)``, halved when the optimiser did not converge and halved when ``alpha + beta >=
  1`` (no finite long-run variance).

A signal is skipped where the forecast variance is 0 (a window of unchanged closes).
"""

from dataclasses import asdict, dataclass

import numpy as np

from quantdesk.domain.signals import AISignal, SignalType, VolatilityForecastValue
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.ports import GarchFit, GarchFitter, MarketDataCatalog
from quantdesk.services.signal_producers.base import (
    DEFAULT_LATENCY_NS,
    ProduceRequest,
    SignalStamp,
    emission_indices,
    load_enough_closes,
    periods_per_year,
)


@dataclass(frozen=True)
class EwmaConfig:
    lam: float = 0.94  # RiskMetrics
    min_returns: int = 50
    horizon_bars: int = 60
    periods_per_year: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.lam < 1.0:
            raise ValueError("lam must be in (0, 1)")
        if self.min_returns < 1 or self.horizon_bars < 1:
            raise ValueError("min_returns and horizon_bars must be at least 1")


@dataclass(frozen=True)
class GarchConfig:
    fit_window: int = 2_000
    min_fit_returns: int = 250
    refit_every: int = 10  # signals
    horizon_bars: int = 60
    periods_per_year: float | None = None

    def __post_init__(self) -> None:
        if not 10 <= self.min_fit_returns <= self.fit_window:
            raise ValueError("need 10 <= min_fit_returns <= fit_window")
        if self.refit_every < 1 or self.horizon_bars < 1:
            raise ValueError("refit_every and horizon_bars must be at least 1")


def ewma_variance(returns: Float64Array, lam: float) -> Float64Array:
    """The pure EWMA core: next-return variance after each return (see the module doc)."""
    out = np.empty(returns.shape[0], dtype=np.float64)
    if returns.shape[0] == 0:
        return out
    weight = 1.0 - lam
    squares = (returns * returns).tolist()
    v = squares[0]
    out[0] = v
    for j in range(1, len(squares)):
        v = lam * v + weight * squares[j]
        out[j] = v
    return out


def garch_filter(fit: GarchFit, variance: float, returns: Float64Array) -> float:
    """Carry a next-return variance forward through ``returns`` with fixed parameters."""
    for r in returns.tolist():
        variance = fit.omega + fit.alpha * r * r + fit.beta * variance
    return variance


def garch_term_variances(fit: GarchFit, next_variance: float, horizon: int) -> Float64Array:
    """Expected variance of each of the next ``horizon`` returns."""
    out = np.empty(horizon, dtype=np.float64)
    persistence = fit.alpha + fit.beta
    v = next_variance
    for k in range(horizon):
        out[k] = v
        v = fit.omega + persistence * v
    return out


class EwmaVolatilityProducer:
    """EWMA volatility forecasts every ``every`` bars (default 60)."""

    name = "ewma_volatility"
    signal_type = SignalType.VOLATILITY_FORECAST
    source_model = "quantdesk.volatility.ewma"
    model_version = "1"
    max_age_ns = 300_000_000_000
    latency_ns = DEFAULT_LATENCY_NS
    default_every = 60

    def __init__(self, catalog: MarketDataCatalog, config: EwmaConfig | None = None) -> None:
        self._catalog = catalog
        self._config = config or EwmaConfig()

    def produce(self, request: ProduceRequest) -> list[AISignal]:
        config = self._config
        spec = request.spec()
        every = request.cadence(self.default_every)
        per_year = periods_per_year(spec, config.periods_per_year)
        series = load_enough_closes(
            self._catalog, request, spec, self.name, config.min_returns + 1, "min_returns + 1"
        )
        variance = ewma_variance(series.log_returns(), config.lam)
        horizon_ns = _horizon_ns(
            series.ts_ns[: config.min_returns + 1], spec.interval_ns, config.horizon_bars
        )
        stamp = SignalStamp.for_series(self, request, {**asdict(config), "every": every}, series)
        signals = []
        for t in emission_indices(len(series), config.min_returns, every).tolist():
            v = float(variance[t - 1])
            if not v > 0:
                continue
            signals.append(
                stamp.signal(
                    ts_event=int(series.ts_ns[t]),
                    first_used_ns=int(series.ts_ns[0]),
                    value=VolatilityForecastValue(
                        annualized_volatility=float(np.sqrt(v * per_year)), horizon_ns=horizon_ns
                    ),
                    confidence=1.0 - config.lam**t,
                    metadata={"returns_seen": str(t)},
                )
            )
        return signals


class GarchVolatilityProducer:
    """GARCH(1,1) volatility forecasts every ``every`` bars (default 60)."""

    name = "garch_volatility"
    signal_type = SignalType.VOLATILITY_FORECAST
    source_model = "quantdesk.volatility.garch11"
    max_age_ns = 300_000_000_000
    latency_ns = DEFAULT_LATENCY_NS
    default_every = 60

    def __init__(
        self, catalog: MarketDataCatalog, fitter: GarchFitter, config: GarchConfig | None = None
    ) -> None:
        self._catalog = catalog
        self._fitter = fitter
        self._config = config or GarchConfig()
        self.model_version = f"1+{fitter.model_version}"

    def produce(self, request: ProduceRequest) -> list[AISignal]:
        config = self._config
        spec = request.spec()
        every = request.cadence(self.default_every)
        per_year = periods_per_year(spec, config.periods_per_year)
        first = config.min_fit_returns
        series = load_enough_closes(
            self._catalog, request, spec, self.name, first + 1, "min_fit_returns + 1"
        )
        returns = series.log_returns()
        horizon_ns = _horizon_ns(series.ts_ns[: first + 1], spec.interval_ns, config.horizon_bars)
        stamp = SignalStamp.for_series(self, request, {**asdict(config), "every": every}, series)
        signals = []
        fit: GarchFit | None = None
        fit_start = fit_end = filtered_to = 0
        variance = 0.0
        for k, t in enumerate(emission_indices(len(series), first, every).tolist()):
            last = t - 1  # the last return this signal may use ends at bar t
            if fit is None or k % config.refit_every == 0:
                fit_start = max(0, t - config.fit_window)
                fit = self._fitter.fit(returns[fit_start:t])
                variance, fit_end = fit.next_variance, last
            else:
                variance = garch_filter(fit, variance, returns[filtered_to + 1 : t])
            filtered_to = last
            mean_variance = float(np.mean(garch_term_variances(fit, variance, config.horizon_bars)))
            if not mean_variance > 0:
                continue
            n_fit = fit_end - fit_start + 1
            confidence = min(1.0, n_fit / config.fit_window)
            if not fit.converged:
                confidence *= 0.5
            if fit.alpha + fit.beta >= 1.0:
                confidence *= 0.5
            signals.append(
                stamp.signal(
                    ts_event=int(series.ts_ns[t]),
                    first_used_ns=int(series.ts_ns[fit_start]),
                    value=VolatilityForecastValue(
                        annualized_volatility=float(np.sqrt(mean_variance * per_year)),
                        horizon_ns=horizon_ns,
                    ),
                    confidence=confidence,
                    metadata={
                        "omega": f"{fit.omega:.9g}",
                        "alpha": f"{fit.alpha:.9g}",
                        "beta": f"{fit.beta:.9g}",
                        "converged": str(fit.converged).lower(),
                        "fitted_through_ns": str(int(series.ts_ns[fit_end + 1])),
                        "fit_returns": str(n_fit),
                    },
                )
            )
        return signals


def _horizon_ns(warmup_ts_ns: Int64Array, interval_ns: int | None, bars: int) -> int:
    """Horizon in ns: bars times the bar length, or for bars of no fixed length the median
    spacing of the warm-up bars (which precede every signal, so no later bar counts)."""
    if interval_ns is None:
        spacing = np.diff(warmup_ts_ns)
        interval_ns = int(np.median(spacing)) if spacing.shape[0] else 1
    return max(1, interval_ns * bars)
