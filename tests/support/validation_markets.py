"""Markets for the validation pipeline's acceptance tests, hourly bars (many days of daily
returns for the statistics at the engine cost of a few days of minute bars).

``trending``: log returns whose drift switches sign in long regimes (a trend follower's real
edge); ``random_walk``: independent returns without drift (nothing to find).
"""

import hashlib
from typing import Any

import numpy as np

from quantdesk.domain.market_data import BarSpec
from quantdesk.domain.strategies.definition import StrategyDefinition
from quantdesk.domain.strategies.problems import parse_definition
from quantdesk.domain.validation.policy import (
    BaselinesPolicy,
    MonteCarloPolicy,
    OverfittingPolicy,
    PeriodsPolicy,
    StressPolicy,
    ValidationPolicy,
    WalkForwardPolicy,
)
from quantdesk.services.columns import BarColumns, Float64Array, RawBarColumns
from quantdesk.services.platform import Platform
from quantdesk.services.synthetic import synthetic_instrument

HOUR_NS = 3_600_000_000_000
START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00Z
INSTRUMENT = "SYN01.SIM"
BAR_SPEC = "1-HOUR-LAST"


def trending_returns(bars: int, seed: int, drift: float, noise: float, regime: int) -> Float64Array:
    """Noise plus a drift of +-``drift`` that flips after geometric regimes of mean ``regime``."""
    rng = np.random.default_rng(seed)
    flips = rng.random(bars) < 1.0 / regime
    sign = np.where(np.cumsum(flips) % 2 == 0, 1.0, -1.0)
    out: Float64Array = sign * drift + noise * rng.standard_normal(bars)
    return out


def random_walk_returns(bars: int, seed: int, noise: float) -> Float64Array:
    out: Float64Array = noise * np.random.default_rng(seed).standard_normal(bars)
    return out


def ingest_returns(desk: Platform, returns: Float64Array, label: str, price: float = 100.0) -> None:
    """SYN01.SIM hourly bars whose closes follow ``returns`` (open: the previous close)."""
    close = np.round(price * np.exp(np.cumsum(returns)), 2)
    open_ = np.concatenate(([price], close[:-1]))
    wiggle = np.abs(returns) * 0.5 * close + 0.01
    bars = BarColumns(
        ts_ns=START_NS + HOUR_NS * np.arange(close.shape[0], dtype=np.int64),
        open=open_,
        high=np.round(np.maximum(open_, close) + wiggle, 2),
        low=np.round(np.minimum(open_, close) - wiggle, 2),
        close=close,
        volume=np.full(close.shape[0], 1_000.0),
    )
    instrument = synthetic_instrument(0)
    desk.instruments.add(instrument)
    desk.ingest.ingest_columns(
        RawBarColumns.from_bars(bars),
        instrument=instrument,
        bar_spec=BarSpec.parse(BAR_SPEC),
        source=f"tests: validation market {label}",
        source_sha256=hashlib.sha256(close.tobytes()).hexdigest(),
    )


QUICK_POLICY = ValidationPolicy(
    name="quick",
    description="the acceptance tests' policy: every step, few trials, default thresholds",
    seed=11,
    periods=PeriodsPolicy(periods=4),
    walk_forward=WalkForwardPolicy(windows=3, trials=6, in_sample_ratio=3.0),
    overfitting=OverfittingPolicy(configurations=8, groups=6, test_groups=2),
    monte_carlo=MonteCarloPolicy(samples=200),
    baselines=BaselinesPolicy(random_seeds=200, bootstrap_samples=1000),
    stress=StressPolicy(scenarios=["gap_down", "flash_crash", "wide_spread"]),
)
"""Each validation under it runs ~35 trials of 2,880 hourly bars (seconds, not minutes)."""


def definition(strategy_id: str, fast: int, slow: int, **fields: Any) -> StrategyDefinition:
    return parse_definition(
        {
            "strategy_id": strategy_id,
            "family": "trend_following",
            "name": strategy_id,
            "instruments": [INSTRUMENT],
            "bar_spec": BAR_SPEC,
            "parameters": {"fast_period": fast, "slow_period": slow, "trade_size": "10"},
            "risk": {"max_position": "10"},
            **fields,
        }
    )


def _ema(values: Float64Array, span: int) -> Float64Array:
    alpha = 2.0 / (span + 1.0)
    out = np.empty_like(values)
    out[0] = values[0]
    for i in range(1, values.shape[0]):
        out[i] = alpha * values[i] + (1 - alpha) * out[i - 1]
    return out


def best_of_random_grid(returns: Float64Array, points: int, seed: int) -> tuple[int, int]:
    """The EMA cross (fast, slow) with the best daily Sharpe among ``points`` random ones,
    by a plain numpy replay of the rule (long above, short below): an overfitting search."""
    close = 100.0 * np.exp(np.cumsum(returns))
    rng = np.random.default_rng(seed)
    best, chosen = -np.inf, (10, 50)
    cache: dict[int, Float64Array] = {}
    for _ in range(points):
        fast = int(rng.integers(2, 40))
        slow = int(rng.integers(fast + 1, 200))
        f = cache.setdefault(fast, _ema(close, fast))
        s = cache.setdefault(slow, _ema(close, slow))
        position = np.sign(f - s)[:-1]
        pnl = position * np.diff(close)
        daily = pnl[: pnl.shape[0] // 24 * 24].reshape(-1, 24).sum(axis=1)
        sharpe = daily.mean() / daily.std(ddof=1)
        if sharpe > best:
            best, chosen = sharpe, (fast, slow)
    return chosen
