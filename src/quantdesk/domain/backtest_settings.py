"""How a backtest runs, apart from what it runs: venues (accounts, fees, fill conventions,
liquidity), the engine's options, and a strategy as the engine imports it (``StrategySpec``,
what translation makes of a registry version). Re-exported by :mod:`quantdesk.domain.backtest`.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantdesk.domain.backtest_checks import (
    CHUNK_SIZE_MAX,
    PATH_MAX_LENGTH,
    PURGE_MINUTES_MAX,
    Spread,
    check_config_values,
)
from quantdesk.domain.instruments import Currency
from quantdesk.domain.numbers import FeeRate, Leverage, Money


class OmsType(StrEnum):
    NETTING = "NETTING"
    HEDGING = "HEDGING"


class AccountType(StrEnum):
    CASH = "CASH"
    MARGIN = "MARGIN"


class FillModelSpec(BaseModel):
    """The engine's probabilistic fill model; its random draws are seeded by the request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prob_fill_on_limit: float = Field(default=1.0, ge=0, le=1)
    prob_slippage: float = Field(default=0.0, ge=0, le=1)


class Liquidity(StrEnum):
    """How much of a market order a bar can fill at its price.

    ``volume``: the engine's bar execution, at most ``max(volume / 4, size increment)`` at the
    bar's price and the rest one tick worse (split fills, reported with their slippage);
    ``unlimited``: the whole order at the bar's price (bid/ask for quote bars).
    """

    VOLUME = "volume"
    UNLIMITED = "unlimited"


class VenueSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="SIM", pattern=r"^[A-Za-z0-9_\-]+$", max_length=100)
    oms_type: OmsType = OmsType.NETTING
    account_type: AccountType = AccountType.MARGIN
    base_currency: Currency = "USD"
    starting_balance: Money = Decimal(1_000_000)
    default_leverage: Leverage = Decimal(1)
    maker_fee: FeeRate | None = Field(
        default=None,
        description="fee rate for makers (negative: a rebate); None keeps each instrument's own",
    )
    taker_fee: FeeRate | None = Field(
        default=None, description="fee rate for takers; None keeps each instrument's own"
    )
    fill_model: FillModelSpec = Field(default_factory=FillModelSpec)
    liquidity: Liquidity = Field(
        default=Liquidity.VOLUME,
        description="volume: fills limited by bar volume, the rest a tick worse; "
        "unlimited: the whole order at the bar's price",
    )
    bar_spread: Spread | None = Field(
        default=None,
        description="for BID or ASK bars: the other side of the market is the bars shifted "
        "by this spread (price units); without it single-sided bars make no market",
    )
    fill_at: Literal["close", "next_open"] = Field(
        default="close",
        description="when a market order decided on a bar fills: close, at that bar's close; "
        "next_open, at the next bar's open (as backtesting.py and zipline)",
    )
    commission_per_unit: Money | None = Field(
        default=None,
        description="commission per unit of quantity on each fill (venue currency), "
        "added to the fee rates' share of notional",
    )


class StrategySpec(BaseModel):
    """A NautilusTrader strategy by import path and its config, as the engine decodes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy_path: str = Field(pattern=r"^[\w.]+:\w+$", max_length=PATH_MAX_LENGTH)
    config_path: str = Field(pattern=r"^[\w.]+:\w+$", max_length=PATH_MAX_LENGTH)
    config: dict[str, Any]

    @field_validator("config")
    @classmethod
    def _check_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_config_values(value)


class EngineOptions(BaseModel):
    """How to run the engine; none of these change results, so none enter the fingerprint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    chunk_size: int | None = Field(
        default=100_000,
        gt=0,
        le=CHUNK_SIZE_MAX,
        description="bars per streamed chunk; None loads all at once",
    )
    purge_interval_minutes: int = Field(
        default=60,
        gt=0,
        le=PURGE_MINUTES_MAX,
        description="simulated minutes between purges of closed orders",
    )
    log_level: str = Field(default="ERROR", pattern=r"^(DEBUG|INFO|WARNING|ERROR|OFF)$")
    purge: bool = Field(default=True, description="purge closed orders (off only to compare)")
