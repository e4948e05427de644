"""The strategy families and their parameter models: types, bounds, defaults, descriptions.

Each family's model is the single source of truth for its parameters: the registry checks
definitions against it, translation maps it onto the family strategy's config field by field,
and ``parameter_schema(family)`` is its JSON schema (the CLI's ``strategy schema``, the UI's forms).
"""

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from quantdesk.domain.numbers import Quantity
from quantdesk.domain.text import (
    is_whole_match,
    shown,
)

_IMPORT_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*", re.ASCII)


_IMPORT_PATH_MAX_LENGTH = 300


class StrategyFamily(StrEnum):
    TREND_FOLLOWING = "trend_following"
    MEAN_REVERSION = "mean_reversion"
    MOMENTUM_ROTATION = "momentum_rotation"
    VOLATILITY_BREAKOUT = "volatility_breakout"
    STATISTICAL_ARBITRAGE = "statistical_arbitrage"
    REGIME_SWITCHING = "regime_switching"
    SENTIMENT_REACTION = "sentiment_reaction"
    EXECUTION = "execution"
    CUSTOM = "custom"


class StrategyParameters(BaseModel):
    """Base of every family's parameters: frozen, no unknown keys, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


_TradeSize = Field(description="order quantity per entry (instrument units)")


class TrendFollowingParameters(StrategyParameters):
    """Go with the trend: a fast moving average crossing a slow one."""

    fast_period: int = Field(default=10, ge=2, le=500, description="fast moving average (bars)")
    slow_period: int = Field(default=50, ge=3, le=2000, description="slow moving average (bars)")
    ma_type: Literal["ema", "sma", "wma", "hull"] = Field(
        default="ema", description="kind of moving average"
    )
    trade_size: Quantity = _TradeSize
    atr_stop_multiple: float | None = Field(
        default=None, ge=0.5, le=10, description="trailing stop in ATRs; none for no stop"
    )
    long_only: bool = Field(default=False, description="never go short")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast_period >= self.slow_period:
            raise ValueError(
                f"fast_period ({self.fast_period}) must be below slow_period ({self.slow_period})"
            )
        return self


class MeanReversionParameters(StrategyParameters):
    """Fade stretches: enter when price is far from its mean in z-score, exit near it."""

    lookback: int = Field(default=20, ge=5, le=1000, description="bars for mean and deviation")
    entry_zscore: float = Field(default=2.0, ge=0.5, le=5, description="|z| that opens")
    exit_zscore: float = Field(default=0.5, ge=0, le=3, description="|z| that closes")
    stop_zscore: float | None = Field(
        default=None, ge=1, le=10, description="|z| that stops out; none for no stop"
    )
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.exit_zscore >= self.entry_zscore:
            raise ValueError("exit_zscore must be below entry_zscore")
        if self.stop_zscore is not None and self.stop_zscore <= self.entry_zscore:
            raise ValueError("stop_zscore must be above entry_zscore")
        return self


class MomentumRotationParameters(StrategyParameters):
    """Hold the strongest instruments of a universe, re-ranked every few bars."""

    lookback: int = Field(default=1440, ge=10, le=100_000, description="bars of return ranked")
    rebalance_every: int = Field(default=60, ge=1, le=100_000, description="bars between ranks")
    top_n: int = Field(default=1, ge=1, le=50, description="how many instruments to hold")
    trade_size: Quantity = _TradeSize
    long_only: bool = Field(default=True, description="hold leaders only; no short laggards")


class VolatilityBreakoutParameters(StrategyParameters):
    """Enter when price leaves its recent channel by more than a multiple of the ATR."""

    channel_period: int = Field(default=20, ge=5, le=1000, description="Donchian channel (bars)")
    atr_period: int = Field(default=14, ge=2, le=500, description="average true range (bars)")
    breakout_atr_multiple: float = Field(
        default=0.5, ge=0, le=10, description="ATRs beyond the channel that confirm a breakout"
    )
    stop_atr_multiple: float = Field(default=2.0, gt=0, le=20, description="stop in ATRs")
    trade_size: Quantity = _TradeSize


class StatisticalArbitrageParameters(StrategyParameters):
    """Trade the spread of a pair (the definition's two instruments) back to its mean."""

    lookback: int = Field(default=240, ge=20, le=100_000, description="bars for spread stats")
    entry_zscore: float = Field(default=2.0, ge=0.5, le=5, description="|z| of spread that opens")
    exit_zscore: float = Field(default=0.5, ge=0, le=3, description="|z| that closes")
    hedge_ratio: Literal["ols", "fixed"] = Field(
        default="ols", description="rolling OLS estimate or a fixed ratio"
    )
    fixed_hedge_ratio: float | None = Field(
        default=None, gt=0, le=1000, description="units of leg 2 per unit of leg 1 (fixed only)"
    )
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.exit_zscore >= self.entry_zscore:
            raise ValueError("exit_zscore must be below entry_zscore")
        if (self.hedge_ratio == "fixed") != (self.fixed_hedge_ratio is not None):
            raise ValueError("fixed_hedge_ratio is required with hedge_ratio 'fixed' and only then")
        return self


class RegimeSwitchingParameters(StrategyParameters):
    """Follow trends in trending regimes, fade stretches in ranging ones, stand aside else."""

    regime_source: Literal["signal", "volatility"] = Field(
        default="signal", description="REGIME_PREDICTION signals or a realised-volatility rule"
    )
    min_confidence: float = Field(
        default=0.6, ge=0, le=1, description="ignore regime signals below this confidence"
    )
    trend_fast_period: int = Field(default=10, ge=2, le=500, description="trend regime: fast MA")
    trend_slow_period: int = Field(default=50, ge=3, le=2000, description="trend regime: slow MA")
    reversion_lookback: int = Field(default=20, ge=5, le=1000, description="range regime: bars")
    reversion_entry_zscore: float = Field(default=2.0, ge=0.5, le=5, description="range: |z|")
    volatility_lookback: int = Field(
        default=60, ge=10, le=10_000, description="bars of realised volatility (volatility only)"
    )
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.trend_fast_period >= self.trend_slow_period:
            raise ValueError("trend_fast_period must be below trend_slow_period")
        return self


class SentimentReactionParameters(StrategyParameters):
    """Trade on SENTIMENT signals strong and confident enough, hold for a while."""

    entry_threshold: float = Field(default=0.5, gt=0, le=1, description="|score| that opens")
    exit_threshold: float = Field(default=0.1, ge=0, le=1, description="|score| that closes")
    min_confidence: float = Field(default=0.6, ge=0, le=1, description="ignore signals below")
    max_holding_bars: int = Field(default=60, ge=1, le=100_000, description="close after (bars)")
    trade_size: Quantity = _TradeSize

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.exit_threshold >= self.entry_threshold:
            raise ValueError("exit_threshold must be below entry_threshold")
        return self


class ExecutionParameters(StrategyParameters):
    """Work a parent order over time (TWAP, VWAP or percent of volume)."""

    algorithm: Literal["twap", "vwap", "pov"] = Field(description="how the order is sliced")
    side: Literal["buy", "sell"] = Field(description="side of the parent order")
    total_quantity: Quantity = Field(description="parent order quantity")
    horizon_minutes: int = Field(default=60, ge=1, le=7200, description="time to complete")
    slice_interval_seconds: int = Field(default=60, ge=1, le=3600, description="between slices")
    participation_rate: float | None = Field(
        default=None, gt=0, le=0.5, description="share of traded volume (pov only)"
    )
    limit_offset_bps: float | None = Field(
        default=None, ge=0, le=1000, description="limit price offset from mid; none: market"
    )

    @model_validator(mode="after")
    def _pov_needs_rate(self) -> Self:
        if (self.algorithm == "pov") != (self.participation_rate is not None):
            raise ValueError("participation_rate is required with algorithm 'pov' and only then")
        return self


class CustomParameters(StrategyParameters):
    """A user's own NautilusTrader Strategy, imported by path, with a free-form config.

    ``config`` must satisfy ``config_schema`` (a JSON schema); the registry checks it with a
    JSON-schema validator before storing the definition (domain code imports no validator).
    """

    strategy_path: str = Field(description="module.path:StrategyClass (importable)")
    config_path: str = Field(description="module.path:StrategyConfigClass (importable)")
    config: dict[str, JsonValue] = Field(
        default_factory=dict, description="the config's values, checked against config_schema"
    )
    config_schema: dict[str, JsonValue] = Field(
        default_factory=lambda: _any_object(),
        description="JSON schema (draft 2020-12) that config must satisfy",
    )

    @field_validator("strategy_path", "config_path")
    @classmethod
    def _importable(cls, value: str) -> str:
        if len(value) > _IMPORT_PATH_MAX_LENGTH or not is_whole_match(_IMPORT_PATH, value):
            raise ValueError(
                f"{shown(value)} is not an import path of the form package.module:Class"
            )
        return value


def _any_object() -> dict[str, JsonValue]:
    return {"type": "object"}


PARAMETER_MODELS: Mapping[StrategyFamily, type[StrategyParameters]] = {
    StrategyFamily.TREND_FOLLOWING: TrendFollowingParameters,
    StrategyFamily.MEAN_REVERSION: MeanReversionParameters,
    StrategyFamily.MOMENTUM_ROTATION: MomentumRotationParameters,
    StrategyFamily.VOLATILITY_BREAKOUT: VolatilityBreakoutParameters,
    StrategyFamily.STATISTICAL_ARBITRAGE: StatisticalArbitrageParameters,
    StrategyFamily.REGIME_SWITCHING: RegimeSwitchingParameters,
    StrategyFamily.SENTIMENT_REACTION: SentimentReactionParameters,
    StrategyFamily.EXECUTION: ExecutionParameters,
    StrategyFamily.CUSTOM: CustomParameters,
}


FAMILY_NAMES = ", ".join(f.value for f in StrategyFamily)


def parameter_schema(family: StrategyFamily) -> dict[str, Any]:
    """The JSON schema of a family's parameters: types, bounds, defaults and descriptions."""
    return PARAMETER_MODELS[family].model_json_schema()
