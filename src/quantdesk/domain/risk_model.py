"""The risk layer's vocabulary: limits, an order's intent, the book, breaches and decisions.

Every amount is in the account's base currency (``risk_values`` says how each asset class is
valued). The rules that judge an order with them are ``risk.check_order``; everything here is
also importable from ``quantdesk.domain.risk``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from quantdesk.domain.instruments import AssetClass, validate_instrument_id
from quantdesk.domain.numbers import Fraction, Leverage, LimitAmount, Quantity
from quantdesk.domain.risk_values import AssetClassLimits

InstrumentId = Annotated[str, AfterValidator(validate_instrument_id)]
MAX_OPEN_ORDERS_LIMIT = 1_000_000
ALLOWED_INSTRUMENTS_MAX = 10_000


class TradingState(StrEnum):
    """NautilusTrader's trading states, as the risk layer sets them."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class RiskRule(StrEnum):
    TRADING_HALTED = "trading_halted"
    TRADING_REDUCING = "trading_reducing"
    INSTRUMENT_NOT_ALLOWED = "instrument_not_allowed"
    LONG_ONLY = "long_only"
    MAX_OPEN_ORDERS = "max_open_orders"
    MAX_DAILY_LOSS = "max_daily_loss"
    MAX_DAILY_LOSS_PCT = "max_daily_loss_pct"
    MAX_DRAWDOWN_PCT = "max_drawdown_pct"
    MAX_ORDER_QUANTITY = "max_order_quantity"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_POSITION = "max_position"
    MAX_GROSS_EXPOSURE = "max_gross_exposure"
    MAX_NET_EXPOSURE = "max_net_exposure"
    MAX_LEVERAGE = "max_leverage"
    BELOW_MIN_QUANTITY = "below_min_quantity"
    INSTRUMENT_NOT_ACTIVE = "instrument_not_active"  # a dated contract before its activation
    INSTRUMENT_EXPIRED = "instrument_expired"  # a dated contract after its expiration


class RiskAction(StrEnum):
    APPROVE = "approve"
    REDUCE = "reduce"
    DENY = "deny"


class _Limits(BaseModel):
    """Limits shared by a strategy's constraints and the portfolio's; None means no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_position: Quantity | None = Field(
        default=None, description="largest absolute position per instrument (units)"
    )
    max_order_quantity: Quantity | None = None
    max_order_notional: LimitAmount | None = Field(
        default=None,
        description="largest |quantity x unit value| of one order (account base currency; "
        "a future's unit value is price x multiplier, an option's its delta-adjusted notional)",
    )
    max_open_orders: int | None = Field(default=None, gt=0, le=MAX_OPEN_ORDERS_LIMIT)
    max_daily_loss: LimitAmount | None = Field(
        default=None, description="loss since start of day (account base currency)"
    )
    max_daily_loss_pct: Fraction | None = Field(
        default=None, description="loss since start of day / start-of-day equity"
    )
    max_drawdown_pct: Fraction | None = Field(
        default=None, description="fall from the high-water mark / high-water mark"
    )
    allowed_instruments: frozenset[InstrumentId] | None = Field(
        default=None, max_length=ALLOWED_INSTRUMENTS_MAX
    )
    long_only: bool = False
    allow_reduce: bool = Field(
        default=True, description="shrink an order to fit instead of denying it"
    )


class RiskConstraints(_Limits):
    """One strategy's limits (positions, orders and losses are that strategy's own)."""


class RiskLimits(_Limits):
    """The portfolio's limits, over every strategy together."""

    max_gross_exposure: LimitAmount | None = Field(
        default=None,
        description="sum of |net position x unit value| over every instrument (account base "
        "currency; unit value: price x multiplier x rate, an option's delta-adjusted notional)",
    )
    max_net_exposure: LimitAmount | None = Field(
        default=None,
        description="|sum of net position x unit value| (account base currency)",
    )
    max_leverage: Leverage | None = Field(
        default=None, description="gross exposure / equity, both in the account base currency"
    )
    asset_classes: dict[AssetClass, AssetClassLimits] = Field(
        default_factory=dict,
        max_length=len(AssetClass),
        description="per asset class: limits over that class's instruments beside the "
        "portfolio's (account base currency)",
    )

    @model_serializer(mode="wrap")
    def _without_empty_classes(self, handler: SerializerFunctionWrapHandler) -> object:
        """No per-class limits: the document (and its hash, a run's fingerprint) is what it
        was before per-class limits existed."""
        document = handler(self)
        if isinstance(document, dict) and not self.asset_classes:
            document.pop("asset_classes", None)
        return document


