"""Daily series of trial outcomes: what every statistical step reads from a trial.

An outcome keeps each UTC day's last equity mark (``daily_ts``/``daily_equity``); its daily
returns are computed here exactly as ``performance.daily_returns`` computes a run's (the
first day against the starting equity), so a step's Sharpe of one trial equals the trial's
own metrics. Curves shown in a report are thinned to ``SERIES_POINTS_MAX`` points.
"""

import math
from collections.abc import Sequence

import numpy as np

from quantdesk.domain.trials import TrialOutcome
from quantdesk.domain.validation.report import SERIES_POINTS_MAX, Series
from quantdesk.services.columns import Float64Array, Int64Array
from quantdesk.services.performance import DAY_NS

DEFAULT_PERIODS_PER_YEAR = 252.0


def daily_returns(outcome: TrialOutcome) -> tuple[Int64Array, Float64Array]:
    """(UTC day index, return) per day with data; empty for a failed trial."""
    if not outcome.ok or not outcome.daily_equity or outcome.start_equity <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    equity = np.asarray(outcome.daily_equity, np.float64)
    previous = np.concatenate(([outcome.start_equity], equity[:-1]))
    days = np.asarray(outcome.daily_ts, np.int64) // DAY_NS
    returns: Float64Array = equity / previous - 1.0
    return days, returns


def annual_sharpe(returns: Float64Array, periods_per_year: float) -> float | None:
    """Mean over standard deviation (ddof=1) of daily returns, annualised; None without
    two returns or without variance."""
    if returns.shape[0] < 2:
        return None
    std = float(np.std(returns, ddof=1))
    if not std > 0 or not math.isfinite(std):
        return None
    return float(np.mean(returns)) / std * math.sqrt(periods_per_year)


def total_return(returns: Float64Array) -> float | None:
    if returns.shape[0] == 0:
        return None
    return float(np.prod(1.0 + returns) - 1.0)


def max_drawdown(equity: Float64Array) -> float:
    """The deepest fall from a running peak, as a negative fraction (0: never fell)."""
    if equity.shape[0] == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.min(equity / peak - 1.0))


def chained(pieces: Sequence[TrialOutcome], start_equity: float) -> tuple[list[int], Float64Array]:
    """The outcomes' daily returns one after the other as one equity curve from
    ``start_equity`` (days stamped by each piece's own marks): a stitched OOS curve."""
    stamps: list[int] = []
    parts: list[Float64Array] = []
    for outcome in pieces:
        _, returns = daily_returns(outcome)
        if returns.shape[0] == 0:
            continue
        stamps.extend(outcome.daily_ts)
        parts.append(returns)
    if not parts:
        return [], np.empty(0, np.float64)
    returns = np.concatenate(parts)
    return stamps, returns


def equity_series(stamps: Sequence[int], returns: Float64Array, start_equity: float) -> Series:
    """``(ts, equity)`` chained from ``start_equity``, thinned for the report."""
    equity = start_equity * np.cumprod(1.0 + returns)
    return thin([(int(t), float(e)) for t, e in zip(stamps, equity, strict=True)])


def thin(points: Series, limit: int = SERIES_POINTS_MAX) -> Series:
    """At most ``limit`` points, evenly picked, first and last kept."""
    if len(points) <= limit:
        return points
    picks = np.unique(np.linspace(0, len(points) - 1, limit).round().astype(np.int64))
    return [points[int(i)] for i in picks]


def returns_matrix(outcomes: Sequence[TrialOutcome]) -> tuple[Int64Array, Float64Array]:
    """Days x trials daily returns on the union of the trials' days (a day a trial has no
    mark is a 0 return: its equity did not move). Failed trials are left out by the caller."""
    series = [daily_returns(o) for o in outcomes]
    all_days = np.unique(np.concatenate([d for d, _ in series])) if series else np.empty(0)
    matrix = np.zeros((all_days.shape[0], len(series)), np.float64)
    for column, (days, returns) in enumerate(series):
        rows = np.searchsorted(all_days, days)
        matrix[rows, column] = returns
    return all_days.astype(np.int64), matrix


def periods_per_year(outcome: TrialOutcome) -> float:
    """The trial's own annualisation (days with data per year), 252 when it has none."""
    ppy = None if outcome.metrics is None else outcome.metrics.periods_per_year
    return float(ppy) if ppy is not None and ppy > 0 else DEFAULT_PERIODS_PER_YEAR