_NO_CONSTRAINTS = RiskConstraints()  # immutable: safe to share, saves a validation per order
_NO_LIMITS = RiskLimits()


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a strategy wants to do, before anything is sent (built per order: kept light).

    ``unit_value``: base-currency exposure one unit bought adds (``risk_values``: price x
    multiplier x rate, an option's delta-adjusted notional, signed); None: ``price`` (an
    instrument in the base currency with a multiplier of 1). ``premium``: an option's price
    per unit in the base currency (0 otherwise). ``asset_class``: None puts the order in no
    class, so no per-class limit applies to it.
    """

    strategy_id: str
    instrument_id: str
    side: int  # +1 buy, -1 sell
    quantity: Decimal
    price: Decimal  # reference price (quote currency) the unit value was taken at
    size_increment: Decimal = Decimal(1)
    ts_ns: int = 0
    signal_id: str | None = None
    unit_value: Decimal | None = None
    premium: Decimal = Decimal(0)
    asset_class: AssetClass | None = None

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError("side must be +1 (buy) or -1 (sell)")
        if self.quantity <= 0 or self.price <= 0 or self.size_increment <= 0:
            raise ValueError("quantity, price and size increment must be positive")

    @property
    def exposure_per_unit(self) -> Decimal:
        """Signed base-currency exposure of one unit bought."""
        return self.price if self.unit_value is None else self.unit_value


@dataclass(frozen=True, slots=True)
class RiskState:
    """The book as the gate sees it at one moment: positions, values, equity, states.

    Every amount is in the account's base currency. ``unit_values``: instrument -> signed
    base-currency exposure per unit held (``risk_values``); an instrument missing there is
    valued at its ``prices`` mark (base currency, multiplier 1), one with neither at 0.
    ``asset_classes``: instrument -> its class, for the per-class limits. ``premiums``:
    option -> its price per unit in the base currency (the premium at risk).
    """

    equity: Decimal
    start_of_day_equity: Decimal
    high_water_mark: Decimal
    strategy_equity_change_today: Mapping[str, Decimal] = field(default_factory=dict)
    strategy_drawdown_pct: Mapping[str, Decimal] = field(default_factory=dict)
    positions: Mapping[str, Mapping[str, Decimal]] = field(
        default_factory=dict
    )  # strategy -> instrument -> signed quantity
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # instrument -> mark
    open_orders: Mapping[str, int] = field(default_factory=dict)  # strategy -> count
    portfolio_state: TradingState = TradingState.ACTIVE
    strategy_states: Mapping[str, TradingState] = field(default_factory=dict)
    instrument_states: Mapping[str, TradingState] = field(default_factory=dict)
    unit_values: Mapping[str, Decimal] = field(default_factory=dict)
    asset_classes: Mapping[str, AssetClass] = field(default_factory=dict)
    premiums: Mapping[str, Decimal] = field(default_factory=dict)

    def strategy_position(self, strategy_id: str, instrument_id: str) -> Decimal:
        return self.positions.get(strategy_id, {}).get(instrument_id, Decimal(0))

    def net_position(self, instrument_id: str) -> Decimal:
        return sum(
            (book.get(instrument_id, Decimal(0)) for book in self.positions.values()), Decimal(0)
        )

    def unit_value(self, instrument_id: str) -> Decimal:
        value = self.unit_values.get(instrument_id)
        return value if value is not None else self.prices.get(instrument_id, Decimal(0))

    def exposures(self) -> dict[str, Decimal]:
        """instrument -> net position x unit value (base currency)."""
        instruments = {i for book in self.positions.values() for i in book}
        return {i: self.net_position(i) * self.unit_value(i) for i in instruments}

    def premium_at_risk(self) -> Decimal:
        """Sum over the options held of |net position| x premium per unit (base currency)."""
        return sum((abs(self.net_position(i)) * p for i, p in self.premiums.items()), Decimal(0))


@dataclass(frozen=True, slots=True)
class Breach:
    rule: RiskRule
    scope: str  # "portfolio" or the strategy id
    limit: str
    value: str
    detail: str


@dataclass(frozen=True, slots=True)
class RiskDecision:
    action: RiskAction
    quantity: Decimal
    breaches: list[Breach]

    @property
    def approved(self) -> bool:
        return self.action is not RiskAction.DENY


def reduces_risk(current: Decimal, side: int, quantity: Decimal) -> bool:
    """True when the order moves a position toward zero without crossing it."""
    after = current + side * quantity
    return (
        current != 0 and abs(after) < abs(current) and (after == 0 or (after > 0) == (current > 0))
    )
